"""The chat area: the room list, the (windowed) message list and the composer."""
