"""Administration between real nodes on 127.0.0.1: partitioned admins converge; a removed member is shut out."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import trio

from meshchat.export.bundle import import_bundle, write_bundle
from meshchat.identity import Identity
from meshchat.log import netkeys
from meshchat.log.netkeys import stale_rotation
from meshchat.log.rules import Role
from meshchat.net.address import Address
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.testing import loopback_config, room_texts, running_node, team_homes, wait_until

pytestmark = pytest.mark.usefixtures("mock_clock")  # real sockets on 127.0.0.1, virtual time


def config(peers: tuple[Address, ...] = ()) -> NodeConfig:
    return loopback_config(peers)


def share_founder_log(homes: list[Path]) -> None:
    """Give every home what the founder's holds (as if they had synced once, before the partition)."""
    with Profile.open(homes[0]) as founder:
        raws = list(founder.store.iter_raw())
    for home in homes[1:]:
        with Profile.open(home) as profile:
            profile.store.accept_batch(raws)


def state(node: Node) -> str:
    """Membership and every view, comparable across nodes."""
    m = node.membership
    members = sorted((k, v.role, v.removed_upto) for k, v in m.members.items())
    return repr((members, [r.at for r in m.rotations], node.views.snapshot()))


async def test_partitioned_admins_converge_after_healing(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 5)
    keys = []
    for home in homes:
        with Profile.open(home) as p:
            keys.append(p.me)
    owner, a1, a2, m3, m4 = keys
    with Profile.open(homes[0]) as founder:
        founder.change_role(a1, "admin")
        founder.change_role(a2, "admin")
    share_founder_log(homes)
    x, y = Identity.generate().public_key, Identity.generate().public_key
    # The partition: each admin acts on what it knows, at the same time as the other.
    with Profile.open(homes[1]) as admin1:
        admin1.remove_member(m3)  # and rotates the key, sealed to everyone it still sees (m4 included)
        admin1.add_member(x, "observer", "X")
    with Profile.open(homes[2]) as admin2:
        admin2.change_role(m3, "observer")
        admin2.remove_member(m4)  # its rotation still includes m3
        admin2.add_member(y, "member", "Y")
    for home, text in ((homes[3], "m3, unaware"), (homes[4], "m4, unaware")):
        with Profile.open(home) as member:
            member.post("general", text)
    async with AsyncExitStack() as stack:
        nodes: list[Node] = []
        for home in homes:  # healed: every node dials every node started before it
            peers = tuple(n.listen_addresses[0] for n in nodes)
            nodes.append(await stack.enter_async_context(running_node(home, config(peers))))
        members = nodes[:3]

        def settled() -> bool:  # the same everywhere, and no admin has a reason to rotate again
            return len({state(n) for n in members}) == 1 and not any(stale_rotation(n.membership) for n in members)

        await wait_until(settled, timeout=30)
        m = members[0].membership
        assert m.role_of(m3) is None and m.role_of(m4) is None, "removals win over concurrent changes"
        assert (m.role_of(x), m.role_of(y)) == (Role.OBSERVER, Role.MEMBER)
        assert {a1, a2} == {k for k, v in m.members.items() if v.role is Role.ADMIN}
        for node in members:
            assert not {"m3, unaware", "m4, unaware"} & set(room_texts(node))
        # Every member switched to one key, which neither removed member can open.
        current = {n.profile.network_keys().current for n in members}
        assert len(current) == 1
        for removed in nodes[3:]:
            assert removed.profile.network_keys().current not in current
        # A member ends its link to a removed one as soon as its node has looked at the removal it stored.
        removed_keys = {n.me for n in nodes[3:]}
        await wait_until(lambda: not removed_keys & {k for n in members for k in n.network.linked_keys()}, timeout=5)


async def test_a_removed_member_is_shut_out_and_its_late_entries_refused(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 3)
    owner_home, gone_home, late_home = homes
    with Profile.open(gone_home) as gone_profile:
        gone = gone_profile.me
    with Profile.open(owner_home) as owner:
        owner.remove_member(gone)  # gone holds nothing of its own yet: cut at 0, and the key rotates
    with Profile.open(gone_home) as gone_profile:  # it does not know yet, and writes on
        gone_profile.post("general", "written after my removal")
        stick = tmp_path / "gone.bundle"
        write_bundle(gone_profile.store, gone, stick)
    # By bundle: the owner, who knows of the removal, refuses the removed member's new entries.
    with Profile.open(owner_home) as owner:
        import_bundle(owner.store, stick)
        assert owner.store.frontier().get(gone, 0) == 0
        assert "written after my removal" not in [m.text for m in owner.views.messages(owner.room("general").room)]
    async with AsyncExitStack() as stack:
        # Through a member that missed the removal: it links with the removed node and takes its posts...
        late = await stack.enter_async_context(running_node(late_home, config()))
        removed = await stack.enter_async_context(running_node(gone_home, config((late.listen_addresses[0],))))
        await wait_until(lambda: "written after my removal" in room_texts(late), timeout=10)
        # ...until it meets the owner: then the removal is known, the posts count for nothing, the link to the
        # removed member ends, and the network key moves on.
        owner = await stack.enter_async_context(running_node(owner_home, config((late.listen_addresses[0],))))
        await wait_until(lambda: late.membership.role_of(gone) is None, timeout=10)
        await wait_until(lambda: "written after my removal" not in room_texts(late))
        await wait_until(lambda: gone not in late.network.linked_keys())
        await wait_until(lambda: late.profile.network_keys().current == owner.profile.network_keys().current)
        assert removed.profile.network_keys().current != owner.profile.network_keys().current
        # The removed node keeps trying both members; every attempt is refused.
        removed.add_peer(*owner.listen_addresses[0], found_by="static")

        def refusals() -> list[str]:
            return [p.error for p in removed.peers() if p.peer.found_by == "static" and p.error]

        await wait_until(
            lambda: len(refusals()) == 2 and all("removed from the team" in e for e in refusals()), timeout=10
        )
        for _ in range(100):  # and no attempt gets through meanwhile (a second of redials, in virtual time)
            assert removed.network.linked_keys() == []
            assert gone not in owner.network.linked_keys() and gone not in late.network.linked_keys()
            await trio.sleep(0.01)
        assert owner.profile.store.frontier().get(gone, 0) == 0
        assert "written after my removal" not in room_texts(owner)


async def test_after_the_grace_period_a_removed_member_gets_only_a_decoy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(netkeys, "GRACE_MS", 0)  # the rotation's grace period is over
    caplog.set_level(logging.DEBUG, logger="meshchat")
    owner_home, member_home, gone_home = team_homes(tmp_path, 3)
    with Profile.open(gone_home) as gone_profile:
        gone = gone_profile.me
    with Profile.open(owner_home) as owner_profile:
        owner_profile.remove_member(gone)
        raws = list(owner_profile.store.iter_raw())
    with Profile.open(member_home) as member_profile:
        member_profile.store.accept_batch(raws)
    async with AsyncExitStack() as stack:
        owner = await stack.enter_async_context(running_node(owner_home, config()))
        member = await stack.enter_async_context(running_node(member_home, config((owner.listen_addresses[0],))))
        await wait_until(lambda: owner.me in member.network.linked_keys(), timeout=10)  # members link with the new key
        removed = await stack.enter_async_context(
            running_node(gone_home, config((owner.listen_addresses[0], member.listen_addresses[0])))
        )
        await wait_until(lambda: caplog.text.count("hello not made with our network key") >= 2, timeout=10)
        assert "removed from the team" not in caplog.text  # refused before anyone learns who it is
        assert removed.network.linked_keys() == []
