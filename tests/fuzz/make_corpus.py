"""Write the seed corpus under ``tests/fuzz/corpus/<target>/``: real entries, frames, hellos, identity proofs
and sync messages, so that mutations start from inputs that get deep into each parser.

    python tests/fuzz/make_corpus.py      (re-run only to refresh the seeds; the files are committed)
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import targets

from meshchat.log.codec import pack
from meshchat.proto import messages
from meshchat.proto.blobs import PIECE_HEADER
from meshchat.proto.channel import Kind
from meshchat.proto.framing import frame
from meshchat.proto.handshake import Credentials, Handshake, Side
from meshchat.testing import ConnectionPair, MemoryLog, synthetic_history

CORPUS = Path(__file__).parent / "corpus"


def record(kind: int, body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + bytes([kind]) + body


def seeds() -> dict[str, list[bytes]]:
    team = synthetic_history(60, authors=3, seed=1)
    raws = [e.raw for e in team.all_entries()]
    entries = [*raws[:40], raws[5][:-1], raws[6] + b"\x00", b"", b"\x93"]
    frames = [frame(r) for r in raws[:10]] + [b"".join(frame(r) for r in raws[:30]), b"\xff\xff\xff\xff", b"\0\0\0"]
    hello = Handshake(Side.CLIENT, Credentials(targets.NETWORK_KEY, targets.CLIENT_ID), lambda k, e, i: None).start()
    link = [bytes([0]) + hello, bytes([1]) + frame(b"\0" * 64), bytes([0]) + frame(b"x" * 64)]
    auth = pack([targets.CLIENT_ID.public_key, targets.CLIENT_ID.sign(b"not the transcript"), raws[:2]])
    link += [bytes([2]) + record(1, auth), bytes([2]) + record(3, b"bye"), bytes([2]) + record(2, b"\x90")]
    # Real sync messages (plaintext: the target compresses SYNC records), captured as a conversation encodes them.
    captured: list[bytes] = []
    encode = messages.encode

    def capture(message: messages.Message, team_id: bytes) -> bytes:
        body = encode(message, team_id)
        captured.append(body)
        return body

    messages.encode = capture  # type: ignore[assignment]
    try:
        ConnectionPair.create(MemoryLog(), targets.log_of(raws), network_key=targets.NETWORK_KEY).run()
    finally:
        messages.encode = encode  # type: ignore[assignment]
    small = [body for body in captured if len(body) < 20_000]
    link += [bytes([3]) + record(Kind.SYNC, body) for body in small]
    link.append(bytes([3]) + b"".join(record(Kind.SYNC, body) for body in small[:4]))
    link.append(bytes([3]) + record(targets.RAW_SYNC, b"\x28\xb5\x2f\xfd" + bytes(20)))  # a zstd frame header
    link.append(bytes([2]) + record(Kind.DATA, b"\x91\x04"))  # link protocol v1: refused by name
    link.append(bytes([3]) + record(Kind.PIECE, PIECE_HEADER.pack(bytes(32), 1, 0) + b"a piece of a file"))
    return {"entry": entries, "frames": frames, "link": link}


def main() -> None:
    for target, inputs in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)  # noqa: S324 (a file name)
        print(f"{target}: {len(inputs)} seeds")


if __name__ == "__main__":
    main()
