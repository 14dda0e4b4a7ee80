"""The JSON shape of everything a reading command shows with ``--json`` (docs/cli.md, "JSON output").

One function per thing, used by every command that shows it, so a message is the same object in ``log``,
``pending`` and ``log --follow``. Conventions: keys and ids are whole lowercase hex; a time is ``clock`` (ms
since 1970, UTC, as the log holds it) with ``time`` beside it (the same instant, ISO 8601 in local time with its
offset); text is as the member wrote it (JSON escapes it: ``say_json`` writes ASCII only); absent is ``null``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from meshchat.log.codec import Value
from meshchat.log.rules import Invite, Member
from meshchat.log.views import Checkin, FieldChange, Message, Room, TrackedObject
from meshchat.store.queries import SearchHit

if TYPE_CHECKING:  # the network and the HQ archive are not imported for a command that reads a room
    from meshchat.events import PeerStatus
    from meshchat.export.archive import TeamStore, Verification

JSON = dict[str, Any]
NameOf = Callable[[bytes], str]


def iso_time(clock_ms: int) -> str:
    """``2026-11-25T08:10:42.000+01:00``: local time, with its offset, to the millisecond."""
    return datetime.fromtimestamp(clock_ms / 1000).astimezone().isoformat(timespec="milliseconds")


def _hex(blob: bytes | None) -> str | None:
    return blob.hex() if blob is not None else None


def _when(clock_ms: int | None) -> JSON:
    return {"clock": clock_ms, "time": iso_time(clock_ms) if clock_ms is not None else None}


def value(v: Value) -> Any:
    """A register value (incident and task fields) as JSON: ids as hex, maps and lists kept."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value(x) for x in v]
    return v


def message(msg: Message, name_of: NameOf, room_name: str) -> JSON:
    return {
        "id": msg.id.hex(),
        "room": msg.room.hex(),
        "room_name": room_name,
        "author": msg.author.hex(),
        "author_name": name_of(msg.author),
        "seq": msg.seq,
        **_when(msg.clock),
        "claimed": _when(msg.claimed_clock),
        "received": _when(msg.received) if msg.received is not None else None,
        "text": msg.text,
        "priority": msg.priority,
        "flash": msg.is_flash,
        "ack_required": msg.ack_required,
        "acked_by": [k.hex() for k in msg.acked_by],
        "pinned": msg.pinned,
        "retracted": msg.retracted,
        "reply_to": _hex(msg.reply_to),
        "location": value(msg.location),
        "files": [
            {
                "blob": f.blob.hex(),
                "size": f.size,
                "name": f.name,
                "type": f.type,
                "width": f.width,
                "height": f.height,
                "thumbnail": f.thumb is not None,
            }
            for f in msg.files
        ],
    }


def room(r: Room, name_of: NameOf, messages: int) -> JSON:
    return {
        "id": r.room.hex(),
        "name": r.name,
        "topic": r.topic,
        "archived": r.archived,
        "created_by": r.created_by.hex(),
        "created_by_name": name_of(r.created_by),
        **_when(r.clock),
        "messages": messages,
    }


def member(m: Member) -> JSON:
    return {
        "key": m.key.hex(),
        "name": m.name,
        "callsign": m.callsign,
        "role": m.role.label if m.role is not None else None,
        "removed_upto": m.removed_upto,
        "added_by": _hex(m.added_by),
    }


def _change(change: FieldChange, name_of: NameOf) -> JSON:
    return {
        "field": change.name,
        "value": value(change.value),
        "by": change.author.hex(),
        "by_name": name_of(change.author),
        **_when(change.clock),
    }


def tracked(obj: TrackedObject, name_of: NameOf, fields: tuple[str, ...]) -> JSON:
    """An incident or a task: its id, its fields now (last writer wins), who opened it, the last change."""
    return {
        "id": obj.obj.hex(),
        **{name: value(obj.get(name)) for name in fields},
        "opened_by": obj.opened_by.hex(),
        "opened_by_name": name_of(obj.opened_by),
        "opened": _when(obj.opened_clock),
        "last_change": _change(obj.last_change, name_of),
    }


INCIDENT_FIELDS = ("title", "severity", "status", "commander", "location", "summary")
TASK_FIELDS = ("title", "status", "owner")


def incident(obj: TrackedObject, name_of: NameOf) -> JSON:
    return {**tracked(obj, name_of, INCIDENT_FIELDS), "room": _hex(obj.parent)}


def task(obj: TrackedObject, name_of: NameOf) -> JSON:
    owner = obj.get("owner")
    return {
        **tracked(obj, name_of, TASK_FIELDS),
        "owner_name": name_of(owner) if isinstance(owner, bytes) else None,
        "incident": _hex(obj.parent),
    }


def incident_detail(obj: TrackedObject, name_of: NameOf, tasks: list[TrackedObject]) -> JSON:
    return {
        **incident(obj, name_of),
        "history": [_change(c, name_of) for c in obj.history],
        "tasks": [task(t, name_of) for t in tasks],
    }


def checkin(c: Checkin, name_of: NameOf) -> JSON:
    return {
        "id": c.checkin.hex(),
        "room": c.room.hex(),
        "question": c.question,
        "deadline": _when(c.deadline) if c.deadline is not None else None,
        "requested_by": c.requested_by.hex(),
        "requested_by_name": name_of(c.requested_by),
        **_when(c.clock),
        "replies": [
            {"member": k.hex(), "name": name_of(k), "status": r.status, "note": r.note, **_when(r.clock)}
            for k, r in sorted(c.replies.items())
        ],
        "missing": [{"member": k.hex(), "name": name_of(k)} for k in c.missing],
    }


def invite(i: Invite, state: str, name_of: NameOf) -> JSON:
    return {
        "id": i.invite_pk.hex()[:8],
        "invite_key": i.invite_pk.hex(),
        "role": i.role.label,
        "state": state,
        "expires": _when(i.expires),
        "issuer": i.issuer.hex(),
        "issuer_name": name_of(i.issuer),
        "used_by": _hex(i.used_by),
        "used": _when(i.used_at.clock) if i.used_at is not None else None,
        "revoked_by": _hex(i.revoked_by),
    }


def peer(p: PeerStatus) -> JSON:
    return {
        "address": p.peer.address,
        "found_by": p.peer.found_by,
        "key": _hex(p.peer.key),
        "state": p.state,
        "why": p.why,
        "entries_in": p.entries_in,
        "entries_out": p.entries_out,
        "duplicates_in": p.duplicates_in,
        "bytes_in": p.bytes_in,
        "bytes_out": p.bytes_out,
        "last_sync": _when(p.last_sync_ms) if p.last_sync_ms is not None else None,
        "error": p.error,
    }


def team(t: TeamStore, verification: Verification | None) -> JSON:
    """A team whose log an HQ archive (or a member's home) holds, and how its imports verified."""
    from meshchat.export.archive import Verification

    v = verification or Verification()
    return {
        "team": t.team_id.hex(),
        "name": t.name,
        "entries": t.entries,
        "path": str(t.path),
        "verification": {
            "exports": v.exports,
            "failed": v.failed,
            "bundles": v.bundles,
            "last_import": v.last or None,
            "text": v.text,
        },
    }


def search_hit(hit: SearchHit, name_of: NameOf, rooms: dict[bytes, str]) -> JSON:
    """A search result: ``{"kind": "message", "message": message}`` or ``{"kind": "incident", "incident":
    incident}`` (``task`` alike), with ``whole_words``: whether every word matched a whole word."""
    if hit.message is not None:
        found = message(hit.message, name_of, rooms.get(hit.message.room, ""))
    else:
        assert hit.obj is not None
        found = incident(hit.obj, name_of) if hit.kind == "incident" else task(hit.obj, name_of)
    return {"kind": hit.kind, hit.kind: found, "whole_words": hit.whole_words}
