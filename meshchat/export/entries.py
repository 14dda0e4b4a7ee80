"""``entries.jsonl``: every entry of the log, decoded, one JSON object a line, in the team's order.

``log.msgpack`` is the evidence; this is the same log for people and programs that do not speak msgpack
(``jq``, pandas, DuckDB's ``read_json``). One line per entry::

    {"kind": "msg.post", "author": hex, "author_name": "Ana", "author_callsign": "HQ1", "seq": 5,
     "clock_ms": 1795594611123, "time_utc": "2026-11-25T07:10:42.123Z", "id": hex, "prev": hex or null,
     "body": {...}, "sig": hex}

``body`` is the entry's body map with byte strings as lower-case hex (map keys too); ``author_name`` and
``author_callsign`` are the author's as the team knew them at that entry (``Member.name_at``), not at the
end. Lines are in the team's one order ``(clock, author, seq)``. The exporter writes the file and the
verifier rebuilds every record from ``log.msgpack`` with the same functions here, comparing content (parsed
JSON), not bytes: a changed, missing, extra or moved line is a named problem.

Text is exact (JSON escapes decode to the very characters the author wrote) and safe to ``cat``: every
character that ``str.isprintable`` refuses (controls, bidi overrides, zero-width characters, separators) is
written as a ``\\uXXXX`` escape, never raw.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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


def write_entries(entries: Iterable[Entry], membership: Membership, out: IO[str]) -> int:
    """Write ``entries`` (already in the team's order) as lines; return how many."""
    count = 0
    for entry in entries:
        out.write(line(record(entry, membership)))
        count += 1
    return count


# ---- verification ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Expected:
    key: OrderKey
    id: bytes
    frame: int
    line: bytes  # digest of the exact line the exporter writes: the fast, common case
    digest: bytes  # digest of the content, for a line spelled otherwise (another JSON writer)


Differing = list[tuple[int, _Expected, dict[str, Any]]]  # (line number, what the log puts there, what it holds)


def check_entries(export: Path, membership: Membership, team: bytes, add: Add) -> int:
    """Compare ``entries.jsonl`` with the records ``log.msgpack`` gives, line by line; return lines checked.

    The log was checked before this runs; frames that do not decode, or belong to another team, were named
    then and are left out here, as the exporter never writes them."""
    where = ENTRIES_FILE
    if not is_regular_file(export / where):
        return 0
    try:
        expected = sorted(_expected(export / manifest.LOG_FILE, membership, team), key=lambda e: (e.key, e.frame))
    except (OSError, BundleFormatError):
        add(Severity.WARNING, "entries", f"{where} not checked: the log cannot be read whole (see above)", where=where)
        return 0
    differing: Differing = []  # the first MAX_NAMED, kept to be named; the rest only counted
    more = 0
    count = 0
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
                if hashlib.blake2b(raw, digest_size=16).digest() == want.line:
                    continue
                doc = _parsed(raw, number)
                if doc is None or digest(doc) != want.digest:
                    if len(differing) < MAX_NAMED:
                        differing.append((number, want, doc if isinstance(doc, dict) else {}))
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
    return count


def _expected(log: Path, membership: Membership, team: bytes) -> Iterator[_Expected]:
    with manifest.open_regular(log) as f:
        header = read_header(f, where=log.name)
        for frame in read_entries(f, header, where=log.name):
            entry = _team_entry(frame.data, team)
            if entry is not None:
                doc = record(entry, membership)
                written = hashlib.blake2b(line(doc).encode(), digest_size=16).digest()
                yield _Expected(order_key(entry), entry.id, frame.index, written, digest(doc))


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


def _name_differences(
    log: Path, membership: Membership, differing: list[tuple[int, _Expected, dict[str, Any]]], add: Add
) -> None:
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
            _difference(found_in_log[index], found),
            author=want.key.author,
            seq=want.key.seq,
            id=want.id,
            where=f"{ENTRIES_FILE} line {number}",
        )


def _difference(want: dict[str, Any], found: dict[str, Any]) -> str:
    if not found:
        return "the line is not a JSON object; the log puts this entry here"
    if (found.get("author"), found.get("seq"), found.get("id")) != (want["author"], want["seq"], want["id"]):
        seq = found.get("seq")
        return f"the line holds another entry (#{seq if isinstance(seq, int) else '?'}) than the one the log puts here"
    fields = [name for name in FIELDS if found.get(name) != want[name]]
    fields += sorted(str(name) for name in found if name not in FIELDS)
    return f"the line differs from the log's entry in: {', '.join(fields)}"
