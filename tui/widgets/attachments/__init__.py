"""Attachments in the chat: the lines under a message that name its files, their previews, and path fields."""
