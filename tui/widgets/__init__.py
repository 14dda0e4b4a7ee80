"""Widgets grouped by area: ``chat/`` (rooms, messages, composer), ``incidents/``, ``checkins/``, ``peers/``,
and ``chrome.py`` (the navigation bar, fork banner and status bar every screen shows)."""
