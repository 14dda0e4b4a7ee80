"""When an entry counts: its effective clock, from the log alone.

An entry's ``clock`` is whatever its author's laptop said, or whatever a modified client wrote. Orders that
matter (the last writer of an incident field, where a message sits in a room) must not rest on it alone. The
log holds better evidence: every node signs, now and then and whenever it stores an entry whose clock is far
from its own, a ``heads`` entry naming what it holds. Such a *statement* by member B at clock ``w`` naming A's
seq ``s`` shows that A's entries up to ``s`` existed by ``w`` (by B's clock). So:

- **Upper bound, from witnesses.** For A's entry ``s``, each other member B that named A's log at ``s`` or later
  witnessed it, at the clock of its earliest such statement. ``T(s)`` is the time by which *more than half* of
  those witnesses held it (one liar, or one honest node whose clock is a day behind, cannot move it), made
  non-decreasing along A's chain (an entry exists after the ones before it). A clock far ahead of real time is
  thus brought back to when the team first held the entry; an honest entry is never moved, since every honest
  witness holds it only after it was written. A statement whose clock lies well before most of what it names,
  from two authors or more (its writer's clock is behind the team's), is no witness.
- **Lower bound, from the author's own chain.** A's own statement ``h`` names what A held when it wrote ``h``,
  so A's later entries were written after those entries. ``L(s)`` is the highest ``floor(h)`` over A's
  statements before ``s``, where ``floor(h)`` is the latest of the named entries' times, each bounded by its
  own ``T``. A member whose clock is behind, or who backdates after having said what it held, is placed after
  what it had seen.

``effective = max(L(s), min(clock, T(s)))``. It depends only on the entries held, so every node that holds the
same entries computes the same value, whatever order they arrived in; it is non-decreasing along each author's
chain, so an author's entries keep their order. What it guarantees, and what it does not, is in
``docs/architecture.md`` ("Time").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from meshchat.log.clock import MAX_DRIFT_MS

NEVER = 2**62  # no witness: the entry's own clock stands


@dataclass(frozen=True, slots=True)
class Statement:
    """A signed ``heads`` entry as the timing needs it: who wrote it where, and what it names, each with the
    clock of the named entry as this log holds it (``None``: not held here, or another entry at that seq)."""

    witness: bytes
    wseq: int
    wclock: int
    named: tuple[tuple[bytes, int, int | None], ...]  # (author, seq, clock)

    def others(self) -> list[int]:
        """The clocks of the named entries of other authors, sorted."""
        return sorted(c for a, _, c in self.named if a != self.witness and c is not None)

    @property
    def credible(self) -> bool:
        """Whether its clock may bound others. Not when most of the other authors it names, two or more of
        them, claim clocks beyond the drift bound after it: its writer's clock is behind the team's (a node a
        day slow names entries of "tomorrow"). One author ahead of it is that author's clock, not the
        witness's: it is exactly what witnesses are for."""
        ahead = {a for a, _, c in self.named if a != self.witness and c is not None and c > self.wclock + MAX_DRIFT_MS}
        others = {a for a, _, c in self.named if a != self.witness and c is not None}
        return len(ahead) < 2 or 2 * len(ahead) <= len(others)

    def lowers(self) -> list[bytes]:
        """The authors one of whose named entries claims a clock after this statement's: the only ones it can
        bound (for every other author it agrees with the claims)."""
        return [a for a, _, c in self.named if a != self.witness and c is not None and c > self.wclock]

    @property
    def may_raise(self) -> bool:
        """Whether something it names claims a clock after its own, so that its author's later entries may sit
        before what their author had seen (a clock behind, or a backdater): only then can its floor matter."""
        others = self.others()
        return bool(others) and others[-1] > self.wclock


@dataclass(slots=True)
class _Steps:
    """A non-decreasing step function of seq: ``value(s)`` is ``values[i]`` for the first ``bounds[i] >= s``
    (``bounds`` ascending), and ``after`` past the last bound."""

    bounds: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    after: int = NEVER

    def value(self, seq: int) -> int:
        i = bisect_left(self.bounds, seq)
        return self.values[i] if i < len(self.values) else self.after


@dataclass(slots=True)
class _Floors:
    """``L``: after each of an author's raising statements (by wseq), the highest floor so far."""

    wseqs: list[int] = field(default_factory=list)
    floors: list[int] = field(default_factory=list)

    def value(self, seq: int) -> int:
        i = bisect_left(self.wseqs, seq)  # statements strictly before seq
        return self.floors[i - 1] if i else -NEVER


class Timing:
    """Effective clocks of one log. Feed it every statement (``add``; a statement added again replaces the
    first, e.g. once the entries it names have arrived), then ask :meth:`effective`.

    ``counts(author, seq)`` says whether an entry has effect at all (its author a member, within its removal
    cut and fork limit): a statement that does not count is no evidence. Work is proportional to the
    evidence that moves something: statements that agree with every claim cost one pass when added."""

    def __init__(self, counts: Callable[[bytes, int], bool]) -> None:
        self.counts = counts
        self.statements: dict[tuple[bytes, int], Statement] = {}
        self.lines: dict[bytes, list[tuple[int, bytes, int, int]]] = {}  # author -> (seq, witness, wseq, wclock)
        self.suspects: set[bytes] = set()  # authors some credible statement bounds below a claim
        self.raisers: dict[bytes, list[Statement]] = {}  # author -> its statements that may raise
        self._upper: dict[bytes, _Steps] = {}
        self._lower: dict[bytes, _Floors] = {}
        self._stale = False

    def add(self, statement: Statement) -> None:
        key = (statement.witness, statement.wseq)
        old = self.statements.get(key)
        self.statements[key] = statement
        if old is not None:
            self._forget(old)
        credible = statement.credible
        for author, seq, _ in statement.named:
            if author != statement.witness and credible:
                self.lines.setdefault(author, []).append((seq, statement.witness, statement.wseq, statement.wclock))
        if credible:
            self.suspects.update(statement.lowers())
        if statement.may_raise:
            self.raisers.setdefault(statement.witness, []).append(statement)
        self._stale = True

    def _forget(self, old: Statement) -> None:
        for author, seq, _ in old.named:
            lines = self.lines.get(author)
            line = (seq, old.witness, old.wseq, old.wclock)
            if lines and line in lines:
                lines.remove(line)
        raisers = self.raisers.get(old.witness)
        if raisers and old in raisers:
            raisers.remove(old)

    def extend(self, statements: Iterable[Statement]) -> None:
        for statement in statements:
            self.add(statement)

    # ---- the bounds ----------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        if not self._stale:
            return
        self._upper = {author: self._witness_bound(author) for author in self.suspects}
        self._lower = {}
        for author, statements in self.raisers.items():
            floors = _Floors()
            best = -NEVER
            for statement in sorted(statements, key=lambda s: s.wseq):
                if not self.counts(statement.witness, statement.wseq):
                    continue
                best = max(best, self._floor(statement))
                floors.wseqs.append(statement.wseq)
                floors.floors.append(best)
            if floors.wseqs:
                self._lower[author] = floors
        self._stale = False

    def _witness_bound(self, author: bytes) -> _Steps:
        """``T`` for ``author``: at each named seq, the majority time of the witnesses of that seq or later."""
        lines = sorted(
            (line for line in self.lines.get(author, ()) if self.counts(line[1], line[2])), key=lambda line: -line[0]
        )
        earliest: dict[bytes, int] = {}  # witness -> its earliest statement naming the current seq or later
        bounds: list[int] = []
        values: list[int] = []
        i = 0
        while i < len(lines):
            seq = lines[i][0]
            while i < len(lines) and lines[i][0] == seq:
                _, witness, _, wclock = lines[i]
                earliest[witness] = min(wclock, earliest.get(witness, NEVER))
                i += 1
            times = sorted(earliest.values())
            bounds.append(seq)
            values.append(times[len(times) // 2])  # more than half of the witnesses held it by then
        bounds.reverse()
        values.reverse()
        for j in range(1, len(values)):  # non-decreasing along the chain
            values[j] = max(values[j], values[j - 1])
        return _Steps(bounds, values)

    def _floor(self, statement: Statement) -> int:
        """Just after what a statement proves its author had seen: the latest of the named entries' times, each
        bounded by its witnesses (so an entry from 2076 it names counts from when the team held it), plus one."""
        return 1 + max(
            (
                min(clock, self._upper_at(author, seq))
                for author, seq, clock in statement.named
                if author != statement.witness and clock is not None
            ),
            default=-NEVER,
        )

    def upper(self, author: bytes, seq: int) -> int:
        """``T``: by when the team held ``author``'s entry ``seq`` (``NEVER``: no bound below its claim)."""
        self._refresh()
        return self._upper_at(author, seq)

    def _upper_at(self, author: bytes, seq: int) -> int:
        steps = self._upper.get(author)
        return steps.value(seq) if steps is not None else NEVER

    def lower(self, author: bytes, seq: int) -> int:
        """``L``: after what its author provably had when it wrote entry ``seq``."""
        self._refresh()
        floors = self._lower.get(author)
        return floors.value(seq) if floors is not None else -NEVER

    def effective(self, author: bytes, seq: int, clock: int) -> int:
        """Where entry ``(author, seq)`` with its claimed ``clock`` sits in the team's order."""
        self._refresh()
        steps = self._upper.get(author)
        floors = self._lower.get(author)
        value = clock if steps is None else min(clock, steps.value(seq))
        return value if floors is None else max(value, floors.value(seq))

    def last_witnessed(self, author: bytes) -> tuple[int, int] | None:
        """``(seq, T)`` for the latest of ``author``'s entries the witnesses place below its claim somewhere in
        its chain (``None``: they move none of its entries): how a node learns its own clock runs ahead."""
        self._refresh()
        steps = self._upper.get(author)
        if steps is None or not steps.bounds:
            return None
        return steps.bounds[-1], steps.values[-1]

    def touched(self) -> set[bytes]:
        """Authors some of whose entries may not sit at their claims (everyone else's always do)."""
        self._refresh()
        return set(self._upper) | set(self._lower)

    def ranges(self, author: bytes) -> list[tuple[int, int, int, int]]:
        """``(first, last, upper, lower)``: runs of ``author``'s seqs over which ``T`` and ``L`` are constant
        (``last`` may be ``NEVER``). Only entries whose claim lies above ``upper`` or below ``lower`` move: the
        store finds them with one index seek per run."""
        self._refresh()
        steps = self._upper.get(author, _Steps())
        floors = self._lower.get(author, _Floors())
        cuts = sorted({*steps.bounds, *floors.wseqs, NEVER})
        out = []
        first = 1
        for last in cuts:
            if last >= first:
                out.append((first, last, steps.value(last), floors.value(last)))
            first = last + 1
        return out
