"""The chat: rooms on the left, the room's messages, the composer at the bottom (focused on open)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from meshchat.log.attachments import Attachment
from meshchat.log.views import Message
from meshchat.node import Node
from tui.changes import Changes
from tui.format import shown, value_text
from tui.screens.base import AreaScreen
from tui.screens.files import AttachForm, ChooseFile, ImageScreen, SaveForm
from tui.screens.forms import ConfirmForm, RoomForm, TaskForm, my_point
from tui.screens.pinned import PinnedScreen
from tui.session import session
from tui.throttle import Throttle
from tui.widgets.attachments.lines import state_words
from tui.widgets.attachments.opener import open_with_system
from tui.widgets.chat.composer import Composer, ComposerInput
from tui.widgets.chat.message_list import MessageList
from tui.widgets.chat.message_view import reply_preview
from tui.widgets.chat.room_list import RoomEntry, RoomList

RELOAD_INTERVAL_S = 0.25
PIN_COUNT_QUIET_S = 1.0  # the room line's pin count is read again once others' pins stop arriving this long
ACTION_KEYS_SHOWN = {
    "ack": "a acknowledge",
    "reply": "r reply",
    "pin": "p pin",
    "retract": "x retract",
    "task": "t task",
    "fetch": "f fetch",
    "open": "o open",
    "save": "s save",
    "view": "v view",
}
FILE_ACTIONS = ("fetch", "open", "save", "view")


def why_not_post(node: Node) -> str | None:
    """Why this person cannot write a message here, in words for the composer's line; ``None``: they can."""
    if node.read_only:
        return "This home is read-only: you can read everything here; nothing can be written or synced."
    if not node.may("msg.post"):
        return "You are an observer: you read and acknowledge (Enter on a message, a)."
    return None


def no_room_text(awaiting_admission: bool, refusal: str | None) -> str:
    """What the chat says before there is a room to show."""
    if refusal:
        return "Not admitted: your invite was refused (see the red bar)."
    if awaiting_admission:
        return "Joining: waiting for the inviter's node to admit you. The rooms appear with the first sync."
    return "No rooms yet: an admin creates one (ctrl+n)."


def action_bar_text(actions: list[str]) -> Content:
    """``ACT ON THE SELECTED MESSAGE  a acknowledge · r reply · … · Esc cancel``: the explicit act mode."""
    keys = " · ".join(ACTION_KEYS_SHOWN[a] for a in actions) or "nothing you may do to this message"
    return Content.assemble((" ACT ", "bold reverse"), f"  {keys} · Esc cancels")


ACTION_KINDS = {"new_room": "room.create"}  # the entry each key writes


class ChatScreen(AreaScreen):
    MODE = "chat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_room", "New room"),
        Binding("ctrl+r", "focus_rooms", "Rooms", show=False),
        Binding("ctrl+t", "pinned", "Pinned"),
        Binding("ctrl+l", "attach", "Attach a file", show=False),  # from the messages too (the composer's own key)
    ]

    def __init__(self) -> None:
        super().__init__()
        self.room: bytes | None = None
        self._room_line = Content("")
        self._reload = Throttle(self, RELOAD_INTERVAL_S, self._reload_messages)
        self._last_folder = ""  # where the last file attached was: the next prompt starts there
        self._pin_count_timer: Timer | None = None

    def compose_area(self) -> ComposeResult:
        node = session(self).node
        with Horizontal(id="chat"):
            with Vertical(id="sidebar"):
                yield Static("ROOMS", classes="section-title")
                yield RoomList(id="rooms")
            with Vertical(id="conversation"):
                yield Static(id="room-header")
                yield MessageList(node.views, me=node.me, name_of=session(self).name_of, id="messages")
                yield Composer(id="composer")

    # ---- widgets -------------------------------------------------------------------------------------------

    @property
    def messages(self) -> MessageList:
        return self.query_one(MessageList)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def rooms(self) -> RoomList:
        return self.query_one(RoomList)

    def area_mounted(self) -> None:
        self.messages.compose_target = self.composer.input
        self.messages.allowed = self._may
        self.messages.mention_names = session(self).node.my_handles()
        self.messages.file_state = session(self).node.file_state
        self.composer.allow_posting(why_not_post(session(self).node))
        app = session(self)
        if app.flash_watch is not None:
            watch = app.flash_watch
            self.messages.flash_status = lambda message: watch.status_of(message, app.clock())
        if not self._open_first_room():
            self._refresh_rooms()
        self.focus_default()

    def _open_first_room(self) -> bool:
        """Open the first room, if there is one (a newcomer who just joined gets rooms with the first sync)."""
        node = session(self).node
        rooms = [r for r in node.views.rooms() if not r.archived]
        if rooms:
            self.open_room(rooms[0].room)
        else:
            self._room_line = Content.styled(no_room_text(node.awaiting_admission(), node.invite_refusal()), "italic")
            self._show_room_line()
        return bool(rooms)

    def focus_default(self) -> None:
        if self.composer.input.disabled:  # an observer: reading is what they do here
            self.messages.focus()
        else:
            self.composer.focus_input()

    # ---- reading -------------------------------------------------------------------------------------------

    def refresh_area(self, changes: Changes | None) -> None:
        if changes is None or changes.membership:
            node = session(self).node
            self.messages.mention_names = node.my_handles()  # a new name or callsign
            self.messages.forget_names()  # everyone's messages show the name they have now
            self.composer.allow_posting(why_not_post(node))
        if self.room is None and self._open_first_room():
            return
        if changes is None or changes.room_list or changes.messages:
            self._refresh_rooms()
        if self.room is not None and (changes is None or changes.touches_room(self.room)):
            self._reload()
            if changes is None or "msg.pin" in changes.kinds or "msg.retract" in changes.kinds:
                if changes is not None and changes.remote:
                    self._update_room_line_when_quiet()
                else:
                    self._update_room_line()
        if changes is not None and changes.files and self.room is not None:
            self.messages.redraw_files(changes.files)  # fetched, further along, stopped: nothing to read

    def flashes_changed(self) -> None:
        self.messages.redraw_flashes()  # the lines under FLASH messages: overdue, silent, unreachable

    def _refresh_rooms(self) -> None:
        node = session(self).node
        flash: dict[bytes, int] = {}
        for msg in session(self).unacknowledged():
            flash[msg.room] = flash.get(msg.room, 0) + 1
        entries = []
        for room in node.views.rooms():
            unread = (
                0
                if room.room == self.room
                else node.views.message_count(room.room, after_clock=node.last_read(room.room))
            )
            entries.append(RoomEntry(room, unread, flash.get(room.room, 0)))
        self.rooms.show(entries, self.room)

    def _reload_messages(self) -> None:
        self.messages.reload()
        self._mark_read()

    def _mark_read(self) -> None:
        if self.room is not None and self.messages.at_newest:
            session(self).node.mark_read(self.room, self.messages.newest_clock)

    def open_room(self, room: bytes) -> None:
        node = session(self).node
        self.room = session(self).current_room = room
        self.messages.show_room(room, unread_after=node.last_read(room))
        self._mark_read()
        self._update_room_line()
        self.composer.action_cancel()
        self._refresh_rooms()

    def show_message(self, message: Message) -> None:
        """Open ``message``'s room around it, selected (a search result)."""
        if message.room != self.room:
            self.open_room(message.room)
            self.rooms.select_room(message.room)
        self.messages.show_at(message)
        self.messages.focus()

    def on_room_list_opened(self, event: RoomList.Opened) -> None:
        if event.room != self.room:
            self.open_room(event.room)
        if event.focus:
            self.remove_class("-rooms-open")
            self.focus_default()

    # ---- writing -------------------------------------------------------------------------------------------

    async def on_composer_send(self, event: Composer.Send) -> None:
        if self.room is None:
            self.notify("Create a room first (ctrl+n).", severity="warning")
            return
        app, room = session(self), self.room
        reply_to = event.reply_to.id if event.reply_to else None
        self.messages.follow_next = True  # your own message scrolls into view, wherever you were
        files = list(event.files)
        entry = await app.write(
            lambda: app.node.post(room, event.text, flash=event.flash, reply_to=reply_to, attach=files)
        )
        if entry is not None:
            self.composer.sent()
            self.messages.deselect()  # sending ends what was done with the chosen message

    def on_composer_input_leave(self, event: ComposerInput.Leave) -> None:
        self.messages.focus()

    @work
    async def on_composer_attach(self, event: Composer.Attach) -> None:
        """ctrl+l: a path prompt (Tab completes); the file goes with the next message sent."""
        start = self._last_folder or "~/"
        path = await session(self).push_screen_wait(AttachForm(start))
        if path is not None:
            self._last_folder = str(path.parent) + "/"
            self.composer.add_file(path)
        else:
            self.composer.focus_input()

    def _update_room_line_when_quiet(self) -> None:
        """Count the room's pins again once pins from others stop arriving for a moment: on a large store the
        count is a pass over the room (~100 ms at 100,000 entries), and a catch-up brings pins in nearly every
        batch; counted each time, they would hold up every key typed meanwhile."""
        if self._pin_count_timer is not None:
            self._pin_count_timer.stop()
        self._pin_count_timer = self.set_timer(PIN_COUNT_QUIET_S, self._update_room_line)

    def _update_room_line(self) -> None:
        """``# general  Everything without a room   ◆ 2 pinned (ctrl+t)``."""
        node = session(self).node
        info = next((r for r in node.views.rooms() if r.room == self.room), None)
        if info is None:
            return
        pins = len(node.views.pinned_in(info.room))
        self._room_line = Content.assemble(
            (f"# {shown(info.name)}", "bold"),
            (f"  {shown(info.topic)}" if info.topic else "", "$text-muted"),
            (f"   ◆ {pins} pinned (ctrl+t)" if pins else "", "$accent"),
        )
        self._show_room_line()

    def on_message_list_acting_changed(self, event: MessageList.ActingChanged) -> None:
        self._show_room_line()

    def _show_room_line(self) -> None:
        """The line above the messages: the room's name and topic, or, in act mode, the keys that act (in the
        same line, so entering and leaving the mode moves nothing on screen)."""
        line = self.query_one("#room-header", Static)
        acting = self.messages.acting
        line.set_class(acting, "-acting")
        line.update(action_bar_text(self.messages.available_actions()) if acting else self._room_line, layout=False)

    def _may(self, action: str, msg: Message) -> bool:
        """Whether act mode offers ``action`` on ``msg`` to this person (what they may do, and what applies)."""
        node = session(self).node
        if action == "ack":
            return msg.ack_required and msg.author != node.me and node.me not in msg.acked_by and node.may("msg.ack")
        if msg.retracted:
            return False
        if action == "reply":
            return node.may("msg.post")
        if action == "pin":
            return not msg.pinned and node.may("msg.pin")
        if action == "retract":
            return node.may_retract(msg)
        if action == "task":
            return node.may("task.open")
        if action in FILE_ACTIONS:
            return self._may_file(action, msg)
        return False

    def _may_file(self, action: str, msg: Message) -> bool:
        """``f`` while a file of the message is not here; ``o``/``s`` once one is; ``v`` for pictures."""
        node = session(self).node
        if action == "view":
            return any(f.is_image for f in msg.files)
        here = [node.file_state(f).here for f in msg.files]
        if action == "fetch":
            return not all(here) and not node.read_only
        return any(here)

    async def on_message_list_act(self, event: MessageList.Act) -> None:
        app, msg = session(self), event.message
        if event.action == "compose":
            self.focus_default()
            return
        if msg is None:
            return
        if event.action == "ack":
            if not msg.ack_required:
                self.notify("Only FLASH messages ask for an acknowledgement.", timeout=3)
            elif msg.author == app.node.me or app.node.me in msg.acked_by:
                self.notify("Nothing to acknowledge: this one is yours or acknowledged already.", timeout=3)
            elif await app.write(lambda: app.node.ack(msg.id)) is not None:
                self.notify("Acknowledged.", timeout=2)
        elif event.action == "pin":
            if await app.write(lambda: app.node.pin(msg.id)) is not None:
                self.notify("Pinned: it goes into HQ's curated timeline.", timeout=3)
        elif event.action == "reply":
            self.composer.reply(msg, reply_preview(msg, app.name_of))
        elif event.action == "retract":
            self.confirm_retract(msg)
        elif event.action == "task":
            self.task_from(msg)
        elif event.action == "fetch":
            await self.fetch_files(msg)
        elif event.action == "open":
            self.open_file(msg)
        elif event.action == "save":
            self.save_files(msg)
        elif event.action == "view":
            self.view_pictures(msg)

    # ---- files ---------------------------------------------------------------------------------------------

    async def fetch_files(self, msg: Message) -> None:
        """``f``: fetch every file of the message not here yet, ahead of the files fetched unasked."""
        node = session(self).node
        wanted = [f for f in msg.files if not node.file_state(f).here]
        problems = []
        for file in wanted:
            state = await node.fetch_file(file)
            if state.problem:
                problems.append(f"{file.name}: {state.problem}")
        self.messages.redraw_files(frozenset(f.blob for f in wanted))
        if problems:
            self.notify("\n".join(problems), title="Cannot fetch", severity="error", timeout=8)
        elif wanted:
            count = "the file" if len(wanted) == 1 else f"{len(wanted)} files"
            self.notify(f"Fetching {count} from the peers that have it: the message shows how far.", timeout=3)

    async def _choose(self, title: str, files: list[Attachment]) -> Attachment | None:
        if len(files) == 1:
            return files[0]
        node = session(self).node
        states = [state_words(node.file_state(f))[0] for f in files]
        index = await session(self).push_screen_wait(ChooseFile(title, files, states))
        return files[index] if index is not None else None

    @work
    async def open_file(self, msg: Message) -> None:
        """``o``: open a file held here with the system's viewer (a read-only copy under its own name)."""
        app = session(self)
        held = [f for f in msg.files if app.node.file_state(f).here]
        file = await self._choose("Open which file?", held)
        if file is None:
            return
        path = await app.write(lambda: app.node.file_to_open(file))
        if path is not None:
            problem = open_with_system(path)
            if problem:
                self.notify(problem, severity="error", timeout=8)
            else:
                self.notify(f"Opening {file.name} with the system's viewer.", timeout=3)

    @work
    async def save_files(self, msg: Message) -> None:
        """``s``: save copies of the files held here where the person says (a folder, or a file's path)."""
        app = session(self)
        held = [f for f in msg.files if app.node.file_state(f).here]
        target = await app.push_screen_wait(SaveForm(held))
        self.messages.focus()
        if target is None:
            return
        for file in held:
            saved = await app.write(lambda file=file: app.node.save_file(file, target))  # type: ignore[misc]
            if saved is None:
                return
            self.notify(f"Saved {saved}", timeout=4)
        if len(held) < len(msg.files):
            self.notify("Files not fetched yet were not saved: f fetches them.", timeout=4)

    @work
    async def view_pictures(self, msg: Message) -> None:
        """``v``: the message's pictures, fetched ones in full, the others as their thumbnails."""
        app = session(self)
        node = app.node
        pictures = [(f, node.held_file(f)) for f in msg.files if f.is_image]
        if pictures:
            await app.push_screen_wait(ImageScreen(pictures))
            self.messages.focus()  # back on the message looked at

    @work
    async def confirm_retract(self, msg: Message) -> None:
        app = session(self)
        preview = reply_preview(msg, app.name_of, width=60)
        form = ConfirmForm(
            "Retract this message?",
            f"{preview}\n\nIt disappears from everyone's chat, but the log keeps it, marked retracted, for HQ.",
            "Retract",
        )
        if await app.push_screen_wait(form):
            await app.write(lambda: app.node.retract(msg.id))

    @work
    async def task_from(self, msg: Message) -> None:
        app = session(self)
        node = app.node
        members = sorted(
            ((app.name_of(k), k) for k, m in node.membership.members.items() if m.role is not None),
            key=lambda item: item[0].lower(),
        )
        incidents = [(value_text(o.get("title")), o.obj) for o in node.views.incidents() if o.get("status") != "closed"]
        title = shown(" ".join(msg.text.split()))[:160]
        form = TaskForm(members, incidents, title=title, here=my_point(node.my_position()))
        values = await app.push_screen_wait(form)
        if values is not None:
            title, owner, incident, location = values
            opened = await app.write(lambda: node.open_task(title, owner=owner, incident=incident, location=location))
            if opened is not None:
                self.notify(f"Task opened: {title}", timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what this person's role lets them do is offered (hidden otherwise, in the key bar and ``?``)."""
        kind = ACTION_KINDS.get(action)
        return kind is None or session(self).node.may(kind)

    @work
    async def action_new_room(self) -> None:
        app = session(self)
        created: list[bytes] = []

        async def create(values: tuple[str, str]) -> str | None:
            room, refusal = await app.try_write(lambda: app.node.create_room(*values))
            if room is not None:
                created.append(room)
            return refusal

        form = RoomForm()
        form.submit = create  # a name already taken is said in the form, and what was typed stays
        if await app.push_screen_wait(form) is not None and created:
            self._refresh_rooms()
            self.open_room(created[0])
            self.rooms.select_room(created[0])

    @work
    async def action_pinned(self) -> None:
        """The room's pinned messages; the chosen one opens here, selected."""
        if self.room is None:
            return
        node = session(self).node
        info = next((r for r in node.views.rooms() if r.room == self.room), None)
        chosen = await session(self).push_screen_wait(PinnedScreen(self.room, info.name if info else "?"))
        if chosen is not None:
            self.show_message(chosen)

    def action_attach(self) -> None:
        self.composer.action_attach()

    def action_focus_rooms(self) -> None:
        """The room list; on a narrow terminal it shows in place of the conversation until a room is chosen."""
        self.add_class("-rooms-open")
        self.rooms.focus()
