"""Hello: what answering a first handshake message costs a node, real or decoy, with many invites open.

    python bench/hello.py --n 2000

A node tries every key it accepts against each hello (its network keys, then the hello key of each invite it
issued, at most 256), whatever matched, so that timing tells nothing; a hello that no key made gets a decoy made
with the same work (the key exchange included). This prints microseconds per hello answered for 0, 16 and 256
invite keys, for a hello of the team (a real answer) and one of another team (a decoy). Pure protocol objects,
no network: the cost a flood of hellos puts on one core (the half-open caps bound how many wait at once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from meshchat.identity import Identity
from meshchat.proto.connection import Connection
from meshchat.proto.handshake import Credentials, Side

TEAM_KEY = b"t" * 32


def admit_all(key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None:
    return None


def per_hello_us(hello: bytes, invite_keys: dict[bytes, bytes], n: int) -> float:
    server_id = Identity.generate()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n // 5):
            server = Connection(Side.SERVER, Credentials(TEAM_KEY, server_id, invite_keys=invite_keys), admit_all)
            server.receive_data(hello)
            server.next_event()
            assert len(server.data_to_send()) == 68
        rounds.append((time.perf_counter() - started) / (n // 5) * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="hellos per measurement")
    args = parser.parse_args()
    ours = Connection(Side.CLIENT, Credentials(TEAM_KEY, Identity.generate()), admit_all).data_to_send()
    theirs = Connection(Side.CLIENT, Credentials(os.urandom(32), Identity.generate()), admit_all).data_to_send()
    print(f"{'invite keys':>11}  {'real answer':>12}  {'decoy':>12}   (us per hello, median of 5 rounds)")
    for count in (0, 16, 256):
        keys = {os.urandom(32): os.urandom(32) for _ in range(count)}
        real, decoy = per_hello_us(ours, keys, args.n), per_hello_us(theirs, keys, args.n)
        print(f"{count:>11}  {real:>12.0f}  {decoy:>12.0f}")


if __name__ == "__main__":
    main()
