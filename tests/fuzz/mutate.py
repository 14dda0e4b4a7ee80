"""A small seeded mutator (bit flips, byte edits, splices, interesting lengths), for fuzzing without atheris:
deterministic for a seed, so a failure in CI is replayed exactly."""

from __future__ import annotations

import random

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xC0, 0xC1, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xC4, 0xC5, 0xC6]
LENGTHS = [b"\xff\xff\xff\xff", b"\x00\x10\x00\x01", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(8)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[min(pos, len(out) - 1)] = rng.choice(INTERESTING)
        elif op == 2:
            out[pos:pos] = bytes([rng.randrange(256)]) * rng.randrange(1, 8)
        elif op == 3 and out:
            del out[pos : pos + rng.randrange(1, 16)]
        elif op == 4:
            out[pos : pos + 4] = rng.choice(LENGTHS)
        elif op == 5 and corpus:
            other = rng.choice(corpus)
            start = rng.randrange(len(other) + 1)
            out[pos:] = other[start:]
        elif op == 6:
            out = out[:pos]
        elif op == 7 and out:
            start = rng.randrange(len(out))
            out[pos:pos] = out[start : start + rng.randrange(1, 64)]
    return bytes(out)
