"""Roll calls: one row per check-in, and the answers of the highlighted one (names, not counts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from textual.content import Content
from textual.widgets import Static

from meshchat.events import Heard
from meshchat.log.views import Checkin
from tui.format import clock_time, heard_text, names, shown
from tui.widgets.table import Column, Table


def answer_counts(checkin: Checkin, unreachable: frozenset[bytes] = frozenset()) -> Content:
    safe = sum(r.status == "safe" for r in checkin.replies.values())
    help_ = sum(r.status == "need_help" for r in checkin.replies.values())
    parts: list[Content | str | tuple[str, str]] = [(f"{safe} safe", "$text-success")]
    if help_:
        parts += [" · ", (f"{help_} NEED HELP", "bold $text-error")]
    cut_off = sum(k in unreachable for k in checkin.missing)
    if len(checkin.missing) > cut_off:
        parts += [" · ", (f"{len(checkin.missing) - cut_off} not answered", "bold $text-warning")]
    if cut_off:
        parts += [" · ", (f"{cut_off} unreachable", "bold $text-error")]
    return Content.assemble(*parts)


class RollCallTable(Table):
    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("Time", 5),
        Column("Roll call", min_width=16),
        Column("Asked by", 10),
        Column("Answers", min_width=16),
    )
    EMPTY = "No roll calls yet."

    def show_checkins(
        self, checkins: Sequence[Checkin], name_of: Callable[[bytes], str], unreachable: frozenset[bytes] = frozenset()
    ) -> None:
        self.show(
            [
                (
                    c.checkin.hex(),
                    [
                        Content.styled(clock_time(c.clock), "$text-muted"),
                        Content(shown(c.question)),
                        Content(name_of(c.requested_by)),
                        answer_counts(c, unreachable),
                    ],
                )
                for c in checkins
            ]
        )


def answers_text(
    checkin: Checkin,
    me: bytes,
    name_of: Callable[[bytes], str],
    unreachable: frozenset[bytes] = frozenset(),
    heard: Mapping[bytes, Heard] | None = None,
) -> Content:
    """Who needs help (with their notes), who is safe, who has not answered though heard from lately, who is
    unreachable (and when and how last heard: the roll call may not have reached them), and my answer."""
    need = [k for k, r in checkin.replies.items() if r.status == "need_help"]
    safe = [k for k, r in checkin.replies.items() if r.status == "safe"]
    parts: list[Content | str | tuple[str, str]] = [(shown(checkin.question) + "\n", "bold")]
    if need:
        notes = [name_of(k) + (f" ({shown(checkin.replies[k].note)})" if checkin.replies[k].note else "") for k in need]
        parts += [("NEED HELP    ", "bold $text-error"), ", ".join(notes) + "\n"]
    parts += [("Safe         ", "$text-success"), (names(safe, name_of) or "nobody yet") + "\n"]
    quiet = [k for k in checkin.missing if k not in unreachable]
    cut_off = [k for k in checkin.missing if k in unreachable]
    if quiet:
        parts += [("Not answered ", "bold $text-warning"), names(quiet, name_of) + "\n"]
    if cut_off:
        where = [f"{name_of(k)} ({heard_text((heard or {}).get(k), name_of)})" for k in cut_off]
        parts += [("Unreachable  ", "bold $text-error"), "; ".join(where) + "\n"]
    if not checkin.missing:
        parts.append(("Everyone has answered.\n", "$text-success"))
    mine = checkin.replies.get(me)
    if mine is not None:
        parts.append(("You answered: " + ("safe" if mine.status == "safe" else "need help"), "$text-muted"))
    elif me != checkin.requested_by:
        parts.append(("You have not answered: press s (safe) or h (need help)", "bold $text-warning"))
    return Content.assemble(*parts)


class RollCallAnswers(Static):
    def show(
        self,
        checkin: Checkin | None,
        me: bytes,
        name_of: Callable[[bytes], str],
        unreachable: frozenset[bytes] = frozenset(),
        heard: Mapping[bytes, Heard] | None = None,
    ) -> None:
        if checkin is None:
            self.update(Content.styled("No roll call yet. Admins start one with n.", "$text-muted"))
        else:
            self.update(answers_text(checkin, me, name_of, unreachable, heard))
