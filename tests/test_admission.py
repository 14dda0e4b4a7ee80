"""Who may link: members, and newcomers who bring the evidence of their invite."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from meshchat.admission import admission_evidence, admit_peer
from meshchat.identity import Identity
from meshchat.invites import InviteCode, admit_newcomer, create_invite, join_team
from meshchat.log.clock import wall_ms
from meshchat.log.entry import decode_entry
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.testing import link_nodes, running_node, team_homes, wait_until


def test_members_pass_strangers_and_removed_members_do_not(tmp_path: Path) -> None:
    a, c = team_homes(tmp_path, 2)
    with Profile.open(a) as founder, Profile.open(c) as member:
        store = founder.store
        assert admit_peer(store, member.me, ()) is None
        stranger = Identity.generate().public_key
        assert admit_peer(store, stranger, ()) == "not a member of this team (as far as this node knows)"
        founder.remove_member(member.me)
        assert admit_peer(store, member.me, ()) == "removed from the team"


def test_evidence_is_checked_like_any_entry(tmp_path: Path) -> None:
    a, c = team_homes(tmp_path, 2)
    with Profile.open(a) as founder, Profile.open(c) as cy:
        code = create_invite(founder)
        with join_team(tmp_path / "bo", code) as bo:
            assert admission_evidence(bo.store, bo.me) == ()  # nothing to show before the admission
            assert admit_newcomer(founder, bo.me, code.invite_public_key, wall_ms()) is None
            bo.store.accept_batch(list(founder.store.iter_raw()))
            evidence = admission_evidence(bo.store, bo.me)
            invite, admission = (decode_entry(raw) for raw in evidence)
            assert (invite.kind, admission.kind) == ("member.invite", "member.admit")
            assert admit_peer(cy.store, bo.me, evidence) is None  # Cy has not seen the admission yet
            forged = bytearray(evidence[1])
            forged[-5] ^= 1
            assert "evidence" in (admit_peer(cy.store, bo.me, (evidence[0], bytes(forged))) or "")
            other = Identity.generate().public_key
            assert admit_peer(cy.store, other, evidence) is not None  # someone else's admission proves nothing


async def test_a_newcomer_is_admitted_by_the_issuer_only_then_everywhere(tmp_path: Path) -> None:
    a, c = team_homes(tmp_path, 2)
    with Profile.open(a) as founder:
        code = InviteCode.decode(create_invite(founder, role="member").encode())
    join_team(tmp_path / "bo", code, display_name="Bo").close()
    config = NodeConfig(discovery=False, poll_interval=0.05)
    async with (
        running_node(a, config) as ana,
        running_node(c, config) as cy,
        running_node(tmp_path / "bo", config) as bo,
        trio.open_nursery() as nursery,
    ):
        # Cy did not issue the invite: Bo's hello (made with the invite's key) gets only a decoy from it.
        reason = await _link_once(bo, cy)
        assert "network key" in reason
        assert bo.my_role() is not None and bo.membership.role_of(bo.me) is None  # pending
        link_nodes(nursery, bo, ana)  # Ana issued it: Bo is admitted, and learns the team and its key
        await wait_until(lambda: bo.membership.role_of(bo.me) is not None)
        await wait_until(lambda: ana.membership.role_of(bo.me) is not None)
        assert bo.profile.network_key == ana.profile.network_key
        link_nodes(nursery, bo, cy)  # now with the network key, bringing its admission along
        await wait_until(lambda: cy.membership.role_of(bo.me) is not None)
        await wait_until(lambda: cy.name_of(bo.me) == "Bo")
        nursery.cancel_scope.cancel()


async def _link_once(a: Node, b: Node) -> str:
    """Link two nodes until the link ends; the reasons both sides give."""
    a_end, b_end = trio.testing.memory_stream_pair()
    reasons: list[str] = []

    async def side(node: Node, stream: trio.abc.Stream, outgoing: bool) -> None:
        reasons.append(await node.connect(stream, outgoing=outgoing))

    async with trio.open_nursery() as inner:
        inner.start_soon(side, a, a_end, True)
        inner.start_soon(side, b, b_end, False)
    return " / ".join(reasons)
