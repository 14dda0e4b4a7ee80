"""Signed ``heads`` entries: a member's statement of which entries it holds.

A hash chain proves that nothing is missing *inside* an author's log, not that its tail is there: an export
that stops at #120 of a log that went on to #130 still verifies. So nodes write ``heads {heads: {author:
[seq, id]}}`` entries now and then, and always before an export or a bundle; the verifier checks that every
id any of them names is present. To drop a tail unnoticed, one would have to drop every heads entry of every
member that saw it, which breaks those members' chains instead.
"""

from __future__ import annotations

from meshchat.log.codec import Value
from meshchat.log.entry import Entry
from meshchat.profile import Profile
from meshchat.store import Store

AUTHORS_PER_ENTRY = 200  # keeps a heads entry far below the 64 KiB entry limit (~75 bytes per author)
HEADS_INTERVAL_MS = 60 * 60 * 1000
_LAST_HEADS_KEY = "heads.last_written_ms"
_LAST_ROWID_KEY = "heads.last_rowid"


def heads_bodies(store: Store) -> list[dict[str, Value]]:
    """``heads`` bodies naming what the store holds and may pass on (a removed author only up to the cut)."""
    named: dict[bytes, Value] = {}
    heads = store.heads()
    for author, seq in sorted(store.frontier().items()):
        if seq < 1:
            continue
        head = heads[author]
        if seq == head.seq:
            named[author] = [seq, head.id]
        else:
            entry = store.entry(author, seq)
            if entry is not None:
                named[author] = [seq, entry.id]
    keys = list(named)
    return [
        {"heads": {k: named[k] for k in keys[i : i + AUTHORS_PER_ENTRY]}}
        for i in range(0, len(keys), AUTHORS_PER_ENTRY)
    ]


def write_heads(profile: Profile, *, now: int | None = None) -> list[Entry]:
    """Sign heads entries for what this node holds. A node that is not a member (an HQ archive) writes none:
    its entries would have no place in the team's log."""
    if profile.store.membership.role_of(profile.me) is None:
        return []
    written = [profile.write("heads", body) for body in heads_bodies(profile.store)]
    if written:
        profile.store.set_local(_LAST_HEADS_KEY, str(written[-1].clock if now is None else now).encode())
    return written


def write_heads_if_due(profile: Profile, *, now: int, interval_ms: int = HEADS_INTERVAL_MS) -> list[Entry]:
    """What a running node calls now and then: a heads entry at most every ``interval_ms``, and only when
    the log moved since the last one."""
    last = profile.store.get_local(_LAST_HEADS_KEY)
    if last is not None and now - int(last) < interval_ms:
        return []
    if last is not None and profile.store.last_rowid() == _rowid_at_last(profile):
        return []
    written = write_heads(profile, now=now)
    profile.store.set_local(_LAST_ROWID_KEY, str(profile.store.last_rowid()).encode())
    return written


def _rowid_at_last(profile: Profile) -> int:
    value = profile.store.get_local(_LAST_ROWID_KEY)
    return int(value) if value else -1
