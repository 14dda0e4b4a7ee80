"""What a ``lab_node.py`` process prints about itself (one JSON object a line), read as it comes.

``blobs.py`` and ``slowlink.py`` time messages from just before a node posted them: :class:`Posts` keeps, for
each text a node posted, the wall-clock time it printed, and says when the node is up.
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any


class Posts:
    """A node's posts (text -> wall time just before the post), read from its stdout in a thread."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.posted: dict[str, float] = {}
        self.up = threading.Event()  # the node printed {"up": ...}: it listens
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            event: dict[str, Any] = json.loads(line)
            if "up" in event:
                self.up.set()
            if "posted" in event:
                self.posted[event["posted"]] = float(event["wall"])
