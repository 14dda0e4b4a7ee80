"""A profile: one person's home directory, holding their identity, their team's store and its settings.

Every write goes through here. Each is checked before it is signed (body fields, and the writer's role, by the
same rules every other node applies), so a user gets a clear error instead of an entry that the team would
refuse. The CLI and the node both use this; it does no networking.

Layout of a home directory (mode 0700)::

    identity.key   Ed25519 seed, mode 0600
    meshchat.db    the store (SQLite, WAL)
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from meshchat.errors import StoreError, UserError, excerpt
from meshchat.identity import Identity, IdentityError, load_identity, save_identity
from meshchat.log.attachments import Attachment
from meshchat.log.codec import Value, pack, unpack
from meshchat.log.effects import new_object_id, retraction_allowed
from meshchat.log.entry import Entry
from meshchat.log.kinds import INCIDENT_FIELDS, MEMBERSHIP_KINDS, SHORT_ID, TASK_FIELDS, BodyError, build_body
from meshchat.log.netkeys import NetworkKeys, network_keys, seal_network_key
from meshchat.log.positions import Fix, Report
from meshchat.log.rules import MIN_ROLE, ControlEntry, Membership, Role, refusal_words, role_allows
from meshchat.log.views import Message, Outsider, Room, TrackedObject
from meshchat.proto.handshake import invite_hello_key
from meshchat.store import Store
from meshchat.store.queries import Views

PENDING_INVITE_KEY = "invite.pending"  # local state: the invite a newcomer joined with, until admitted
INVITE_REFUSED_KEY = "invite.refused"  # local state: why the inviter's node refused it
IDENTITY_FILE = "identity.key"
STORE_FILE = "meshchat.db"
DEFAULT_ROOM = "general"
NETWORK_KEY_SIZE = 32
Location = str | Mapping[str, Value]  # a place in words, or a location value ({text, lat_e7, lon_e7})
ADMIN_KINDS = frozenset({"member.invite", "member.admit", "invite.revoke", "member.add", "member.remove", "key.rotate"})


class ProfileError(UserError):
    """Something the user asked for cannot be done; the message says why and, where it can, what to do."""


@dataclass(frozen=True)
class PendingInvite:
    """What a newcomer keeps from its invite code until it is admitted (local, never replicated)."""

    secret: bytes  # the code's one-time secret (an Ed25519 seed; its public key is the invite's id)
    issuer: bytes  # the admin whose node admits with it
    role: str
    name: str = ""  # written as our first entry once admitted
    callsign: str = ""

    def encode(self) -> bytes:
        return pack([self.secret, self.issuer, self.role, self.name, self.callsign])

    @classmethod
    def decode(cls, raw: bytes) -> PendingInvite:
        fields = unpack(raw, max_len=4096)
        if not (isinstance(fields, list) and len(fields) == 5):
            raise ProfileError("this home's pending invite is damaged: join again with the code")
        secret, issuer, role, name, callsign = fields
        if not (isinstance(secret, bytes) and isinstance(issuer, bytes) and isinstance(role, str)):
            raise ProfileError("this home's pending invite is damaged: join again with the code")
        return cls(secret, issuer, role, str(name), str(callsign))


def default_home() -> Path:
    """``$MESHCHAT_HOME``, else ``$XDG_DATA_HOME/meshchat``, else ``~/.local/share/meshchat``."""
    if os.environ.get("MESHCHAT_HOME"):
        return Path(os.environ["MESHCHAT_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "meshchat"


def new_id() -> bytes:
    """A fresh id for a room, incident, check-in or task."""
    return secrets.token_bytes(SHORT_ID)


class TeamReader:
    """One team's log, read: the views and the lookups every command uses (a room by name, a message, an
    incident by id prefix). A :class:`Profile` is one with an identity that writes; an HQ archive opens each
    team it holds as one of these (``meshchat --home HQ log --team T``), so reading commands work on both."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.views = Views(store)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def team_id(self) -> bytes:
        return self.store.team_id

    @property
    def team_name(self) -> str:
        return str(self.store.get_meta("team_name") or "")

    def name_of(self, key: bytes) -> str:
        return self.store.membership.display_name(key)

    def room(self, name_or_id: str) -> Room:
        room = self.views.find_room(name_or_id)
        if room is None:
            names = ", ".join(r.name for r in self.views.rooms(include_archived=False)) or "none yet"
            raise ProfileError(f"no room {excerpt(name_or_id)} (rooms: {names})")
        return room

    def message(self, id_or_prefix: str | bytes) -> Message:
        msg = self.views.message(id_or_prefix)
        if msg is None:
            text = id_or_prefix if isinstance(id_or_prefix, str) else id_or_prefix.hex()
            raise ProfileError(f"no message {excerpt(text)}")
        return msg

    def member_key(self, text: str) -> bytes:
        """A member by key (at least 8 hex digits), display name or callsign, in any case: wherever a command
        names a member, it takes any of these. A clear error unless exactly one member matches."""
        needle = text.strip().lower()
        members = self.store.membership.members
        by_key = [k for k in members if len(needle) >= 8 and k.hex().startswith(needle)]
        by_name = [k for k, m in members.items() if needle and needle in (m.name.lower(), m.callsign.lower())]
        found = by_key or by_name
        if len(found) != 1:
            what = "no member" if not found else "more than one member"
            raise ProfileError(f"{what} matches {excerpt(text)} (a name, callsign or key: see 'meshchat members')")
        return found[0]

    def incident(self, prefix: str | bytes) -> TrackedObject:
        return self._object("incident", prefix)

    def _object(self, kind: str, prefix: str | bytes) -> TrackedObject:
        text = prefix.hex() if isinstance(prefix, bytes) else prefix
        obj = self.views.find_object(kind, text)
        if obj is None:
            raise ProfileError(f"no {kind} {excerpt(text)} (give at least 4 hex digits of its id)")
        return obj


class Profile(TeamReader):
    """An opened home directory. Close it (or use ``with``) when done."""

    def __init__(self, home: Path, identity: Identity, store: Store) -> None:
        super().__init__(store)
        self.home = home
        self.identity = identity
        self._network_keys: tuple[Membership, NetworkKeys] | None = None

    # ---- creating and opening ------------------------------------------------------------------------------

    @classmethod
    def init(cls, home: Path, team_name: str, *, display_name: str = "", callsign: str = "") -> Profile:
        """Found a new team: identity, genesis, the founder's profile and a default room."""
        team_name = team_name.strip()
        if not team_name:
            raise ProfileError("a team needs a name, e.g. --team 'Flood response'")
        _check_new_home(home)
        identity = Identity.generate()
        try:
            build_body("team.create", name=team_name)
        except BodyError as exc:
            raise ProfileError(f"team name: {exc}") from None
        _prepare_home(home)
        save_identity(identity, home / IDENTITY_FILE)
        store = Store.found(home / STORE_FILE, identity, team_name)
        store.set_meta("network_key", secrets.token_bytes(NETWORK_KEY_SIZE))
        store.set_meta("team_name", team_name)
        profile = cls(home, identity, store)
        profile.set_profile(display_name or "founder", callsign)
        profile.create_room(DEFAULT_ROOM, "Everything that has no room of its own")
        return profile

    @classmethod
    def create_joining(cls, home: Path, team_id: bytes, team_name: str, network_key: bytes | None) -> Profile:
        """A new home for someone joining an existing team. A newcomer with an invite code has no network key
        (``None``): its admission brings one, sealed to it (see ``meshchat.invites``)."""
        _check_new_home(home)
        _prepare_home(home)
        identity = Identity.generate()
        save_identity(identity, home / IDENTITY_FILE)
        store = Store.create(home / STORE_FILE, team_id)
        if network_key is not None:
            store.set_meta("network_key", network_key)
        store.set_meta("team_name", team_name)
        return cls(home, identity, store)

    @classmethod
    def open(cls, home: Path) -> Profile:
        if not (home / STORE_FILE).exists():
            raise ProfileError(
                f"no meshchat profile in {home}: run 'meshchat init --team NAME' or 'meshchat join CODE' "
                "(or point --home / MESHCHAT_HOME at an existing one)"
            )
        try:
            identity = load_identity(home / IDENTITY_FILE)
            store = Store.open(home / STORE_FILE)
        except (IdentityError, StoreError) as exc:
            raise ProfileError(str(exc)) from None
        return cls(home, identity, store)

    # ---- facts ---------------------------------------------------------------------------------------------

    @property
    def me(self) -> bytes:
        return self.identity.public_key

    @property
    def network_key(self) -> bytes:
        """The current network key (what we dial and advertise with)."""
        return self.network_keys().current

    def network_keys(self) -> NetworkKeys:
        """Our network keys after every rotation sealed to us (see ``meshchat.log.netkeys``). Asked for each
        new link, so kept until the membership is evaluated again (opening each sealed copy costs ~50 us).

        A newcomer waiting for its admission holds no network key: its only key is its invite's hello key,
        which no node but the invite's issuer accepts (``meshchat.proto.handshake``)."""
        membership = self.store.membership
        cached = self._network_keys
        if cached is not None and cached[0] is membership:
            return cached[1]
        base = self.store.get_meta("network_key")
        identity = self.identity
        known = base if isinstance(base, bytes) else None
        keys = network_keys(membership, self.me, known, identity.curve25519_public(), identity.curve25519_secret())
        if keys is None:
            pending = self.pending_invite()
            if pending is None:
                raise ProfileError("this home holds no network key: join again with a new invite code")
            keys = NetworkKeys(invite_hello_key(pending.secret))
        self._network_keys = (membership, keys)
        return keys

    # ---- joining -------------------------------------------------------------------------------------------

    def set_pending_invite(self, pending: PendingInvite) -> None:
        self.store.set_local(PENDING_INVITE_KEY, pending.encode())

    def pending_invite(self) -> PendingInvite | None:
        """The invite this home joined with, while its admission is not known here (``None`` after)."""
        raw = self.store.get_local(PENDING_INVITE_KEY)
        if not raw or self.me in self.store.membership.members:
            return None
        return PendingInvite.decode(raw)

    def invite_refusal(self) -> str | None:
        """Why our invite was refused, while we are not a member: by the issuer's node at the door (recorded by
        our node), or, after an admission, by the team's rules (a revocation that came first)."""
        membership = self.store.membership
        if self.me in membership.members:
            return None
        refused = membership.refused_admissions.get(self.me)
        if refused is not None:
            return refused.reason
        raw = self.store.get_local(INVITE_REFUSED_KEY)
        return raw.decode("utf-8", "replace") if raw else None

    def record_invite_refusal(self, reason: str) -> None:
        self.store.set_local(INVITE_REFUSED_KEY, reason.encode())

    def complete_admission(self) -> bool:
        """Once our admission is known here, write the name the newcomer gave when joining (its first entry).
        Returns whether it wrote anything."""
        raw = self.store.get_local(PENDING_INVITE_KEY)
        if not raw or self.store.membership.role_of(self.me) is None:
            return False
        pending = PendingInvite.decode(raw)
        self.store.set_local(PENDING_INVITE_KEY, b"")
        if self.store.head(self.me) is None and pending.name:
            self.set_profile(pending.name, pending.callsign)
            return True
        return False

    def my_role(self) -> Role | None:
        """Our role as the log says, or, while we wait for our admission, the role our invite promises."""
        role = self.store.membership.role_of(self.me)
        if role is None and self.invite_refusal() is None and (pending := self.pending_invite()) is not None:
            return Role.parse(pending.role)
        return role

    def role_for_next_entry(self) -> Role | None:
        """The role the rules will see behind our next entry, judged at that entry's own seq and clock as every
        node will judge it (not our role "now"); while we wait for our admission, the role our invite promises."""
        seq, clock = self.store.next_own_stamp(self.me)
        role = self.store.membership.authority(self.me, seq, clock)
        return role if role is not None or self.me in self.store.membership.members else self.my_role()

    # ---- writing -------------------------------------------------------------------------------------------

    def write(self, kind: str, fields: Mapping[str, Value]) -> Entry:
        """Check and sign one entry of ours. Raises :class:`ProfileError` with a reason a person can act on,
        or a :class:`~meshchat.errors.StoreError` (:class:`~meshchat.errors.DiskFullError`) from the store."""
        self._check_admitted()
        refusal = self.store.own_writes_refused(self.me)  # first: it also explains the role checks' verdict
        if refusal is not None:
            raise ProfileError(refusal)
        needed = MIN_ROLE.get(kind)
        if needed is not None:
            role = self.role_for_next_entry()
            if not role_allows(role, kind):
                raise ProfileError(refusal_words(kind, role))
        try:
            body = build_body(kind, **fields)
        except BodyError as exc:
            raise ProfileError(str(exc)) from None
        if kind in MEMBERSHIP_KINDS:
            self._check_membership_change(kind, body)
        return self.store.append_own(self.identity, kind, body)

    def _check_membership_change(self, kind: str, body: dict[str, Value]) -> None:
        """Evaluate the membership rules with this entry added, and refuse it if they would."""
        if kind in ADMIN_KINDS:  # clear even before our node has the team's log to evaluate against
            role = self.my_role()
            if role is None or role < Role.ADMIN:
                you = f"a {role.label}" if role is not None else "not a member of this team"
                raise ProfileError(f"Only admins can invite people or change who is in the team; you are {you}")
        seq, clock = self.store.next_own_stamp(self.me)
        trial = self.store.evaluate_membership([ControlEntry(clock, self.me, seq, kind, body)])
        for refusal in trial.refusals:
            if refusal.author == self.me and refusal.seq == seq:
                raise ProfileError(f"refused: {refusal.reason}")

    def _check_admitted(self) -> None:
        """A newcomer can do nothing before its admission: say why, and what to do."""
        if self.pending_invite() is None:
            return
        refusal = self.invite_refusal()
        if refusal is not None:
            raise ProfileError(f"the team refused your invite ({refusal}): ask an admin for a new invite")
        raise ProfileError(
            "you are not admitted yet: your node must reach the node that invited you first ('meshchat node')"
        )

    def set_profile(self, name: str, callsign: str = "") -> Entry:
        return self.write("member.profile", {"name": name, "callsign": callsign})

    def create_room(self, name: str, topic: str = "") -> bytes:
        name = name.strip()
        if self.views.find_room(name) is not None:
            raise ProfileError(f"a room named {excerpt(name)} exists already")
        room = new_id()
        self.write("room.create", {"room": room, "name": name, "topic": topic})
        return room

    def archive_room(self, name_or_id: str) -> None:
        self.write("room.archive", {"room": self.room(name_or_id).room})

    def room(self, name_or_id: str) -> Room:
        if self.views.find_room(name_or_id) is None:
            self._check_admitted()  # a newcomer not admitted yet is told so, not that the room is missing
        return super().room(name_or_id)

    def post(
        self,
        room: str | bytes,
        text: str,
        *,
        flash: bool = False,
        priority: str | None = None,
        reply_to: bytes | None = None,
        location: dict[str, Value] | None = None,
        files: Sequence[Attachment] = (),
    ) -> Entry:
        """Post to a room (by name, id prefix or id). FLASH messages require acknowledgement. ``files``: the
        attachments, already in the blob store (``meshchat.blobs.attach``)."""
        room_id = room if isinstance(room, bytes) else self.room(room).room
        if not text.strip():
            raise ProfileError("cannot post an empty message")
        level = "flash" if flash else (priority or "routine")
        return self.write(
            "msg.post",
            {
                "room": room_id,
                "text": text,
                "priority": level,
                "ack_required": level == "flash",
                "reply_to": reply_to,
                "location": location,
                "files": [f.descriptor() for f in files] or None,
            },
        )

    def retract(self, message: str | bytes) -> Entry:
        msg = self.message(message)
        if not retraction_allowed(self.role_for_next_entry(), self.me, msg.author):
            raise ProfileError("only the author or an admin can retract a message")
        return self.write("msg.retract", {"target": msg.id})

    def ack(self, message: str | bytes) -> Entry:
        return self.write("msg.ack", {"target": self.message(message).id})

    def pin(self, message: str | bytes) -> Entry:
        return self.write("msg.pin", {"target": self.message(message).id})

    # ---- incidents and tasks -------------------------------------------------------------------------------

    def open_incident(
        self, title: str, severity: int, *, location: Location | None = None, room: str | None = None
    ) -> bytes:
        incident = new_object_id(self.me, secrets.token_bytes(8))  # names its opener: see log/effects.py
        self.write(
            "incident.open",
            {
                "incident": incident,
                "title": title,
                "severity": severity,
                "location": location_value(location),
                "room": self.room(room).room if room else None,
            },
        )
        return incident

    def update_incident(self, incident: str | bytes, fields: Mapping[str, Value]) -> Entry:
        obj = self.incident(incident)
        changes = _only_known(fields, INCIDENT_FIELDS, "incident")
        if "location" in changes:
            changes["location"] = location_value(changes["location"])  # type: ignore[arg-type]
        return self.write("incident.update", {"incident": obj.obj, "fields": changes})

    def open_task(
        self,
        title: str,
        *,
        owner: bytes | None = None,
        incident: str | bytes | None = None,
        location: Location | None = None,
    ) -> bytes:
        task = new_object_id(self.me, secrets.token_bytes(8))
        parent = self.incident(incident).obj if incident is not None else None
        self.write(
            "task.open",
            {"task": task, "title": title, "owner": owner, "incident": parent, "location": location_value(location)},
        )
        return task

    def update_task(self, task: str | bytes, fields: Mapping[str, Value]) -> Entry:
        obj = self._object("task", task)
        changes = _only_known(fields, TASK_FIELDS, "task")
        if "location" in changes:
            changes["location"] = location_value(changes["location"])  # type: ignore[arg-type]
        return self.write("task.update", {"task": obj.obj, "fields": changes})

    # ---- check-ins -----------------------------------------------------------------------------------------

    def request_checkin(self, room: str | bytes, question: str, *, deadline: int | None = None) -> bytes:
        room_id = room if isinstance(room, bytes) else self.room(room).room
        checkin = new_id()
        self.write(
            "checkin.request",
            {"checkin": checkin, "room": room_id, "question": question, "deadline": deadline},
        )
        return checkin

    def reply_checkin(self, checkin: bytes, status: str, note: str = "", *, location: Location | None = None) -> Entry:
        return self.write(
            "checkin.reply", {"checkin": checkin, "status": status, "note": note, "location": location_value(location)}
        )

    # ---- positions -----------------------------------------------------------------------------------------

    def team_now(self) -> int:
        """Now, in ms, on the team's time (``Store.team_now``): a position's fix time goes by it (its age does
        not: ages compare with receipt times, stamped by this computer's clock)."""
        return self.store.team_now(self.me)

    def report_position(self, report: Report) -> Entry:
        """Where I am (``meshchat position``, a GPS): every node shows it as my latest until my next report."""
        return self.write("position", report.body())

    def clear_position(self) -> Entry:
        """Stop showing where I am: from this entry on, no node shows a position of mine until I report again."""
        return self.write("position.clear", {})

    def my_position(self) -> Fix | None:
        """My latest position as the team sees it (None if I never reported one, or cleared it)."""
        return next((f for f in self.views.positions() if f.author == self.me), None)

    def relay_position(self, via: Outsider, report: Report) -> Entry:
        """An outsider's position (a TAK user's), written by this member's bridge and marked as theirs."""
        return self.write("position.relay", report.relayed_body(via))

    def relay_post(self, room: bytes, text: str, via: Outsider, *, location: Location | None = None) -> Entry:
        """An outsider's message (TAK GeoChat) in ``room``, marked as theirs: routine, never FLASH."""
        return self.write(
            "msg.post",
            {
                "room": room,
                "text": text,
                "via": {"net": via.net, "uid": via.uid, "callsign": via.callsign},
                "location": location_value(location),
            },
        )

    # ---- membership ----------------------------------------------------------------------------------------

    def add_member(self, key: bytes, role: str, name: str = "") -> Entry:
        """Add ``key`` (read out from its ``meshchat id``), or change its role. A new key also gets the current
        network key, sealed to it: a home made with a code that was never admitted has none."""
        fields: dict[str, Value] = {"member": key, "role": role, "name": name}
        if key not in self.store.membership.members:
            fields["sealed_key"] = seal_network_key(self.network_key, [key]).get(key)
        return self.write("member.add", fields)

    def remove_member(self, key: bytes) -> Entry:
        """Remove ``key`` (its log is cut at what we hold of it) and rotate the network key away from it."""
        member = self.store.membership.members.get(key)
        if member is None or member.role is None:
            raise ProfileError(f"{key.hex()[:16]} is not a member" + (" (removed already)" if member else ""))
        head = self.store.head(key)
        if head is not None:  # what we hold of its log, signed first: no removal can cut below it
            self.write("heads", {"heads": {key: [head.seq, head.id]}})
        entry = self.write("member.remove", {"member": key, "upto_seq": head.seq if head else 0})
        self.rotate_network_key()
        return entry

    def change_role(self, key: bytes, role: str) -> Entry:
        member = self.store.membership.members.get(key)
        if member is None or member.role is None:
            raise ProfileError(f"{key.hex()[:16]} is not a member")
        if member.role.label == role:
            raise ProfileError(f"{member.name or key.hex()[:16]} is {role} already")
        return self.write("member.add", {"member": key, "role": role, "name": member.name})

    def rotate_network_key(self) -> Entry:
        """A fresh network key, sealed to every current member (``key.rotate``)."""
        members = sorted(k for k, m in self.store.membership.members.items() if m.role is not None)
        sealed: dict[Any, Value] = dict(seal_network_key(secrets.token_bytes(NETWORK_KEY_SIZE), members))
        return self.write("key.rotate", {"keys": sealed})


def location_value(location: Location | None) -> dict[str, Value] | None:
    """A location as entries store it: text alone becomes ``{"text": ...}``; empty means none."""
    if not location:
        return None
    if isinstance(location, str):
        return {"text": location}
    return dict(location)


def _only_known(fields: Mapping[str, Value], allowed: Mapping[str, Any], what: str) -> dict[str, Value]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ProfileError(f"a {what} has no field {excerpt(unknown[0])} (fields: {', '.join(allowed)})")
    if not fields:
        raise ProfileError(f"nothing to change: give at least one {what} field")
    return dict(fields)


def _check_new_home(home: Path) -> None:
    if (home / STORE_FILE).exists() or (home / IDENTITY_FILE).exists():
        raise ProfileError(f"{home} already holds a meshchat profile; use another --home")


def _prepare_home(home: Path) -> None:
    """Make ``home`` (mode 0700) and make sure it can be written, or say why not in words a person can act on."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        probe = home / ".meshchat-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        why = _WHY_NOT_WRITABLE.get(exc.errno or 0, exc.strerror or str(exc))
        raise ProfileError(
            f"cannot make a profile in {home}: {why}. Choose a writable place (--home DIR, or MESHCHAT_HOME)"
        ) from None


_WHY_NOT_WRITABLE = {
    errno.EROFS: "it is on a read-only medium (a write-protected card, a read-only mount)",
    errno.EACCES: "you may not write there",
    errno.EPERM: "you may not write there",
    errno.ENOSPC: "the disk is full",
}
