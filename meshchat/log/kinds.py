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

from meshchat.errors import MeshchatError
from meshchat.log.attachments import is_file_list
from meshchat.log.codec import Value

ROLES = ("observer", "member", "admin", "owner")
PRIORITIES = ("routine", "priority", "immediate", "flash")
INCIDENT_STATUSES = ("open", "active", "contained", "closed")
TASK_STATUSES = ("open", "done", "cancelled")
CHECKIN_STATUSES = ("safe", "need_help")
POSITION_SOURCES = ("gps", "manual")
RELAY_NETWORKS = ("tak",)  # where a relayed post or position came from (see docs/tak.md)
SEVERITY_LABELS = {1: "S1 critical", 2: "S2 major", 3: "S3 moderate", 4: "S4 minor", 5: "S5 info"}
MAX_TEXT = 8000
MAX_NAME = 80
SHORT_ID = 16  # rooms, incidents, check-ins and tasks are named by 16 random bytes
SEALED_KEY = 80  # a 32-byte network key in a libsodium sealed box (32-byte ephemeral key + 16-byte tag)
MAX_KEY_RECIPIENTS = 500  # a key.rotate body stays under the 64 KiB entry limit (~118 bytes per recipient)
MAX_CALLSIGN = 40
MAX_RELAY_UID = 128


def severity_label(value: object) -> str:
    """An incident's severity as the board says it (``S1 critical``): every reader, the TUI, the CLI and the
    HQ reports, names severities alike."""
    if isinstance(value, int) and not isinstance(value, bool):
        return SEVERITY_LABELS.get(value, f"S{value}")
    return "S?"


class BodyError(MeshchatError, ValueError):
    """A body that does not fit its kind."""


@dataclass(frozen=True, slots=True)
class Check:
    """A test of one field's value, and what it expects in words: an error names the limit, never echoes the
    value back (a 100 KB post is answered "at most 8,000 characters; this one has 100,044")."""

    test: Callable[[Any], bool]
    expects: str

    def __call__(self, value: object) -> bool:
        return self.test(value)


def _text(max_len: int, *, empty: bool = False) -> Check:
    return Check(
        lambda v: isinstance(v, str) and (empty or v.strip() != "") and len(v) <= max_len,
        f"at most {max_len:,} characters" + ("" if empty else " and not blank"),
    )


def _blob(size: int) -> Check:
    return Check(lambda v: isinstance(v, bytes) and len(v) == size, f"{size} bytes")


def _one_of(options: tuple[str, ...]) -> Check:
    return Check(lambda v: isinstance(v, str) and v in options, "one of " + ", ".join(options))


def _int(lo: int, hi: int) -> Check:
    return Check(
        lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi, f"a whole number from {lo} to {hi}"
    )


def _or_nil(check: Check) -> Check:
    return Check(lambda v: v is None or check(v), f"{check.expects}, or nothing")


def _is_bool(v: object) -> bool:
    return isinstance(v, bool)


_LAT_E7 = _int(-900_000_000, 900_000_000)  # degrees x 1e7 (the entry format has no floats)
_LON_E7 = _int(-1_800_000_000, 1_800_000_000)


def _is_location(v: object) -> bool:
    """``{"text": str, "lat_e7": int, "lon_e7": int}``, any subset but not empty. Degrees x 1e7: no floats."""
    if not isinstance(v, dict) or not v or not set(v) <= {"text", "lat_e7", "lon_e7"}:
        return False
    if "text" in v and not _text(200)(v["text"]):
        return False
    if ("lat_e7" in v) != ("lon_e7" in v):
        return False
    return "lat_e7" not in v or (_LAT_E7(v["lat_e7"]) and _LON_E7(v["lon_e7"]))


def _is_via(v: object) -> bool:
    """``{"net": "tak", "uid": str, "callsign": str}``: who outside the team a relayed post or position came
    from, as that network names them (see docs/tak.md)."""
    return (
        isinstance(v, dict)
        and set(v) == {"net", "uid", "callsign"}
        and _one_of(RELAY_NETWORKS)(v["net"])
        and _text(MAX_RELAY_UID)(v["uid"])
        and _text(MAX_CALLSIGN, empty=True)(v["callsign"])
    )


_BOOL = Check(_is_bool, "true or false")
_FILES = Check(is_file_list, "a list of attachments (meshchat.log.attachments)")
_LOCATION = Check(_is_location, "a place: a text of at most 200 characters, coordinates (lat_e7, lon_e7), or both")
_VIA = Check(_is_via, f"who outside the team it came from: net ({', '.join(RELAY_NETWORKS)}), uid and callsign")


_ID32 = _blob(32)
_SHORT = _blob(SHORT_ID)
_SEVERITY = _int(1, 5)
_MS = Check(_int(0, 2**53).test, "a time (ms since 1970)")


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

    return Check(check, "changes to " + ", ".join(allowed))


INCIDENT_FIELDS: dict[str, Check] = {
    "title": _text(MAX_NAME * 2),
    "severity": _SEVERITY,
    "status": _one_of(INCIDENT_STATUSES),
    "commander": _text(MAX_NAME, empty=True),
    "location": _or_nil(_LOCATION),
    "summary": _text(MAX_TEXT, empty=True),
}
TASK_FIELDS: dict[str, Check] = {
    "title": _text(MAX_NAME * 2),
    "owner": _or_nil(_ID32),
    "status": _one_of(TASK_STATUSES),
    "location": _or_nil(_LOCATION),
}


def _is_heads(v: object) -> bool:
    return isinstance(v, dict) and all(
        _ID32(k) and isinstance(h, list) and len(h) == 2 and _int(1, 2**53)(h[0]) and _ID32(h[1]) for k, h in v.items()
    )


def _is_sealed_keys(v: object) -> bool:
    """``{member key: sealed network key}``, one to :data:`MAX_KEY_RECIPIENTS` recipients."""
    return (
        isinstance(v, dict)
        and 0 < len(v) <= MAX_KEY_RECIPIENTS
        and all(_ID32(k) and _blob(SEALED_KEY)(sealed) for k, sealed in v.items())
    )


# A position fix (``position``, ``position.relay``): where, how sure, and when the fix was taken (the sender's
# claim: see meshchat.log.positions for what a reader believes of it).
_FIX: dict[str, Field] = {
    "lat_e7": Field(_LAT_E7),
    "lon_e7": Field(_LON_E7),
    "accuracy_m": Field(_int(0, 1_000_000)),  # radius, metres (0: under one metre)
    "alt_m": Field(_or_nil(_int(-12_000, 100_000)), required=False),  # metres above the WGS 84 ellipsoid
    "heading_deg": Field(_or_nil(_int(0, 359)), required=False),  # course over ground, degrees from true north
    "speed_cms": Field(_or_nil(_int(0, 100_000)), required=False),  # speed over ground, centimetres per second
    "fix_ms": Field(_MS),  # when the fix was taken, ms since the epoch
}


_HEADS = Check(_is_heads, "a map of author keys to [seq, id]")
_SEALED_KEYS = Check(_is_sealed_keys, f"a map of 1 to {MAX_KEY_RECIPIENTS} member keys to sealed keys")


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
    "key.rotate": {"keys": Field(_SEALED_KEYS)},
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
        "ack_required": Field(_BOOL, required=False, default=False),
        "location": Field(_or_nil(_LOCATION), required=False),
        "files": Field(_or_nil(_FILES), required=False),  # attachments: meshchat.log.attachments
        "via": Field(_or_nil(_VIA), required=False),  # relayed from outside the team (the TAK bridge)
    },
    "msg.retract": {"target": Field(_ID32)},
    "msg.ack": {"target": Field(_ID32)},
    "msg.pin": {"target": Field(_ID32)},
    "incident.open": {
        "incident": Field(_SHORT),
        "title": Field(_text(MAX_NAME * 2)),
        "severity": Field(_SEVERITY),
        "location": Field(_or_nil(_LOCATION), required=False),
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
        "location": Field(_or_nil(_LOCATION), required=False),
    },
    "task.open": {
        "task": Field(_SHORT),
        "title": Field(_text(MAX_NAME * 2)),
        "owner": Field(_or_nil(_ID32), required=False),
        "incident": Field(_or_nil(_SHORT), required=False),
        "location": Field(_or_nil(_LOCATION), required=False),
    },
    "task.update": {"task": Field(_SHORT), "fields": Field(_fields_map(TASK_FIELDS))},
    "heads": {"heads": Field(_HEADS)},
    "position": {**_FIX, "source": Field(_one_of(POSITION_SOURCES))},
    "position.clear": {},
    "position.relay": {"via": Field(_VIA), **_FIX},
}


def _relayed_post(body: Mapping[str, Value]) -> str | None:
    """Text from outside the team never demands the team's attention: a relayed post is routine, never FLASH,
    and asks for no acknowledgement (a TAK user cannot raise an alarm in the team; docs/tak.md)."""
    if body.get("via") is not None and (body.get("priority") != "routine" or body.get("ack_required")):
        return "a post relayed from outside the team is routine and asks for no acknowledgement"
    return None


# Rules over a whole body (after each field is checked): the reason it does not fit, or None.
BODY_RULES: dict[str, Callable[[Mapping[str, Value]], str | None]] = {"msg.post": _relayed_post}

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
    rule = BODY_RULES.get(kind)
    if rule is not None and rule(out) is not None:
        return None
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
            raise BodyError(f"{name}: {spec.check.expects}; {_described(fields[name])}")
        body[name] = fields[name]
    rule = BODY_RULES.get(kind)
    reason = rule({name: body.get(name, spec.default) for name, spec in schema.items()}) if rule else None
    if reason is not None:
        raise BodyError(f"{kind}: {reason}")
    return body


def _described(value: object) -> str:
    """What a refused value is, in a few words: a long text by its length, never the whole of it."""
    if isinstance(value, str):
        if not value.strip():
            return "got a blank text"
        return f"got {len(value):,} characters" if len(value) > 40 else f"got {value!r}"
    if isinstance(value, bytes):
        return f"got {len(value):,} bytes"
    if value is None or isinstance(value, bool | int):
        return f"got {value!r}"
    return f"got a {type(value).__name__}"
