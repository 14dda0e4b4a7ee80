"""TUI benchmark: time from app start to the first render of a room holding N messages, and peak memory.

    python bench/tui_open.py --n 100000

Builds a home whose "general" room holds at least N messages (``meshchat.testing.synthetic_history``,
stored through ``Store.accept_batch``), then starts the app in a fresh process, headless at 120x40, and
times from creating the app to the moment the message list draws its first line of that room (the node
opened, trio started, the newest page read and laid out). Peak memory is that process's maximum resident
size. Last line: ``open_s=<seconds> peak_mb=<MB>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSTS_SHARE = 0.88  # synthetic_history writes about 91% posts; ask for a little more than needed


def build_home(home: Path, messages: int) -> int:
    """A home for the founder of a synthetic team whose general room holds at least ``messages`` posts."""
    from meshchat.identity import save_identity
    from meshchat.profile import Profile
    from meshchat.store import Store
    from meshchat.testing import synthetic_history

    team = synthetic_history(int(messages / POSTS_SHARE) + 100)
    entries = sorted(team.all_entries(), key=lambda e: e.clock)
    home.mkdir(parents=True)
    save_identity(team.founder.identity, home / "identity.key")
    store = Store.create(home / "meshchat.db", team.team_id)
    store.set_meta("team_name", "Bench")
    store.set_meta("network_key", bytes(32))
    for i in range(0, len(entries), 5000):
        store.accept_batch([e.raw for e in entries[i : i + 5000]])
    store.checkpoint()
    store.close()
    with Profile.open(home) as profile:
        return profile.views.message_count(team.room)


def open_app(home: Path, size: tuple[int, int]) -> None:
    """Child process: start the app and time it (imports are timed apart)."""
    started = time.perf_counter()
    import asyncio

    from tui.app import MeshchatApp
    from tui.widgets.chat.message_list import MessageList

    imported = time.perf_counter()
    first_render: list[float] = []
    original = MessageList.render_line

    def render_line(self: MessageList, y: int):  # type: ignore[no-untyped-def]
        if self.window and not first_render:
            first_render.append(time.perf_counter())
            self.app.call_later(self.app.exit)
        return original(self, y)

    MessageList.render_line = render_line  # type: ignore[method-assign]
    app = MeshchatApp(home)
    app_start = time.perf_counter()
    asyncio.run(app.run_async(headless=True, size=size))
    if not first_render:
        sys.exit("the room never rendered")
    peak_mb = peak_rss_mb()
    print(f"import_s={imported - started:.3f} open_s={first_render[0] - app_start:.3f} peak_mb={peak_mb:.0f}")


def peak_rss_mb() -> float:
    """This process's peak resident size. (Not ``ru_maxrss``: on Linux it keeps the peak of the parent's
    forked image across exec, i.e. of the process that built the history.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: ru_maxrss is honest there


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="messages in the room (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="app starts to time (the best is reported)")
    parser.add_argument("--open", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    size = (120, 40)
    if args.open is not None:
        open_app(args.open, size)
        return
    work = Path(tempfile.mkdtemp(prefix="meshchat-tui-bench-"))
    try:
        measure(work / "home", args.n, args.runs, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(home: Path, n: int, runs: int, size: tuple[int, int]) -> None:
    print(f"building a room of {n} messages ...", flush=True)
    started = time.perf_counter()
    count = build_home(home, n)
    size_mb = sum(p.stat().st_size for p in home.glob("meshchat.db*")) / 1e6
    print(f"  {count} messages in the room, store {size_mb:.0f} MB, built in {time.perf_counter() - started:.1f} s")
    assert count >= n, f"only {count} messages"
    results = []
    for run in range(runs):
        env = {**os.environ, "TEXTUAL": ""}
        out = subprocess.run(
            [sys.executable, __file__, "--open", str(home)], capture_output=True, text=True, env=env, check=False
        )
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        if out.returncode != 0 or not line.startswith("import_s="):
            sys.exit(f"run {run + 1} failed:\n{out.stdout}\n{out.stderr}")
        fields = dict(part.split("=") for part in line.split())
        results.append({k: float(v) for k, v in fields.items()})
        print(f"  run {run + 1}: {line}")
    best = min(results, key=lambda r: r["open_s"])
    peak = max(r["peak_mb"] for r in results)
    print(f"python + textual imports: {best['import_s']:.3f} s (before the clock starts)")
    print(f"open_s={best['open_s']:.3f} peak_mb={peak:.0f}")


if __name__ == "__main__":
    main()
