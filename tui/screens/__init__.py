"""Screens: one per area (chat, incidents, check-ins, peers), the welcome screen for a first run, and small
modal forms. Each screen has its own ``.tcss`` beside it."""
