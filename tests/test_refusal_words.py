"""Refusals in plain words (issue 14.9): who may do it, what you are, what to do; and who may invite whom."""

from __future__ import annotations

from meshchat.log.rules import MIN_ROLE, Role, invitable_roles, refusal_words


def test_refusals_say_who_may_what_you_are_and_what_to_do() -> None:
    assert refusal_words("room.create", Role.MEMBER) == "Only admins can create rooms; you are a member: ask an admin"
    assert refusal_words("msg.post", Role.OBSERVER) == (
        "Only members and admins can post messages; you are an observer: ask an admin to change your role"
    )
    assert "you are not a member of this team" in refusal_words("checkin.reply", None)
    for kind in MIN_ROLE:  # every kind with a role has its words: no jargon like "room.create" reaches a person
        assert kind not in refusal_words(kind, Role.OBSERVER)


def test_who_may_invite_whom() -> None:
    assert invitable_roles(None) == invitable_roles(Role.OBSERVER) == invitable_roles(Role.MEMBER) == ()
    assert invitable_roles(Role.ADMIN) == (Role.OBSERVER, Role.MEMBER)
    assert invitable_roles(Role.OWNER) == (Role.OBSERVER, Role.MEMBER, Role.ADMIN)
