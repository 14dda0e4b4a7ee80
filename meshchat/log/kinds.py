"""Entry kinds and the fields of their bodies.

One table says what each kind carries. :func:`build_body` checks a body we are about to sign (a clear error
for the user); :func:`parse_body` reads one from the log. A body that does not fit its kind is kept in the log
(its chain must stay whole, and a newer version may have written it) but has no effect on any view.
Unknown fields are ignored and unknown kinds are stored and replicated but not shown, so newer versions can
add both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from meshchat.log.attachments import is_file_list
from meshchat.log.codec import Value

ROLES = ("observer", "member", "admin", "owner")
PRIORITIES = ("routine", "priority", "immediate", "flash")
INCIDENT_STATUSES = ("open", "active", "contained", "closed")
TASK_STATUSES = ("open", "done", "cancelled")
CHECKIN_STATUSES = ("safe", "need_help")
SEVERITY_LABELS = {1: "S1 critical", 2: "S2 major", 3: "S3 moderate", 4: "S4 minor", 5: "S5 info"}
MAX_TEXT = 8000
MAX_NAME = 80
SHORT_ID = 16  # rooms, incidents, check-ins and tasks are named by 16 random bytes
SEALED_KEY = 80  # a 32-byte network key in a libsodium sealed box (32-byte ephemeral key + 16-byte tag)
MAX_KEY_RECIPIENTS = 500  # a key.rotate body stays under the 64 KiB entry limit (~118 bytes per recipient)


def severity_label(value: object) -> str:
    """An incident's severity as the board says it (``S1 critical``): every reader, the TUI, the CLI and the
    HQ reports, names severities alike."""
    if isinstance(value, int) and not isinstance(value, bool):
        return SEVERITY_LABELS.get(value, f"S{value}")
    return "S?"


class BodyError(ValueError):
    """A body that does not fit its kind."""


Check = Callable[[Any], bool]


def _text(max_len: int, *, empty: bool = False) -> Check:
    return lambda v: isinstance(v, str) and (empty or v.strip() != "") and len(v) <= max_len


def _blob(size: int) -> Check:
    return lambda v: isinstance(v, bytes) and len(v) == size


def _one_of(options: tuple[str, ...]) -> Check:
    return lambda v: isinstance(v, str) and v in options


def _int(lo: int, hi: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _or_nil(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _is_bool(v: object) -> bool:
    return isinstance(v, bool)


def _location(v: object) -> bool:
    """``{"text": str, "lat_e7": int, "lon_e7": int}``, any subset but not empty. Degrees x 1e7: no floats."""
    if not isinstance(v, dict) or not v or not set(v) <= {"text", "lat_e7", "lon_e7"}:
        return False
    if "text" in v and not _text(200)(v["text"]):
        return False
    if ("lat_e7" in v) != ("lon_e7" in v):
        return False
    return "lat_e7" not in v or (
        _int(-900_000_000, 900_000_000)(v["lat_e7"]) and _int(-1_800_000_000, 1_800_000_000)(v["lon_e7"])
    )


_ID32 = _blob(32)
_SHORT = _blob(SHORT_ID)
_SEVERITY = _int(1, 5)
_MS = _int(0, 2**53)


@dataclass(frozen=True, slots=True)
class Field:
    check: Check
    required: bool = True
    default: Value = None


def _fields_map(allowed: Mapping[str, Check]) -> Check:
    """A map of register updates (incident.update, task.update): known keys only, each checked, not empty."""

    def check(v: object) -> bool:
        return (
            isinstance(v, dict)
            and 0 < len(v) <= len(allowed)
            and all(isinstance(k, str) and k in allowed and allowed[k](val) for k, val in v.items())
        )

    return check


INCIDENT_FIELDS: dict[str, Check] = {
    "title": _text(MAX_NAME * 2),
    "severity": _SEVERITY,
    "status": _one_of(INCIDENT_STATUSES),
    "commander": _text(MAX_NAME, empty=True),
    "location": _or_nil(_location),
    "summary": _text(MAX_TEXT, empty=True),
}
TASK_FIELDS: dict[str, Check] = {
    "title": _text(MAX_NAME * 2),
    "owner": _or_nil(_ID32),
    "status": _one_of(TASK_STATUSES),
}


def _heads(v: object) -> bool:
    return isinstance(v, dict) and all(
        _ID32(k) and isinstance(h, list) and len(h) == 2 and _int(1, 2**53)(h[0]) and _ID32(h[1]) for k, h in v.items()
    )


def _sealed_keys(v: object) -> bool:
    """``{member key: sealed network key}``, one to :data:`MAX_KEY_RECIPIENTS` recipients."""
    return (
        isinstance(v, dict)
        and 0 < len(v) <= MAX_KEY_RECIPIENTS
        and all(_ID32(k) and _blob(SEALED_KEY)(sealed) for k, sealed in v.items())
    )


SCHEMAS: dict[str, dict[str, Field]] = {
    "team.create": {"name": Field(_text(MAX_NAME))},
    "member.invite": {
        "invite_pk": Field(_ID32),
        "role": Field(_one_of(ROLES[:3])),
        "expires": Field(_MS),
    },
    "member.admit": {"member": Field(_ID32), "invite_pk": Field(_ID32), "sealed_key": Field(_blob(SEALED_KEY))},
    "invite.revoke": {"invite_pk": Field(_ID32)},
    "member.add": {
        "member": Field(_ID32),
        "name": Field(_text(MAX_NAME, empty=True), required=False, default=""),
        "role": Field(_one_of(ROLES[:3])),
        "sealed_key": Field(_or_nil(_blob(SEALED_KEY)), required=False),  # the network key, for a new key
    },
    "member.remove": {"member": Field(_ID32), "upto_seq": Field(_int(0, 2**53))},
    "key.rotate": {"keys": Field(_sealed_keys)},
    "member.profile": {
        "name": Field(_text(MAX_NAME)),
        "callsign": Field(_text(MAX_NAME, empty=True), required=False, default=""),
    },
    "room.create": {
        "room": Field(_SHORT),
        "name": Field(_text(40)),
        "topic": Field(_text(200, empty=True), required=False, default=""),
    },
    "room.archive": {"room": Field(_SHORT)},
    "msg.post": {
        "room": Field(_SHORT),
        "text": Field(_text(MAX_TEXT)),
        "priority": Field(_one_of(PRIORITIES), required=False, default="routine"),
        "reply_to": Field(_or_nil(_ID32), required=False),
        "ack_required": Field(_is_bool, required=False, default=False),
        "location": Field(_or_nil(_location), required=False),
        "files": Field(_or_nil(is_file_list), required=False),  # attachments: meshchat.log.attachments
    },
    "msg.retract": {"target": Field(_ID32)},
    "msg.ack": {"target": Field(_ID32)},
    "msg.pin": {"target": Field(_ID32)},
    "incident.open": {
        "incident": Field(_SHORT),
        "title": Field(_text(MAX_NAME * 2)),
        "severity": Field(_SEVERITY),
        "location": Field(_or_nil(_location), required=False),
        "room": Field(_or_nil(_SHORT), required=False),
    },
    "incident.update": {"incident": Field(_SHORT), "fields": Field(_fields_map(INCIDENT_FIELDS))},
    "checkin.request": {
        "checkin": Field(_SHORT),
        "room": Field(_SHORT),
        "question": Field(_text(MAX_NAME * 4)),
        "deadline": Field(_or_nil(_MS), required=False),
    },
    "checkin.reply": {
        "checkin": Field(_SHORT),
        "status": Field(_one_of(CHECKIN_STATUSES)),
        "note": Field(_text(MAX_NAME * 4, empty=True), required=False, default=""),
    },
    "task.open": {
        "task": Field(_SHORT),
        "title": Field(_text(MAX_NAME * 2)),
        "owner": Field(_or_nil(_ID32), required=False),
        "incident": Field(_or_nil(_SHORT), required=False),
    },
    "task.update": {"task": Field(_SHORT), "fields": Field(_fields_map(TASK_FIELDS))},
    "heads": {"heads": Field(_heads)},
}

MEMBERSHIP_KINDS = frozenset(
    {
        "team.create",
        "member.invite",
        "member.admit",
        "invite.revoke",
        "member.add",
        "member.remove",
        "member.profile",
        "key.rotate",
    }
)


def parse_body(kind: str, body: Mapping[str, Value]) -> dict[str, Value] | None:
    """The body's known fields with defaults filled in, or ``None`` when it does not fit its kind (or the
    kind is unknown). Never raises."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        return None
    out: dict[str, Value] = {}
    for name, spec in schema.items():
        if name in body:
            if not spec.check(body[name]):
                return None
            out[name] = body[name]
        elif spec.required:
            return None
        else:
            out[name] = spec.default
    return out


def build_body(kind: str, **fields: Value) -> dict[str, Value]:
    """A body for ``kind`` from ``fields``, checked: raises :class:`BodyError` naming the bad field."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise BodyError(f"unknown kind {kind!r}")
    unknown = set(fields) - set(schema)
    if unknown:
        raise BodyError(f"{kind} has no field {sorted(unknown)[0]!r}")
    body: dict[str, Value] = {}
    for name, spec in schema.items():
        if name not in fields or (fields[name] is None and not spec.required):
            if spec.required:
                raise BodyError(f"{kind} needs {name!r}")
            continue
        if not spec.check(fields[name]):
            raise BodyError(f"{kind}: {name!r} is not valid: {fields[name]!r}")
        body[name] = fields[name]
    return body
