"""Roll calls: one row per check-in, and the answers of the highlighted one (names, not counts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.content import Content
from textual.widgets import DataTable, Static

from meshchat.log.views import Checkin, Message
from tui.format import clock_time, names, plural


def answer_counts(checkin: Checkin) -> Content:
    safe = sum(r.status == "safe" for r in checkin.replies.values())
    help_ = sum(r.status == "need_help" for r in checkin.replies.values())
    parts: list[Content | str | tuple[str, str]] = [(f"{safe} safe", "$text-success")]
    if help_:
        parts += [" · ", (f"{help_} NEED HELP", "bold $text-error")]
    if checkin.missing:
        parts += [" · ", (f"{len(checkin.missing)} not answered", "bold $text-warning")]
    return Content.assemble(*parts)


class RollCallTable(DataTable[Content]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Time", key="time", width=6)
        self.add_column("Roll call", key="question")
        self.add_column("Asked by", key="by", width=12)
        self.add_column("Answers", key="answers")

    def show(self, checkins: Sequence[Checkin], name_of: Callable[[bytes], str]) -> None:
        keep = self.selected_key
        self.clear()
        for checkin in checkins:
            self.add_row(
                Content.styled(clock_time(checkin.clock), "$text-muted"),
                Content(checkin.question),
                Content(name_of(checkin.requested_by)),
                answer_counts(checkin),
                key=checkin.checkin.hex(),
            )
        if keep is not None and keep in {c.checkin.hex() for c in checkins}:
            self.move_cursor(row=self.get_row_index(keep))

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value


def answers_text(checkin: Checkin, me: bytes, name_of: Callable[[bytes], str]) -> Content:
    """Who needs help (with their notes), who is safe, who has not answered, and what I answered."""
    need = [k for k, r in checkin.replies.items() if r.status == "need_help"]
    safe = [k for k, r in checkin.replies.items() if r.status == "safe"]
    parts: list[Content | str | tuple[str, str]] = [(checkin.question + "\n", "bold")]
    if need:
        notes = [f"{name_of(k)}" + (f" ({checkin.replies[k].note})" if checkin.replies[k].note else "") for k in need]
        parts += [("NEED HELP   ", "bold $text-error"), ", ".join(notes) + "\n"]
    parts += [("Safe        ", "$text-success"), (names(safe, name_of) or "nobody yet") + "\n"]
    parts += [("Not answered ", "$text-warning"), (names(checkin.missing, name_of) or "everyone answered") + "\n"]
    mine = checkin.replies.get(me)
    if mine is not None:
        parts.append(("You answered: " + ("safe" if mine.status == "safe" else "need help"), "$text-muted"))
    elif me != checkin.requested_by:
        parts.append(("You have not answered: press s (safe) or h (need help)", "bold $text-warning"))
    return Content.assemble(*parts)


class RollCallAnswers(Static):
    def show(self, checkin: Checkin | None, me: bytes, name_of: Callable[[bytes], str]) -> None:
        if checkin is None:
            self.update(Content.styled("No roll call yet. Admins start one with n.", "$text-muted"))
        else:
            self.update(answers_text(checkin, me, name_of))


def flash_summary(messages: Sequence[Message]) -> str:
    return plural(len(messages), "FLASH message") + " waiting for your acknowledgement" if messages else ""
