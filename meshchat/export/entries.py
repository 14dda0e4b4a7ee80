"""``entries.jsonl``: every entry of the log, decoded, one JSON object a line, in the team's order.

``log.msgpack`` is the evidence; this is the same log for people and programs that do not speak msgpack
(``jq``, pandas, DuckDB's ``read_json``). One line per entry::

    {"kind": "msg.post", "author": hex, "author_name": "Ana", "author_callsign": "HQ1", "seq": 5,
     "clock_ms": 1795594611123, "time_utc": "2026-11-25T07:10:42.123Z", "id": hex, "prev": hex or null,
     "body": {...}, "sig": hex, "effective_clock_ms": 1795594611123, "effective_time_utc": "...",
     "received_ms": 1795594611460 or null, "received_utc": "..." or null}

``body`` is the entry's body map with byte strings as lower-case hex (map keys too); ``author_name`` and
``author_callsign`` are the author's as the team knew them at that entry (``Member.name_at``), not at the
end. Lines are in the team's one order ``(clock, author, seq)``. The exporter writes the file and the
verifier rebuilds every record from ``log.msgpack`` with the same functions here, comparing content (parsed
JSON), not bytes: a changed, missing, extra or moved line is a named problem.

The last four keys are the two times an analyst sorts a timeline by, beside the clock the author claims;
neither is covered by the author's signature:

- ``effective_clock_ms``: when the entry counts (``meshchat.log.timing``), a function of the whole log. The
  verifier rebuilds it where it has a store (``meshchat verify``: ``fullverify``); the bundle-only check
  sees only that it is well formed.
- ``received_ms``: when the exporting node first stored the entry, by that node's clock (``null`` where it
  recorded none: an HQ archive). A local fact: nothing in the log can confirm it, so verify checks only its
  form, and no check or report decides anything by it.

An export of manifest version 1 has lines without these four keys; they verify as before.

Text is exact (JSON escapes decode to the very characters the author wrote) and safe to ``cat``: every
character that ``str.isprintable`` refuses (controls, bidi overrides, zero-width characters, separators) is
written as a ``\\uXXXX`` escape, never raw.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeGuard

from meshchat.export import manifest
from meshchat.export.chains import Add
from meshchat.export.errors import BundleFormatError
from meshchat.export.framing import read_entries, read_header
from meshchat.export.problems import Severity
from meshchat.files import is_regular_file
from meshchat.log.codec import Value
from meshchat.log.entry import Entry, EntryError, decode_entry
from meshchat.log.rules import Membership, OrderKey

ENTRIES_FILE = "entries.jsonl"
MAX_LINE = 1 << 20  # an entry is at most 64 KiB; in hex and JSON escapes it stays far below this
MAX_NAMED = 20  # problems named one by one; beyond that, a count
FIELDS = (
    "kind",
    "author",
    "author_name",
    "author_callsign",
    "seq",
    "clock_ms",
    "time_utc",
    "id",
    "prev",
    "body",
    "sig",
)
PLACED = ("effective_clock_ms", "effective_time_utc")  # from the whole log: compared where a store is at hand
RECEIVED = ("received_ms", "received_utc")  # the exporting node's own record: its form is all there is to check
TIMES = (*PLACED, *RECEIVED)  # written in this order, after FIELDS


@dataclass(frozen=True, slots=True)
class Placed:
    """An entry with the two times an analyst sorts a timeline by, beside the clock its author claims."""

    entry: Entry
    effective: int  # when it counts: its effective clock (``meshchat.log.timing``), from the log alone
    received: int | None  # when the exporting node first stored it, by its own clock; None where not recorded


Effective = Callable[[bytes, int, int], int]
"""``(author, seq, clock) -> effective clock``: the timing rule over the export's log (``Timing.effective``)."""


def order_key(entry: Entry) -> OrderKey:
    """The team's one order, the order of ``entries.jsonl`` and of every timeline."""
    return OrderKey(entry.clock, entry.author, entry.seq)


def iso_utc(clock_ms: int) -> str:
    """``2026-11-25T07:10:42.123Z``: ISO 8601 in UTC with milliseconds, as programs parse it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(clock_ms // 1000)) + f".{clock_ms % 1000:03d}Z"


def json_value(value: Value) -> Any:
    """A body value in JSON: byte strings (and byte-string map keys) as hex; everything else as it is."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {_json_key(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def _json_key(key: object) -> str:
    return key.hex() if isinstance(key, bytes) else str(key)


def record(entry: Entry, membership: Membership) -> dict[str, Any]:
    """One entry as a JSON object (see the module docstring)."""
    member = membership.members.get(entry.author)
    name, callsign = member.name_at(order_key(entry)) if member is not None else ("", "")
    return {
        "kind": entry.kind,
        "author": entry.author.hex(),
        "author_name": name,
        "author_callsign": callsign,
        "seq": entry.seq,
        "clock_ms": entry.clock,
        "time_utc": iso_utc(entry.clock),
        "id": entry.id.hex(),
        "prev": entry.prev.hex() if entry.prev is not None else None,
        "body": json_value(entry.body()),
        "sig": entry.sig.hex(),
    }


def placed_record(placed: Placed, membership: Membership) -> dict[str, Any]:
    """One line's object: the entry's :func:`record`, then its effective clock and its receipt time."""
    doc = record(placed.entry, membership)
    doc.update(_times(placed.effective, placed.received))
    return doc


def _times(effective: int, received: int | None) -> dict[str, Any]:
    return {
        "effective_clock_ms": effective,
        "effective_time_utc": iso_utc(effective),
        "received_ms": received,
        "received_utc": iso_utc(received) if received is not None else None,
    }


def json_text(value: object) -> str:
    """Compact JSON of ``value``, every character ``str.isprintable`` refuses written as a ``\\u`` escape."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if text.isprintable() else "".join(map(_escape, text))


def line(doc: dict[str, Any]) -> str:
    """The line written for ``doc``: UTF-8 JSON, with every unprintable character escaped."""
    return json_text(doc) + "\n"


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON spells characters beyond the BMP as a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def digest(doc: object) -> bytes:
    """What two records are compared by: their content, whatever the spelling of the JSON that carried it."""
    canonical = json.dumps(doc, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def write_entries(entries: Iterable[Placed], membership: Membership, out: IO[str]) -> int:
    """Write ``entries`` (already in the team's order) as lines; return how many."""
    count = 0
    for placed in entries:
        out.write(line(placed_record(placed, membership)))
        count += 1
    return count


# ---- verification ------------------------------------------------------------------------------------------

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last time ISO 8601 (and iso_utc) can say


# The times as the exporter writes them, last on the line (a line spelled otherwise is read whole instead).
_MS = rb"(?:0|[1-9][0-9]{0,14})"
_UTC = rb"[-0-9T:.Z]{1,40}"
_RECEIVED = (
    rb',"received_ms":(?:null,"received_utc":null|(?P<rm>' + _MS + rb'),"received_utc":"(?P<ru>' + _UTC + rb')")\}\n'
)
_RECEIVED_TAIL = re.compile(_RECEIVED)
_TIMES_TAIL = re.compile(
    rb',"effective_clock_ms":(?P<em>' + _MS + rb'),"effective_time_utc":"(?P<eu>' + _UTC + rb')"' + _RECEIVED
)


@dataclass(frozen=True, slots=True)
class _Expected:
    key: OrderKey
    id: bytes
    frame: int
    effective: int | None  # the entry's effective clock, where the checker can work it out
    signed: bytes  # digest of the exact line of its signed fields alone (all a version 1 line holds)
    line: bytes  # digest of the exact line of all the checker can make (the signed fields and, known, its clock)
    digest: bytes  # digest of the content of its signed fields, for a line spelled otherwise (another JSON writer)


Differing = list[tuple[int, _Expected, dict[str, Any]]]  # (line number, what the log puts there, what it holds)


def check_entries(
    export: Path, membership: Membership, team: bytes, add: Add, effective: Effective | None = None
) -> int:
    """Compare ``entries.jsonl`` with the records ``log.msgpack`` gives, line by line; return lines checked.
    ``effective``: the timing rule over the log, when the caller has a store to work it out (``meshchat
    verify``); without it, effective clocks are checked for their form only (an info says so).

    The log was checked before this runs; frames that do not decode, or belong to another team, were named
    then and are left out here, as the exporter never writes them."""
    where = ENTRIES_FILE
    if not is_regular_file(export / where):
        return 0
    try:
        expected = sorted(
            _expected(export / manifest.LOG_FILE, membership, team, effective), key=lambda e: (e.key, e.frame)
        )
    except (OSError, BundleFormatError):
        add(Severity.WARNING, "entries", f"{where} not checked: the log cannot be read whole (see above)", where=where)
        return 0
    differing: Differing = []  # the first MAX_NAMED, kept to be named; the rest only counted
    more = 0
    count = 0
    placed = False  # whether any line carries the times (a version 1 export's lines do not)
    try:
        with manifest.open_regular(export / where) as f:
            for number, raw in _lines(f):
                count = number
                if number > len(expected):
                    if number == len(expected) + 1:
                        add(
                            Severity.ERROR,
                            "entries-extra",
                            f"line {number} and on: {ENTRIES_FILE} has lines for entries the log does not hold",
                            where=f"{where} line {number}",
                        )
                    continue
                want = expected[number - 1]
                verdict = _as_written(raw, want)
                if verdict is None:
                    verdict = _by_content(raw, want, number)
                ok, with_times = verdict
                placed = placed or with_times
                if not ok:
                    if len(differing) < MAX_NAMED:
                        differing.append((number, want, _object(raw, number)))
                    else:
                        more += 1
    except BundleFormatError as exc:
        add(Severity.ERROR, "entries", str(exc), where=where)
        return count
    if count < len(expected):
        first = expected[count]
        add(
            Severity.ERROR,
            "entries-missing",
            f"{ENTRIES_FILE} ends after {count} lines; the log has {len(expected)} entries "
            f"(the first one missing would be line {count + 1})",
            author=first.key.author,
            seq=first.key.seq,
            id=first.id,
            where=where,
        )
    _name_differences(export / manifest.LOG_FILE, membership, differing, add)
    if more:
        add(Severity.ERROR, "entries-changed", f"{more} more lines of {ENTRIES_FILE} differ from the log", where=where)
    if placed and effective is None:
        add(
            Severity.INFO,
            "effective-unchecked",
            f"{where}: effective clocks checked for their form only (meshchat verify works them out from the log)",
            where=where,
        )
    return count


def _expected(log: Path, membership: Membership, team: bytes, effective: Effective | None) -> Iterator[_Expected]:
    with manifest.open_regular(log) as f:
        header = read_header(f, where=log.name)
        for frame in read_entries(f, header, where=log.name):
            entry = _team_entry(frame.data, team)
            if entry is not None:
                doc = record(entry, membership)
                signed = _line_digest(doc)
                placed = None if effective is None else effective(entry.author, entry.seq, entry.clock)
                known = signed if placed is None else _line_digest({**doc, **_times(placed, None)})
                yield _Expected(order_key(entry), entry.id, frame.index, placed, signed, known, digest(doc))


def _line_digest(doc: dict[str, Any]) -> bytes:
    return hashlib.blake2b(line({k: v for k, v in doc.items() if k not in RECEIVED}).encode(), digest_size=16).digest()


def _as_written(raw: bytes, want: _Expected) -> tuple[bool, bool] | None:
    """The fast, common case: ``raw`` is the very line the exporter writes, but for the times the checker cannot
    make (written last), which need only be well formed. ``(True, has times)``, or None: read it whole."""
    if hashlib.blake2b(raw, digest_size=16).digest() == want.signed:
        return True, False  # a version 1 line
    known = want.effective
    cut = raw.rfind(b',"' + (TIMES if known is None else RECEIVED)[0].encode() + b'":')  # after body and sig: ours
    if cut < 0 or hashlib.blake2b(raw[:cut] + b"}\n", digest_size=16).digest() != want.line:
        return None
    tail = (_TIMES_TAIL if known is None else _RECEIVED_TAIL).fullmatch(raw, cut)
    if tail is None:
        return None
    if known is not None:
        times = _times(known, None)
    else:
        times = {"effective_clock_ms": int(tail["em"]), "effective_time_utc": tail["eu"].decode()}
    times["received_ms"] = int(tail["rm"]) if tail["rm"] is not None else None
    times["received_utc"] = tail["ru"].decode() if tail["ru"] is not None else None
    return (True, True) if _times_well_formed(times) else None


def _by_content(raw: bytes, want: _Expected, number: int) -> tuple[bool, bool]:
    """A line spelled otherwise: its signed fields must hold what the log gives, and its times, if it has
    them, all four and well formed, the effective clock the one the log gives where the checker knows it."""
    doc = _parsed(raw, number)
    if not isinstance(doc, dict):
        return False, False
    times = {k: doc.pop(k) for k in TIMES if k in doc}
    if not times:
        return digest(doc) == want.digest, False
    ok = set(times) == set(TIMES) and _times_well_formed(times) and digest(doc) == want.digest
    ok = ok and want.effective in (None, times["effective_clock_ms"])
    return ok, True


def _times_well_formed(times: dict[str, Any]) -> bool:
    effective, received = times.get("effective_clock_ms"), times.get("received_ms")
    if not _is_ms(effective) or times.get("effective_time_utc") != iso_utc(effective):
        return False
    if received is None:
        return times.get("received_utc") is None
    return _is_ms(received) and times.get("received_utc") == iso_utc(received)


def _is_ms(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MS


def _team_entry(raw: bytes, team: bytes) -> Entry | None:
    try:
        entry = decode_entry(raw)
    except EntryError:
        return None
    ours = entry.team_id == team or (entry.is_genesis and entry.id == team)
    return entry if ours else None


def _lines(f: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of each line, its newline included, bounded in length."""
    number = 0
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE:
            raise BundleFormatError(f"{ENTRIES_FILE} line {number} is longer than {MAX_LINE} bytes")
        yield number, raw


def _parsed(raw: bytes, number: int) -> object:
    """A line's JSON (strict: no duplicate keys, no floats), or ``None`` when it does not parse."""
    try:
        return manifest.parse_json(raw, where=f"{ENTRIES_FILE} line {number}")
    except BundleFormatError:
        return None


def _object(raw: bytes, number: int) -> dict[str, Any]:
    doc = _parsed(raw, number)
    return doc if isinstance(doc, dict) else {}


def _name_differences(log: Path, membership: Membership, differing: Differing, add: Add) -> None:
    """Name each differing line: which entry the log puts there, and which fields differ from it."""
    named = {want.frame: (number, want, found) for number, want, found in differing}
    found_in_log: dict[int, dict[str, Any]] = {}
    if named:
        with manifest.open_regular(log) as f:
            header = read_header(f, where=log.name)
            for frame in read_entries(f, header, where=log.name):
                if frame.index in named:
                    found_in_log[frame.index] = record(decode_entry(frame.data), membership)
    for index, (number, want, found) in sorted(named.items(), key=lambda item: item[1][0]):
        add(
            Severity.ERROR,
            "entries-changed",
            _difference(found_in_log[index], want.effective, found),
            author=want.key.author,
            seq=want.key.seq,
            id=want.id,
            where=f"{ENTRIES_FILE} line {number}",
        )


def _difference(want: dict[str, Any], effective: int | None, found: dict[str, Any]) -> str:
    if not found:
        return "the line is not a JSON object; the log puts this entry here"
    if (found.get("author"), found.get("seq"), found.get("id")) != (want["author"], want["seq"], want["id"]):
        seq = found.get("seq")
        return f"the line holds another entry (#{seq if isinstance(seq, int) else '?'}) than the one the log puts here"
    fields = [name for name in FIELDS if found.get(name) != want[name]]
    times = {k: found[k] for k in TIMES if k in found}
    if times:
        if effective is not None and times.get("effective_clock_ms") != effective:
            fields.append("effective_clock_ms")
        elif set(times) != set(TIMES) or not _times_well_formed(times):
            fields += [k for k in TIMES if k not in fields]
    fields += sorted(str(name) for name in found if name not in FIELDS and name not in TIMES)
    return f"the line differs from the log's entry in: {', '.join(fields)}"
