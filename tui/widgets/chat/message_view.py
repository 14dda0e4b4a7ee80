"""How one message looks: an IRC-style line (time, author, text) whose wrapped lines hang under the text.

A :class:`MessageVisual` is a Textual ``Visual``: the message list asks it for its height at a width and for
the strips of its lines, only for messages on screen. FLASH messages carry a red badge and say who must still
acknowledge; retracted ones show that they were retracted, not their text (the log keeps it for HQ). A long
message is folded to its first :data:`FOLD_LINES` lines and a "show more" line until the person unfolds it.
A message whose time is doubtful says so on a line of its own (:func:`time_doubt_note`). Member text arrives
made safe (``tui.format.shown``/``shown_body``, names through ``MeshchatApp.name_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual

from meshchat.log.flash import FlashStatus
from meshchat.log.views import Message, time_doubt_text
from tui.format import clock_day, clock_time, names, same_day, shown, shown_body
from tui.widgets.attachments.lines import block_height, file_lines

NAME_WIDTH = 10
FOLD_LINES = 8  # a longer message shows this many lines and "show more" until it is unfolded
GUTTER = 2 + 5 + 1 + NAME_WIDTH + 1  # "▌ 07:10 Bo········ ": a red bar marks every line of a FLASH
PRIORITY_BADGES = {"flash": "FLASH", "immediate": "IMMEDIATE", "priority": "PRIORITY"}


@dataclass(frozen=True, slots=True)
class MessageLook:
    """What the list knows beyond the message itself, to draw it."""

    author_name: str
    show_author: bool  # False for a follow-up by the same author a moment later
    me: bytes
    reply_preview: str = ""  # "Bo: first words…" of the message answered, if any
    flash_line: tuple[str, str] = ("", "")  # a FLASH's acknowledgement line and its style (see flash_line)
    mentions_me: bool = False  # the text calls this person by @name
    files: tuple[tuple[str, str], ...] = ()  # where each attached file stands here: words and style
    relayed_by: str = ""  # the member whose bridge relayed an outsider's post (Message.via); its name, safe


def message_content(msg: Message, look: MessageLook) -> Content:
    """The body of a message (everything right of the gutter)."""
    if msg.retracted:
        return Content.styled("✗ message retracted (kept in the log)", "italic $text-muted")
    parts: list[Content | str | tuple[str, str]] = []
    if look.reply_preview:
        parts.append((f"↳ {look.reply_preview}\n", "$text-muted"))
    if msg.via is not None:  # never shown as if a member wrote it: the network, and whose bridge relayed it
        parts.append((f" {msg.via.net.upper()} ", "bold $text-warning on $warning-muted"))
        parts.append((f" via {look.relayed_by} ", "italic $text-muted"))
    badge = PRIORITY_BADGES.get(msg.priority)
    text = shown_body(msg.text)  # its later lines hang under the text, right of the gutter
    if badge == "FLASH":
        parts.append((f" {badge} ", "bold $text-error on $error-muted"))
        parts.append(" ")
        parts.append((text, "bold"))
    elif badge:
        parts.append((f" {badge} ", "bold $text-warning on $warning-muted"))
        parts.append(" ")
        parts.append(text)
    else:
        parts.append(text)
    if msg.ack_required and look.flash_line[0]:
        parts.append(("\n" + look.flash_line[0], look.flash_line[1]))
    if msg.pinned:
        parts.append(("  ◆ pinned", "$accent"))
    doubt = time_doubt_note(msg)
    if doubt:
        parts.append(("\n" + doubt, "$text-warning"))
    if msg.files:
        parts.append(file_lines(msg.files, look.files))
    return Content.assemble(*parts)


def time_doubt_note(msg: Message) -> str:
    """The line under a message whose time is doubtful (``meshchat.log.views.TimeDoubt``): its author's clock
    says another time than where the team's evidence puts it, or it reached this node long after later
    messages had. Empty when its time is sound. A time on another day than the message's place says the day."""
    doubt = msg.time_doubt
    if doubt is None:
        return ""

    def when(ms: int) -> str:
        return clock_time(ms) if same_day(ms, msg.clock) else f"{clock_day(ms)} {clock_time(ms)}"

    return f"⏱ time doubtful: {time_doubt_text(doubt, when)}"


def owes_ack(msg: Message, me: bytes) -> bool:
    return msg.ack_required and msg.author != me and me not in msg.acked_by


def flash_line(msg: Message, status: FlashStatus, me: bytes, name_of: Callable[[bytes], str]) -> tuple[str, str]:
    """The line under a FLASH: whether this person still owes an acknowledgement, how many have given theirs,
    and, for the sender, who has not (silent or unreachable once it is overdue). With its style."""
    expected = len(status.acked) + len(status.waiting)
    count = len(status.acked)
    if owes_ack(msg, me):
        late = "OVERDUE · " if status.overdue else ""
        return f"◀ {late}needs your ack (Enter, a) · {count} of {expected} acked", "bold $text-warning"
    if expected == 0:
        return "(nobody else in the team to acknowledge yet)", "$text-muted"
    if status.done:
        return f"✓ acked by all {expected}", "$text-success"
    if msg.author == me and status.overdue:
        parts = [f"⚠ overdue · {count} of {expected} acked"]
        if status.silent:
            parts.append("silent: " + ", ".join(name_of(k) for k in status.silent))
        if status.unreachable:
            parts.append("unreachable: " + ", ".join(name_of(k) for k in status.unreachable))
        return " · ".join(parts), "bold $text-error"
    waiting = f" · waiting for {names(status.waiting, name_of)}" if msg.author == me else ""
    return f"✓ {count} of {expected} acked{waiting}", "$text-muted"


def gutter_content(msg: Message, look: MessageLook) -> Content:
    name = look.author_name if look.show_author else ""
    if len(name) > NAME_WIDTH:
        name = name[: NAME_WIDTH - 1] + "…"
    author_style = "bold $text-error" if msg.is_flash else ("bold $text-accent" if msg.author == look.me else "bold")
    if msg.via is not None:
        author_style = "italic $text-warning"
    return Content.assemble(
        flash_bar(msg, look),
        (clock_time(msg.clock), "$text-muted"),
        " ",
        (name.ljust(NAME_WIDTH), author_style),
        " ",
    )


def flash_bar(msg: Message, look: MessageLook | None = None) -> Content:
    """The mark left of every line of a message: a red bar for a FLASH, ``@`` where it mentions this person."""
    if msg.retracted:
        return Content("  ")
    if msg.is_flash:
        return Content.styled("▌ ", "$error")
    if look is not None and look.mentions_me:
        return Content.styled("@ ", "bold $text-warning")
    return Content("  ")


class MessageVisual(Visual):
    """One message: a fixed gutter on the first line, the body wrapped beside it; folded if long and asked."""

    def __init__(self, msg: Message, look: MessageLook, *, folded: bool = True) -> None:
        self.msg = msg
        self.look = look
        self.folded = folded
        self._gutter = gutter_content(msg, look)
        self._body = message_content(msg, look)
        self._heights: dict[int, int] = {}  # body width -> lines of the whole body
        # A long message folds its text: the lines of its files (and their previews) at its end always show.
        self._file_lines = block_height(msg.files) if msg.files and not msg.retracted else 0
        self._fold_at = FOLD_LINES + self._file_lines

    @property
    def plain(self) -> str:
        """The text a person would read (tests and search use it)."""
        return self._gutter.plain + self._body.plain

    @property
    def file_lines(self) -> int:
        """Lines at the end that show the message's files (below the "more lines" line of a folded one)."""
        return self._file_lines

    def body_height(self, rules: RulesMap, width: int) -> int:
        """Lines of the whole (unfolded) body at ``width`` cells for the visual."""
        body_width = max(1, width - GUTTER)
        height = self._heights.get(body_width)
        if height is None:
            height = self._heights[body_width] = self._body.get_height(rules, body_width)
        return height

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return GUTTER + self._body.get_optimal_width(rules, container_width)

    def get_height(self, rules: RulesMap, width: int) -> int:
        full = self.body_height(rules, width)
        return self._fold_at + 1 if self.folded and full > self._fold_at + 1 else full

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        body_width = max(1, width - GUTTER)
        gutter = self._gutter.render_strips(GUTTER, 1, style, options)
        body = self._body.render_strips(body_width, None, style, options)
        if self.folded and len(body) > self._fold_at + 1:
            more = Content.styled(f"… {len(body) - self._fold_at} more lines · → shows all", "italic $text-accent")
            files = body[len(body) - self._file_lines :] if self._file_lines else []
            body = body[:FOLD_LINES] + more.render_strips(body_width, 1, style, options) + files
        follow = flash_bar(self.msg, self.look).truncate(GUTTER, pad=True).render_strips(GUTTER, 1, style, options)
        lines = []
        for index, line in enumerate(body):
            left = gutter[0] if index == 0 and gutter else follow[0]
            lines.append(Strip.join([left.extend_cell_length(GUTTER, style.rich_style), line]))
        return lines


def reply_preview(msg: Message, name_of: Callable[[bytes], str], width: int = 40) -> str:
    """``Bo: Arrived at the staging…`` for the line above a reply."""
    text = "retracted message" if msg.retracted else shown(" ".join(msg.text.split()))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"{name_of(msg.author)}: {text}"


class DaySeparator(Visual):
    """``───── Wed 25 Nov 2026 ─────`` across the list, where the day changes (and, in the accent colour,
    ``───── new since you left ─────`` above the first unread message)."""

    def __init__(self, label: str, *, accent: bool = False) -> None:
        self.label = label
        self.accent = accent

    @property
    def plain(self) -> str:
        return self.label

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return len(self.label) + 8

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        label = f" {self.label} "
        left = max(0, (width - len(label)) // 2)
        right = max(0, width - left - len(label))
        rule, text = ("$accent", "bold $text-accent") if self.accent else ("$text-muted 40%", "$text-muted")
        line = Content.assemble(("─" * left, rule), (label, text), ("─" * right, rule))
        return line.render_strips(width, 1, style, options)
