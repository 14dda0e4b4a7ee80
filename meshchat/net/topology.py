"""Which of the nodes found on the LAN to dial: a ring with chords, never a full mesh.

On a LAN every node sees every other's advertisement. Dialling them all gives N(N-1)/2 links, and even with
one source per author each link carries notes, pings and handshakes: 40 laptops made 780 links. Instead
every node sorts the advertised instances (its own included) by name, which every node sees alike, and
dials the next two along that ring and one about sqrt(N) ahead: each node then has six links (three it
dialled, three dialled by the ring's nodes behind it), whatever N.

Why this graph (the circulant graph C_N(1, 2, s), s ~ sqrt(N)):

- connected with no single point of failure: with the two nearest neighbours on each side, removing any one
  node (or any one link) leaves the rest connected; it takes four failures around one node to cut it off;
- short paths: the chords make the diameter about sqrt(N)/2 + 2 hops (5 for 40 nodes) where a plain ring
  needs N/2 (20), and an entry crosses a hop in milliseconds on a LAN;
- nothing to agree on: instance names are random per run, so positions on the ring (and who carries most
  traffic) are shuffled, and a node that joins or leaves changes only the few links around its position.

Nodes that see slightly different sets of advertisements (one just appeared) may dial a few links more than
this; when an advertisement goes, the nodes around it dial their new neighbours, and a link no longer chosen
is ended after a grace period (``NetSettings.retire_after``), once the new ones are up. Static peers
(``--peer``) and links other nodes dialled are always kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SMALL_RING = 4  # with this many nodes or fewer, every node dials every other (the ring is all there is)


def ring_neighbours(me: str, others: Iterable[str]) -> dict[str, str]:
    """The instances ``me`` dials, each with why, on the ring of ``me`` and ``others`` sorted by name."""
    ring = sorted(set(others) | {me})
    n = len(ring)
    position = ring.index(me)
    offsets = {1: "ring: the next node after us", 2: "ring: the second node after us"}
    chord = round(math.sqrt(n))
    if chord > 2:
        offsets[chord] = f"chord: the node {chord} places after us on the ring"
    if n <= SMALL_RING:
        offsets = {k: f"ring: one of {n} nodes" for k in range(1, n)}
    out: dict[str, str] = {}
    for offset, why in sorted(offsets.items()):
        if offset < n:
            out.setdefault(ring[(position + offset) % n], why)
    return out


@dataclass(frozen=True)
class Advertised:
    addresses: tuple[str, ...]
    port: int


@dataclass
class Neighbourhood:
    """What discovery reported, and which of it we dial. Feed it sightings; it says what to dial and stop."""

    me: str
    known: dict[str, Advertised] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)  # instance -> why we dial it

    def seen(self, instance: str, addresses: Iterable[str], port: int) -> Steps:
        self.known[instance] = Advertised(tuple(addresses), port)
        return self._rechoose(moved={instance})

    def lost(self, instance: str) -> Steps:
        """The node said goodbye: stop dialling it (a link that works stays until it ends)."""
        gone = self.known.pop(instance, None)
        steps = self._rechoose(moved=set())
        retired = steps.retire.pop(instance, None)
        if gone is not None and retired is not None:
            steps.forget[instance] = gone
        return steps

    def _rechoose(self, moved: set[str]) -> Steps:
        chosen = ring_neighbours(self.me, self.known)
        steps = Steps()
        for instance, why in chosen.items():
            if instance not in self.chosen or instance in moved or self.chosen[instance] != why:
                steps.dial[instance] = (self.known[instance], why)
        for instance in self.chosen.keys() - chosen.keys():
            steps.retire[instance] = self.known.get(instance, Advertised((), 0))
        self.chosen = chosen
        return steps


@dataclass
class Steps:
    """What to do after a sighting: dial these (where, and why); stop dialling those that are no longer our
    neighbours and end their links once the new ones are up (``retire``); stop dialling those that left
    (``forget``)."""

    dial: dict[str, tuple[Advertised, str]] = field(default_factory=dict)
    retire: dict[str, Advertised] = field(default_factory=dict)
    forget: dict[str, Advertised] = field(default_factory=dict)


def is_two_connected(links: Mapping[str, set[str]]) -> bool:
    """Whether the undirected graph stays connected after removing any one node (for tests and benchmarks)."""
    nodes = list(links)
    for removed in [None, *nodes]:
        rest = [n for n in nodes if n != removed]
        if not rest:
            continue
        seen = {rest[0]}
        todo = [rest[0]]
        while todo:
            node = todo.pop()
            for other in links[node]:
                if other != removed and other not in seen:
                    seen.add(other)
                    todo.append(other)
        if len(seen) != len(rest):
            return False
    return True
