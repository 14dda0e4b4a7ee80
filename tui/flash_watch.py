"""What the app keeps watching about FLASH messages, once a second and whenever messages change.

It reads, with one reading of the node's facts (``Node.flash_statuses``): the FLASHes waiting for this
person's acknowledgement, and their own recent FLASHes with who still owes one. From that come the banner on
every screen, the statuses the chat draws under each FLASH, and (through :class:`~tui.alarm.FlashAlarm`)
when to ring and which desktop notifications to send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from textual.content import Content

from meshchat.events import Heard
from meshchat.log.flash import FlashStatus, split_by_reach
from meshchat.log.views import Message
from meshchat.node import Node
from tui.alarm import Alarm, FlashAlarm, Owed
from tui.format import clock_time, heard_text, shown

FOLLOW_MS = 24 * 3600 * 1000  # own FLASHes older than this no longer hold a banner (F3 still lists them)
PREVIEW = 60


@dataclass(frozen=True)
class FlashFacts:
    owed: tuple[Owed, ...] = ()  # waiting for my acknowledgement, oldest first
    mine: tuple[tuple[Message, FlashStatus], ...] = ()  # my recent FLASHes still waiting for someone
    heard: dict[bytes, Heard] = field(default_factory=dict)
    unreachable: frozenset[bytes] = frozenset()  # members not heard from for UNREACHABLE_AFTER_MS (or never)
    now_ms: int = 0

    @property
    def signature(self) -> tuple[object, ...]:
        """What the screens show of these facts: when it changes, they redraw."""
        return (
            tuple((o.message.id, o.status.overdue) for o in self.owed),
            tuple((m.id, s.overdue, s.silent, s.unreachable, s.acked) for m, s in self.mine),
            self.unreachable,
        )


class FlashWatch:
    def __init__(self, node: Node, name_of: Callable[[bytes], str]) -> None:
        self.node = node
        self.name_of = name_of
        self.alarm = FlashAlarm()
        self.facts = FlashFacts()
        self._statuses: dict[bytes, FlashStatus] = {}
        self._acked: dict[bytes, tuple[bytes, ...]] = {}  # the acknowledgements each status was read with

    def read(self, now_ms: int, unacknowledged: Sequence[Message]) -> FlashFacts:
        node = self.node
        mine = [m for m in node.views.flashes_by(node.me) if now_ms - m.clock < FOLLOW_MS]
        messages = [*unacknowledged, *mine]
        statuses = node.flash_statuses(messages, now_ms)
        self._statuses = {m.id: s for m, s in zip(messages, statuses, strict=True)}
        self._acked = {m.id: m.acked_by for m in messages}
        owed = tuple(Owed(m, self._statuses[m.id]) for m in unacknowledged)
        waiting = tuple((m, self._statuses[m.id]) for m in mine if not self._statuses[m.id].done)
        heard = node.last_heard()
        members = [k for k, m in node.membership.members.items() if m.role is not None and k != node.me]
        _, unreachable = split_by_reach(members, {k: h.at_ms for k, h in heard.items()}, now_ms)
        self.facts = FlashFacts(owed, waiting, heard, frozenset(unreachable), now_ms)
        return self.facts

    def tick(self, now_ms: int) -> Alarm:
        return self.alarm.tick(now_ms, self.facts.owed, self.facts.mine)

    def status_of(self, message: Message, now_ms: int) -> FlashStatus:
        """The status the screens show for ``message`` (read with the others when it is one of them)."""
        status = self._statuses.get(message.id)
        if status is None or self._acked.get(message.id) != message.acked_by:  # an ack came since the last read
            status = self.node.flash_status(message, now_ms)
        return status

    # ---- words -------------------------------------------------------------------------------------------------

    def banner_lines(self) -> list[Content]:
        """The banner on every screen: the FLASH waiting for me (the oldest first: it has waited longest), how
        many more, and each of my own overdue FLASHes with who is silent and who is unreachable."""
        lines: list[Content] = []
        owed = self.facts.owed
        if owed:
            first = owed[0]
            overdue = any(o.status.overdue for o in owed)
            head = "⚑ OVERDUE FLASH" if first.status.overdue else "⚑ FLASH"
            more = f"  (+{len(owed) - 1} more)" if len(owed) > 1 else ""
            lines.append(
                Content.assemble(
                    (f" {head} ", "bold reverse" if overdue else "bold"),
                    f" {clock_time(first.message.clock)} {self.name_of(first.message.author)}: ",
                    (_preview(first.message.text), "bold"),
                    f"{more}  → F3 then a",
                )
            )
        for message, status in self.facts.mine:
            if status.overdue:
                lines.append(Content(self.overdue_text(message, status)))
        return lines

    def sent_lines(self) -> list[Content]:
        """My FLASHes still waiting for someone, for the check-ins screen: who has not acknowledged, and for
        each whether they are silent (heard from lately) or unreachable (and when and how last heard)."""
        lines = []
        for message, status in self.facts.mine:
            waiting = [f"{self.name_of(k)} (silent)" for k in status.silent]
            waiting += [f"{w}" for w in self.unreachable_words(status.unreachable, unreachable=True)]
            lines.append(
                Content.assemble(
                    ("OVERDUE ", "bold $text-error") if status.overdue else "",
                    (f"{clock_time(message.clock)} ", "$text-muted"),
                    (f"“{_preview(message.text, 40)}” ", "bold"),
                    f"{len(status.acked)} of {len(status.acked) + len(status.waiting)} acked · waiting for ",
                    "; ".join(waiting),
                )
            )
        return lines

    def overdue_text(self, message: Message, status: FlashStatus) -> str:
        who = []
        if status.silent:
            who.append("silent: " + ", ".join(self.name_of(k) for k in status.silent))
        if status.unreachable:
            who.append("unreachable: " + "; ".join(self.unreachable_words(status.unreachable)))
        return (
            f"⚑ Your FLASH {clock_time(message.clock)} “{_preview(message.text, 40)}” is overdue, "
            f"{len(status.acked)} of {len(status.acked) + len(status.waiting)} acked · " + " · ".join(who)
        )

    def unreachable_words(self, keys: Sequence[bytes], *, unreachable: bool = False) -> list[str]:
        """``Cy (last heard 07:02 via Bo's node)``: who, and when and how this node last heard from them."""
        label = "unreachable, " if unreachable else ""
        return [f"{self.name_of(k)} ({label}{heard_text(self.facts.heard.get(k), self.name_of)})" for k in keys]

    def notification(self, kind: str, message: Message) -> tuple[str, str]:
        """A desktop notification's title and body."""
        who = self.name_of(message.author)
        if kind == "new":
            return f"FLASH from {who}", message.text
        if kind == "overdue":
            return f"Overdue FLASH from {who}: acknowledge it", message.text
        status = self._statuses.get(message.id)
        return "Your FLASH is overdue", self.overdue_text(message, status) if status else message.text


def _preview(text: str, width: int = PREVIEW) -> str:
    one = shown(" ".join(text.split()))
    return one if len(one) <= width else one[: width - 1] + "…"
