"""The Textual terminal UI. It knows meshchat only through ``meshchat.node``'s public API and events."""
