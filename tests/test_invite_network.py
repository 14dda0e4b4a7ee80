"""Invites between real nodes on 127.0.0.1: a photographed, used, revoked or expired code admits no one and
reads nothing, never takes membership from whoever used it first, and the code never carries the network key.

The thief in these tests has the code and sets its clock as it likes (``wall_ms`` patched to an instant just
after the invite was made): no decision may rest on that clock.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat import invites, replica
from meshchat.events import InviteRefused, NodeEvent, NodeProblem
from meshchat.identity import Identity
from meshchat.invites import InviteCode, create_invite, join_team
from meshchat.log.clock import wall_ms
from meshchat.log.netkeys import stale_rotation
from meshchat.log.rules import Role
from meshchat.node import Node
from meshchat.profile import Profile, ProfileError
from meshchat.proto.connection import Connection
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.events import HandshakeComplete
from meshchat.proto.handshake import Credentials, Side, invite_hello_key
from meshchat.testing import loopback_config, room_texts, running_node, team_homes, wait_until

pytestmark = pytest.mark.usefixtures("mock_clock")  # real sockets on 127.0.0.1, virtual time


def backdate(monkeypatch: pytest.MonkeyPatch, to: int) -> None:
    """The thief's laptop clock: whatever it likes (here: just after the invite was made)."""
    monkeypatch.setattr(invites, "wall_ms", lambda: to)


async def joined(home: Path, code: InviteCode, stack: AsyncExitStack, name: str) -> Node:
    join_team(home, code, display_name=name).close()
    return await stack.enter_async_context(running_node(home, loopback_config(listen=None)))


@asynccontextmanager
async def watched_newcomer(home: Path, code: InviteCode, name: str) -> AsyncIterator[tuple[Node, Told]]:
    """A newcomer's node, its events watched from before it starts."""
    join_team(home, code, display_name=name).close()
    async with watched_node(home) as watched:
        yield watched


@asynccontextmanager
async def watched_node(home: Path) -> AsyncIterator[tuple[Node, Told]]:
    """The node of ``home`` (not listening), its events watched from before it starts."""
    node = Node.open(home, loopback_config(listen=None))
    told = refusals(node)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            yield node, told
            nursery.cancel_scope.cancel()
    finally:
        node.close()


Told = Callable[[], list[str]]


def refusals(node: Node) -> Told:
    """What the node told its users about its invite: the reasons of ``InviteRefused`` events, each checked to
    come with the ``NodeProblem`` a UI shows (what happened, and what to do)."""
    events = node.events()
    reasons: list[str] = []
    problems: list[str] = []

    def received() -> list[str]:
        while True:
            try:
                event: NodeEvent = events.receive_nowait()
            except trio.WouldBlock:
                break
            if isinstance(event, InviteRefused):
                reasons.append(event.reason)
            elif isinstance(event, NodeProblem):
                problems.append(event.message)
        for reason in reasons:
            assert f"The team refused your invite: {reason}. What to do: ask an admin" in " ".join(problems)
        return reasons

    return received


async def test_a_photographed_code_used_after_the_newcomer_gets_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home,) = team_homes(tmp_path, 1)
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(running_node(home, loopback_config()))
        made = wall_ms()
        code = InviteCode.decode(await ana.create_invite(role="member"))
        await ana.post("general", "for members only")
        bo = await joined(tmp_path / "bo", code, stack, "Bo")
        await wait_until(lambda: ana.membership.role_of(bo.me) is Role.MEMBER and bo.my_role() is Role.MEMBER)
        backdate(monkeypatch, made + 1)
        thief, told = await stack.enter_async_context(watched_newcomer(tmp_path / "thief", code, "Thief"))
        await wait_until(lambda: any("invite was already used" in p.error for p in thief.peers()))
        await wait_until(lambda: "invite was already used" in told())
        assert thief.profile.store.count() == 0, "the thief reads nothing"
        assert thief.network.linked_keys() == []
        assert ana.membership.role_of(thief.me) is None
        assert ana.membership.role_of(bo.me) is Role.MEMBER and bo.my_role() is Role.MEMBER, "Bo keeps its place"
        assert "for members only" in room_texts(bo)


@pytest.mark.parametrize("spent", ["revoked", "expired"])
async def test_a_revoked_or_expired_code_admits_no_one(
    spent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home,) = team_homes(tmp_path, 1)
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(running_node(home, loopback_config()))
        made = wall_ms()
        code = InviteCode.decode(await ana.create_invite(role="member", ttl_ms=20 if spent == "expired" else 60_000))
        if spent == "revoked":
            await ana.revoke_invite(code.invite_public_key.hex()[:8])
        else:
            monkeypatch.setattr(replica, "wall_ms", lambda: wall_ms() + 1_000)  # the issuer's clock: past it
        backdate(monkeypatch, made + 1)  # before the revocation, before the expiry
        thief = await joined(tmp_path / "thief", code, stack, "Thief")
        reason = {"revoked": "invite was revoked", "expired": "invite had expired"}[spent]
        await wait_until(lambda: any(reason in p.error for p in thief.peers()))
        assert thief.profile.store.count() == 0 and thief.network.linked_keys() == []
        assert ana.membership.role_of(thief.me) is None
        await wait_until(lambda: thief.profile.invite_refusal() == reason)  # recorded by the node's writer
        assert thief.my_role() is None


async def test_the_code_holds_no_network_key_which_arrives_sealed_after_admission(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(running_node(home, loopback_config()))
        text = await ana.create_invite()
        network_key = ana.profile.network_key
        raw = base64.b32decode(text[3:] + "=" * (-len(text[3:]) % 8))
        assert network_key not in raw, "a code seen once must not hand out the network key"
        join_team(tmp_path / "bo", InviteCode.decode(text), display_name="Bo").close()
        with Profile.open(tmp_path / "bo") as bo_home:
            assert bo_home.network_key != network_key  # before its admission, the newcomer does not hold it
        bo = await stack.enter_async_context(running_node(tmp_path / "bo", loopback_config(listen=None)))
        await wait_until(lambda: bo.profile.network_key == network_key)
        admission = next(e for e in ana.profile.store.iter_raw() if bo.me in e and b"member.admit" in e)
        assert network_key not in admission  # it travels in the log sealed to the newcomer's key only


async def test_an_invite_used_on_both_sides_of_a_split_admits_only_at_its_issuer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana issued the code; Cy (an admin) is cut off from her. The newcomer reaches Ana; a thief with a
    photograph of the code, its clock set before the newcomer's, reaches Cy. Cy admits no one; after the
    partition heals, every node agrees: the newcomer is a member, the thief nothing."""
    ana_home, cy_home = team_homes(tmp_path, 2)
    with Profile.open(ana_home) as owner, Profile.open(cy_home) as cy_profile:
        owner.change_role(cy_profile.me, "admin")
        cy_profile.store.accept_batch(list(owner.store.iter_raw()))
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(running_node(ana_home, loopback_config()))
        cy = await stack.enter_async_context(running_node(cy_home, loopback_config()))
        made = wall_ms()
        code = InviteCode.decode(await ana.create_invite(role="member", addresses=[]))
        cy.profile.store.accept_batch(list(ana.profile.store.iter_raw()))  # Cy even knows the invite
        bo_home, thief_home = tmp_path / "bo", tmp_path / "thief"
        join_team(bo_home, code, display_name="Bo").close()
        backdate(monkeypatch, made + 1)
        join_team(thief_home, code, display_name="Thief").close()
        bo = await stack.enter_async_context(running_node(bo_home, loopback_config((ana.listen_addresses[0],))))
        thief = await stack.enter_async_context(running_node(thief_home, loopback_config((cy.listen_addresses[0],))))
        await wait_until(lambda: ana.membership.role_of(bo.me) is Role.MEMBER)
        await wait_until(lambda: any("network key" in p.error for p in thief.peers()))  # Cy: only a decoy
        thief.add_peer(*ana.listen_addresses[0], found_by="static")  # and Ana, later: used already
        await wait_until(lambda: any("invite was already used" in p.error for p in thief.peers()))
        ana.add_peer(*cy.listen_addresses[0], found_by="static")  # the partition heals
        await wait_until(lambda: cy.membership.role_of(bo.me) is Role.MEMBER)
        await bo.post("general", "Bo here")
        await wait_until(lambda: "Bo here" in room_texts(cy))
        for node in (ana, cy, bo):
            assert node.membership.role_of(thief.me) is None
            assert node.membership.invites[code.invite_public_key].used_by == bo.me
        assert thief.profile.store.count() == 0


async def revoked_by_cy_issued_by_ana(tmp_path: Path, stack: AsyncExitStack) -> tuple[Node, Node, InviteCode]:
    """Two admins' running nodes, cut off from each other: Ana issued a code, and Cy (who has Ana's log up to it)
    revoked it just before the newcomer comes to Ana's door."""
    ana_home, cy_home = team_homes(tmp_path, 2)
    with Profile.open(ana_home) as owner, Profile.open(cy_home) as cy_profile:
        owner.change_role(cy_profile.me, "admin")
        cy_profile.store.accept_batch(list(owner.store.iter_raw()))
    ana = await stack.enter_async_context(running_node(ana_home, loopback_config()))
    cy = await stack.enter_async_context(running_node(cy_home, loopback_config()))
    code = InviteCode.decode(await ana.create_invite(role="member"))
    cy.profile.store.accept_batch(list(ana.profile.store.iter_raw()))
    await cy.revoke_invite(code.invite_public_key.hex()[:8])
    time.sleep(0.01)  # real time: the admission's wall clock comes later, and so its place in the order
    return ana, cy, code


async def test_a_revoke_racing_an_admission_wins_if_first_and_the_key_moves_on(tmp_path: Path) -> None:
    """Cut off from Ana (who issued the code), Cy revokes it; a moment later Bo reaches Ana, who admits him
    (she has not heard of the revocation). When the partition heals, the revocation comes first in the team's
    order: Bo is refused everywhere, his links end, and the network key he was sealed is rotated away (his
    node is told why by a node that refuses him by name, if one still accepts his key: see the threat model)."""
    async with AsyncExitStack() as stack:
        ana, cy, code = await revoked_by_cy_issued_by_ana(tmp_path, stack)
        bo = await joined(tmp_path / "bo", code, stack, "Bo")
        await wait_until(lambda: bo.membership.role_of(bo.me) is Role.MEMBER)
        key_bo_got = bo.profile.network_key
        ana.add_peer(*cy.listen_addresses[0], found_by="static")  # the partition heals
        for node in (ana, cy):
            await wait_until(lambda node=node: node.membership.role_of(bo.me) is None)
        await wait_until(lambda: not stale_rotation(ana.membership) and not stale_rotation(cy.membership))
        await wait_until(lambda: ana.profile.network_key == cy.profile.network_key != key_bo_got)
        await wait_until(lambda: bo.me not in ana.network.linked_keys() and bo.network.linked_keys() == [])
        for _ in range(50):  # and Bo's redials get nowhere (0.5 s of them, in virtual time)
            assert bo.me not in ana.network.linked_keys() + cy.network.linked_keys()
            await trio.sleep(0.01)


async def test_a_newcomer_refused_while_away_is_told_why_after_two_admins_rotated(tmp_path: Path) -> None:
    """Issue 12 leftover. As above, but Bo's laptop is off while the race is settled, and both admins hear of
    the other's entry by courier while still cut off, so both rotate. Bo's node comes back with the key his
    admission sealed, which is neither admin's current nor previous key any more: every hello used to fail and
    he never learned why (he still believed he was a member). Now both admins answer that key's hello, for the
    grace period of their last rotation, as a newcomer at the door, and tell him why he is not a member."""
    async with AsyncExitStack() as stack:
        ana, cy, code = await revoked_by_cy_issued_by_ana(tmp_path, stack)
        join_team(tmp_path / "bo", code, display_name="Bo").close()
        async with running_node(tmp_path / "bo", loopback_config(listen=None)) as away:
            await wait_until(lambda: away.membership.role_of(away.me) is Role.MEMBER)
            bo_key, key_bo_got = away.me, away.profile.network_key
        from_cy, from_ana = list(cy.profile.store.iter_raw()), list(ana.profile.store.iter_raw())
        ana.profile.store.accept_batch(from_cy)  # couriers, both ways, while the admins are still cut off
        cy.profile.store.accept_batch(from_ana)
        ana.wake()
        cy.wake()
        await wait_until(lambda: len(ana.membership.rotations) == 1 == len(cy.membership.rotations))
        ana.add_peer(*cy.listen_addresses[0], found_by="static")  # then the partition heals
        await wait_until(
            lambda: len(ana.membership.rotations) == 2 and ana.profile.network_key == cy.profile.network_key
        )
        assert key_bo_got not in ana.profile.network_keys().accepted(wall_ms())  # no hello of ours would do
        assert ana.membership.role_of(bo_key) is None is cy.membership.role_of(bo_key)
        bo, told = await stack.enter_async_context(watched_node(tmp_path / "bo"))
        await wait_until(lambda: told() == ["invite was revoked"], 10)
        assert bo.network.linked_keys() == []


async def test_a_newcomer_believes_only_the_issuer_named_in_its_code(tmp_path: Path) -> None:
    """Someone who photographed the code sets up a node that answers the code's hello (it can: it has the
    secret) and waits for the newcomer: the newcomer's node sees that it is not the issuer, and says so."""
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as ana:
        code = create_invite(ana)
    join_team(tmp_path / "bo", code, display_name="Bo").close()
    impostor = Connection(Side.SERVER, Credentials(invite_hello_key(code.invite_seed), Identity.generate()), admit_all)
    async with running_node(tmp_path / "bo", loopback_config(listen=None)) as bo:
        bo_end, impostor_end = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_once, impostor, impostor_end)
            reason = await bo.connect(bo_end, outgoing=True, address="impostor")
            nursery.cancel_scope.cancel()
        assert "not the node of the admin who issued our invite" in reason
        assert bo.profile.store.count() == 0 and bo.membership.role_of(bo.me) is None


def admit_all(key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None:
    return None


async def serve_once(conn: Connection, stream: trio.abc.Stream) -> None:
    """Drive one pure server connection over a stream until it ends (an impostor that says nothing more)."""
    with contextlib.suppress(RemoteProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(conn.data_to_send())
        while data := await stream.receive_some():
            conn.receive_data(data)
            while (event := conn.next_event()) is not None:
                if isinstance(event, HandshakeComplete):
                    conn.start_sync({}, team_id=bytes(32))
            await stream.send_all(conn.data_to_send())


async def test_a_newcomer_whose_code_was_used_first_is_added_by_key_and_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thief was faster with the code. The newcomer is told, reads its key to the admin over the radio, the
    admin adds it by key (its network key goes along, sealed) and removes the thief: the newcomer's node, still
    trying, now links, receives the team's log and key, and posts."""
    (home,) = team_homes(tmp_path, 1)
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(running_node(home, loopback_config()))
        code = InviteCode.decode(await ana.create_invite(role="member"))
        thief = await joined(tmp_path / "thief", code, stack, "Thief")
        await wait_until(lambda: ana.membership.role_of(thief.me) is Role.MEMBER)
        bo, told = await stack.enter_async_context(watched_newcomer(tmp_path / "bo", code, "Bo"))
        await wait_until(lambda: "invite was already used" in told())
        with pytest.raises(ProfileError, match="the team refused your invite"):
            await bo.post("general", "too early")
        await ana.add_member(bo.me, "member", "Bo")
        await ana.remove_member(thief.me)
        await wait_until(lambda: bo.membership.role_of(bo.me) is Role.MEMBER, timeout=10)
        await wait_until(lambda: bo.profile.network_key == ana.profile.network_key)
        await bo.post("general", "Bo, added by key")
        await wait_until(lambda: "Bo, added by key" in room_texts(ana))
        assert ana.membership.role_of(thief.me) is None
