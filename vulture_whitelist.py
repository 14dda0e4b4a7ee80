"""Names vulture (``make lint``) takes for unused that are used, each with the reason: a framework or protocol
calls them by name, or they are data read from outside Python. Anything else vulture finds is dead: remove it.
Conventions every module follows (Textual's ``on_*``/``action_*``, pytest's fixtures) are in pyproject.toml."""

# ruff: noqa
# fmt: off

_.MAX_IMAGE_PIXELS  # meshchat/blobs/images.py: Pillow's own limit, set on PIL.Image
_.held_id  # meshchat/log/views.py HeldRow: a view table's column, written by the INSERT built from its fields
service_type  # meshchat/net/discovery.py: zeroconf calls service handlers with this keyword
_.gpsd_lines  # meshchat/gps.py: overrides gpsdclient.GPSDClient's reader, which the library calls
_.writable  # meshchat/terminal.py: io.TextIOBase protocol of the guarded streams
_.wait_send_all_might_not_block  # meshchat/testing.py: trio.abc.SendStream protocol of the memory streams
_.handle_starttag  # tests/export_support.py: html.parser.HTMLParser calls it
_.handle_data  # tests/export_support.py: html.parser.HTMLParser calls it
tb  # tests/netlab.py: __exit__'s signature
_.cursor_blink  # tests/tui/test_tui_snapshots.py: Textual's Input reads it (a still cursor for snapshots)
markup  # tui/app.py: App.notify's signature, which MeshchatApp.notify overrides
_.cursor_position  # tui/screens/files.py, tui/widgets/attachments/paths.py: Textual's Input reads it
_.get_suggestion  # tui/widgets/attachments/paths.py: Textual's Suggester calls it
_.COMPONENT_CLASSES  # tui/widgets/chat/message_list.py: Textual reads it for the widget's styles
