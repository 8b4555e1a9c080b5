"""``EmulatorChannel``: personas chatting with the engine from a web page, history kept.

What a persona sends goes through ``Engine.handle`` like a Telegram update (a
uuid as the update id); the user's line and the engine's reply are appended to
the persona's history and pushed to the live subscribers (server-sent events).
``send`` (the ``Channel`` protocol, used by the outbox sender) appends and pushes
proactive messages the same way. Entry ids grow across all personas, so one
number tells a reconnecting page what it missed.

The history is also appended to ``<data_dir>/emulator-history.jsonl`` and read
back at start, so the chats survive a restart as the data does; bot images
(digest charts) and documents (exports) are written beside the uploads
(``bot-<sha256>``) for the same reason, a document offered as a download link;
files a persona uploads are stored under ``<data_dir>/emulator-media/<sha256>``
and reach the engine as ``MediaRef(file_id="emu:<sha256>")``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bot.channels.emulator.sanitize import sanitize_html
from db.models import Identity
from db.session import UnitOfWork
from handlers.engine import Engine
from handlers.i18n import LANGUAGES, format_datetime
from handlers.render import esc, to_plain
from handlers.types import Incoming, Location, MediaKind, MediaRef, Message

log = logging.getLogger(__name__)

CHANNEL = "emulator"
HISTORY_LIMIT = 1000  # entries kept per persona
HISTORY_FILE = "emulator-history.jsonl"
IMAGE_LIMIT = 200  # bot images kept in memory
DOCUMENT_LIMIT = 50  # bot documents (exports) kept in memory
FILE_ID_PREFIX = "emu:"
COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?", re.DOTALL)
SHA256 = re.compile(r"[0-9a-f]{64}")


class UnknownPersona(KeyError):
    """No persona has that id."""


@dataclass(frozen=True)
class Persona:
    """One demo person: ``id`` is the emulator user id (and chat id) of its identity."""

    id: str
    name: str
    role: str  # the label shown under the name, e.g. "Người dân"
    phone: str = ""
    role_labels: dict[str, str] = field(default_factory=dict)  # the label per UI language
    # Where "share my location" puts this person (e.g. their commune), if anywhere.
    lat: float | None = None
    lon: float | None = None
    description: str = ""

    def demo_phone(self) -> str:
        if self.phone:
            return self.phone
        digits = int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 10**8
        return f"09{digits:08d}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["phone"] = self.demo_phone()
        return data


@dataclass
class Entry:
    """One line of a chat: what the persona sent, or a bot message."""

    id: int
    persona: str
    sender: str  # "user" | "bot"
    kind: str  # user: text, command, choice, location, contact, file; bot: message
    at: dt.datetime
    html: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)
    columns: int = 1
    request: str | None = None
    request_label: str | None = None
    image: str | None = None  # a URL on this server
    remove_keyboard: bool = False
    proactive: bool = False
    document: str | None = None  # a download URL on this server
    document_name: str | None = None
    link: dict[str, str] | None = None  # a button that opens a web address
    edited: bool = False  # replaces the entry with the same id (a status edited in place)
    replaces: int | None = None  # the entry this one takes the place of (an edit)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["at_local"] = format_datetime(self.at)
        return data

    def stored(self) -> str:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_stored(cls, line: str) -> Entry:
        data = json.loads(line)
        data["at"] = dt.datetime.fromisoformat(data["at"])
        return cls(**data)


@dataclass(frozen=True)
class Upload:
    sha256: str
    size: int
    mime: str
    kind: MediaKind
    name: str | None = None


@dataclass(frozen=True)
class Input:
    """What a persona sends: exactly one of text, choice, location, contact, upload.

    An upload may come with ``text`` (its caption).
    """

    text: str | None = None
    choice: str | None = None
    location: Location | None = None
    location_label: str | None = None  # the picked unit's name, shown in the chat
    contact: str | None = None
    upload: Upload | None = None

    @property
    def kind(self) -> str:
        if self.choice is not None:
            return "choice"
        if self.location is not None:
            return "location"
        if self.contact is not None:
            return "contact"
        if self.upload is not None:
            return "file"
        return "command" if COMMAND.fullmatch((self.text or "").strip()) else "text"


def to_incoming(persona: Persona, sent: Input, *, language: str, now: dt.datetime) -> Incoming:
    """The update the engine gets: a fresh uuid as update id, files as ``emu:<sha256>``."""
    fields: dict[str, Any] = {}
    if sent.choice is not None:
        fields["choice"] = sent.choice
    elif sent.location is not None:
        fields["location"] = sent.location
    elif sent.contact is not None:
        fields["contact_phone"] = sent.contact
    elif sent.upload is not None:
        up = sent.upload
        ref = MediaRef(
            up.kind, FILE_ID_PREFIX + up.sha256, up.sha256, mime=up.mime, size=up.size, name=up.name
        )
        fields.update(media=(ref,), text=sent.text or None)
    else:
        body = (sent.text or "").strip()
        fields["text"] = body
        match = COMMAND.fullmatch(body)
        if match:
            fields.update(command=match.group(1).lower(), args=(match.group(2) or "").strip())
    return Incoming(
        channel=CHANNEL,
        user_id=persona.id,
        chat_id=persona.id,
        update_id=uuid.uuid4().hex,
        display_name=persona.name,
        language_code=language,
        received_at=now,
        **fields,
    )


def media_kind(mime: str) -> MediaKind:
    if mime.startswith("image/"):
        return "photo"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "voice"
    return "document"


class EmulatorChannel:
    """The ``emulator`` channel: ``send`` for proactive messages, ``submit`` for input."""

    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        personas: list[Persona],
        *,
        media_dir: Path | None = None,
        language: str | None = None,
    ) -> None:
        if len({p.id for p in personas}) != len(personas):
            raise ValueError("persona ids must be unique")
        self.engine = engine
        self.personas = {p.id: p for p in personas}
        self.media_dir = media_dir or engine.settings.data_dir / "emulator-media"
        self.language = language or engine.settings.default_language
        self._history: dict[str, deque[Entry]] = {}
        self._subscribers: dict[str | None, set[asyncio.Queue[Entry | None]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._documents: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._next_id = 1
        self.history_file = engine.settings.data_dir / HISTORY_FILE
        self._load_history()

    def _load_history(self) -> None:
        """The chats of earlier runs (a line that cannot be read is skipped)."""
        try:
            lines = self.history_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        for line in lines:
            try:
                entry = Entry.from_stored(line)
            except (ValueError, TypeError, KeyError):
                continue
            self._add(entry)
            self._next_id = max(self._next_id, entry.id + 1)
        kept = sorted((e for h in self._history.values() for e in h), key=lambda e: e.id)
        if len(kept) < len(lines):  # keep the file as short as the history
            tmp = self.history_file.with_suffix(".part")
            tmp.write_text("".join(e.stored() + "\n" for e in kept), encoding="utf-8")
            tmp.replace(self.history_file)

    def _store(self, entry: Entry) -> None:
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            with self.history_file.open("a", encoding="utf-8") as fh:
                fh.write(entry.stored() + "\n")
        except OSError:
            log.warning("emulator history not saved to %s", self.history_file)

    # --- state ---------------------------------------------------------------------

    def persona(self, persona_id: str) -> Persona:
        try:
            return self.personas[persona_id]
        except KeyError:
            raise UnknownPersona(persona_id) from None

    def history(self, persona_id: str, *, after: int = 0) -> list[Entry]:
        return [e for e in self._history.get(persona_id, ()) if e.id > after]

    def image(self, key: str) -> bytes | None:
        return self._images.get(key) or self._kept_file(key)

    def document(self, key: str) -> tuple[str, bytes] | None:
        """(file name, content) of a document a bot message offered."""
        found = self._documents.get(key)
        if found is not None:
            return found
        data = self._kept_file(key)
        url = f"/api/documents/{key}"
        for entries in self._history.values():
            for entry in entries:
                if data is not None and entry.document == url:
                    return entry.document_name or "document", data
        return None

    def _kept_file(self, key: str) -> bytes | None:
        if not SHA256.fullmatch(key):
            return None
        try:
            return (self.media_dir / f"bot-{key}").read_bytes()
        except OSError:
            return None

    def _keep_file(self, key: str, data: bytes) -> None:
        path = self.media_dir / f"bot-{key}"
        if path.exists():
            return
        try:
            self.media_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError:
            log.warning("emulator file not saved to %s", path)

    def media_path(self, sha256: str) -> Path | None:
        if not SHA256.fullmatch(sha256):
            return None
        path = self.media_dir / sha256
        return path if path.is_file() else None

    def _add(self, entry: Entry) -> None:
        history = self._history.setdefault(entry.persona, deque(maxlen=HISTORY_LIMIT))
        if entry.edited:  # a status edited in place keeps its place
            for index, old in enumerate(history):
                if old.id == entry.id:
                    history[index] = entry
                    return
        if entry.replaces is not None:  # an edit: the old message goes, as on Telegram
            for old in [e for e in history if e.id == entry.replaces]:
                history.remove(old)
        history.append(entry)

    def _append(self, entry: Entry) -> Entry:
        self._add(entry)
        self._store(entry)
        for key in (entry.persona, None):
            for queue in self._subscribers.get(key, ()):
                queue.put_nowait(entry)
        return entry

    def _new_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def _keep_image(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self._keep_file(key, data)
        self._images[key] = data
        self._images.move_to_end(key)
        while len(self._images) > IMAGE_LIMIT:
            self._images.popitem(last=False)
        return f"/api/images/{key}"

    def _keep_document(self, name: str, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self._keep_file(key, data)
        self._documents[key] = (name, data)
        self._documents.move_to_end(key)
        while len(self._documents) > DOCUMENT_LIMIT:
            self._documents.popitem(last=False)
        return f"/api/documents/{key}"

    def _bot_entries(self, persona_id: str, msg: Message, *, proactive: bool) -> list[Entry]:
        """A file sent earlier is an entry of its own (by its upload), then the message."""
        entries = []
        for ref in msg.files:
            if not ref.file_id.startswith(FILE_ID_PREFIX):
                continue  # another channel's file: the handlers only pass this channel's
            url = f"/api/media/{ref.file_id[len(FILE_ID_PREFIX) :]}"
            photo = ref.kind == "photo"
            entries.append(
                Entry(
                    id=self._new_id(),
                    persona=persona_id,
                    sender="bot",
                    kind="message",
                    at=self.engine.clock(),
                    image=url if photo else None,
                    document=None if photo else url,
                    document_name=None if photo else (ref.name or ref.kind),
                    proactive=proactive,
                )
            )
        entries.append(self._bot_entry(persona_id, msg, proactive=proactive))
        return entries

    def _bot_entry(self, persona_id: str, msg: Message, *, proactive: bool) -> Entry:
        return Entry(
            id=self._new_id(),
            persona=persona_id,
            sender="bot",
            kind="message",
            at=self.engine.clock(),
            html=sanitize_html(msg.text or ""),
            choices=[{"id": c.id, "label": c.label} for c in msg.choices],
            columns=msg.columns,
            request=msg.request,
            request_label=msg.request_label,
            image=self._keep_image(msg.image) if msg.image is not None else None,
            remove_keyboard=msg.remove_keyboard,
            proactive=proactive,
            document=(
                self._keep_document(msg.document_name, msg.document)
                if msg.document is not None
                else None
            ),
            document_name=msg.document_name if msg.document is not None else None,
            link={"label": msg.link[0], "url": msg.link[1]} if msg.link else None,
        )

    def _choice_label(self, persona_id: str, choice: str) -> str:
        """The label of the latest button with that id the persona was shown."""
        for entry in reversed(self._history.get(persona_id, ())):
            for c in entry.choices:
                if c["id"] == choice:
                    return to_plain(c["label"])
        return choice

    # --- live subscribers ------------------------------------------------------------

    def subscribe(self, persona_id: str | None) -> asyncio.Queue[Entry | None]:
        """A queue of new entries of one persona (``None``: of all); ``None`` ends it."""
        queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self._subscribers.setdefault(persona_id, set()).add(queue)
        return queue

    def unsubscribe(self, persona_id: str | None, queue: asyncio.Queue[Entry | None]) -> None:
        self._subscribers.get(persona_id, set()).discard(queue)

    def close_subscribers(self) -> None:
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(None)

    def subscriber_count(self, persona_id: str | None = None) -> int:
        return len(self._subscribers.get(persona_id, ()))

    # --- the Channel protocol ----------------------------------------------------------

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """A proactive message (reminder, digest, announcement): history and live pages."""
        for msg in messages:
            for entry in self._bot_entries(chat_id, msg, proactive=True):
                self._append(entry)

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        """A status message; with ``replace`` the entry of that id is edited in place."""
        entry = self._bot_entry(chat_id, message, proactive=True)
        history = self._history.get(chat_id, deque())
        if replace is not None and replace.isdigit():
            if any(old.id == int(replace) for old in history):
                entry.id, entry.edited = int(replace), True
                self._append(entry)  # kept in the history file too, in its place
                return replace
        self._append(entry)
        return str(entry.id)

    # --- what a persona sends -------------------------------------------------------

    async def submit(self, persona_id: str, sent: Input) -> tuple[Entry, list[Entry]]:
        """Hand one input to the engine; the user's entry and the reply's entries."""
        persona = self.persona(persona_id)
        inp = to_incoming(persona, sent, language=self.language, now=self.engine.clock())
        async with self._locks.setdefault(persona.id, asyncio.Lock()):
            upload = sent.upload
            mine = Entry(
                id=self._new_id(),
                persona=persona.id,
                sender="user",
                kind=sent.kind,
                at=inp.received_at or self.engine.clock(),
                html=self._shown(persona.id, sent),
                image=f"/api/media/{upload.sha256}" if upload and upload.kind == "photo" else None,
            )
            pressed = self._pressed(persona.id, sent.choice) if sent.choice else None
            self._append(mine)
            reply = await self.engine.handle(inp)
            entries = []
            for i, m in enumerate(reply):
                made = self._bot_entries(persona.id, m, proactive=False)
                if i == 0 and m.replaces and pressed is not None and len(made) == 1:
                    made[0].replaces = pressed  # edited in place, as Telegram does
                entries += [self._append(entry) for entry in made]
        return mine, entries

    def _pressed(self, persona_id: str, choice: str) -> int | None:
        """The id of the latest bot message showing the button ``choice``."""
        for entry in reversed(self._history.get(persona_id, ())):
            if entry.sender == "bot" and any(c["id"] == choice for c in entry.choices):
                return entry.id
        return None

    def _shown(self, persona_id: str, sent: Input) -> str:
        """The persona's line in the chat, as safe HTML."""
        if sent.choice is not None:
            return esc(self._choice_label(persona_id, sent.choice))
        if sent.location is not None:
            coords = f"{sent.location.lat:.5f}, {sent.location.lon:.5f}"
            label = f"{sent.location_label} ({coords})" if sent.location_label else coords
            return "📍 " + esc(label)
        if sent.contact is not None:
            return "📞 " + esc(sent.contact)
        return esc((sent.text or "").strip())

    # --- uploads and language ------------------------------------------------------------

    def store_upload(self, data: bytes, mime: str, name: str | None = None) -> Upload:
        """Keep an uploaded file under its sha256 (the same file twice is stored once)."""
        digest = hashlib.sha256(data).hexdigest()
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / digest
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return Upload(digest, len(data), mime, media_kind(mime), name)

    async def set_language(self, lang: str) -> None:
        """The bot's language for every persona (their identities), and for new ones."""
        if lang not in LANGUAGES:
            raise ValueError(lang)
        async with UnitOfWork(self.engine.db) as uow:
            await uow.session.execute(
                update(Identity).where(Identity.channel == CHANNEL).values(language=lang)
            )
            await uow.commit()
        self.language = lang
