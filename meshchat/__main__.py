"""``python -m meshchat``: the same as the ``meshchat`` command."""

import sys

from meshchat.cli.main import main

sys.exit(main())
