"""What goes into and comes out of the engine, independent of any messenger.

``Message.text`` is Telegram-style HTML (``<b>``, ``<i>``, ``<code>``); every
piece of user text in it has been escaped with ``handlers.render.esc``. Channels
without formatting turn it into plain text with ``handlers.render.to_plain``.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

MediaKind = Literal["photo", "video", "voice", "document"]
# A button label fits one line of a 360 px wide phone (about 42 characters of
# Telegram's button font); a longer label is cut with "…" (put what matters first).
PHONE_LINE = 42
RequestKind = Literal["location", "contact"]


@dataclass(frozen=True)
class MediaRef:
    """A file the person sent, as the channel knows it (downloaded only on demand)."""

    kind: MediaKind
    file_id: str
    file_unique_id: str | None = None
    mime: str | None = None
    size: int | None = None
    name: str | None = None
    # The kept copy (``<data_dir>/media/<sha256[:2]>/<sha256>``): what a channel sends when
    # ``file_id`` is empty (a file that came on another channel) or no longer valid.
    stored: str | None = None


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True)
class Incoming:
    """One update from a person, whatever the channel."""

    channel: str
    user_id: str
    chat_id: str
    update_id: str | None = None
    display_name: str = ""
    language_code: str | None = None
    text: str | None = None
    command: str | None = None  # "start" for "/start inv_X"
    args: str = ""  # "inv_X"
    choice: str | None = None  # the id of a pressed button
    message_id: str | None = None  # the message that button is on (where the channel says)
    location: Location | None = None
    contact_phone: str | None = None
    media: tuple[MediaRef, ...] = ()
    received_at: dt.datetime | None = None
    # A message the channel could not pass on (a file, a sticker, a location on Zalo,
    # every message of an account Zalo protects): answered with what the bot can take.
    unsupported: bool = False


@dataclass(frozen=True)
class Choice:
    """A button: matched by ``id`` (never by its translated label)."""

    id: str
    label: str

    def __post_init__(self) -> None:
        # Buttons start with a capital ("Đang mở", not "đang mở"), whatever the msgid.
        label = self.label
        if label[:1].islower():
            label = label[0].upper() + label[1:]
        if len(label) > PHONE_LINE:
            label = label[: PHONE_LINE - 1].rstrip(" ·,-(") + "…"
        object.__setattr__(self, "label", label)


@dataclass
class Message:
    """One message to show; choices are laid out ``columns`` to a row."""

    text: str
    choices: list[Choice] = field(default_factory=list)
    columns: int = 1
    request: RequestKind | None = None
    request_label: str | None = None
    image: bytes | None = None  # a PNG (charts); the text becomes its caption when short
    image_name: str = "image.png"
    remove_keyboard: bool = False
    document: bytes | None = None  # a file to download (exports); the text becomes its caption
    document_name: str = "document"
    # Files people sent earlier, shown again before the text by the channel's own
    # reference (sent anew by the bot, never forwarded: the sender stays hidden).
    files: tuple[MediaRef, ...] = ()
    # With exactly one file: the text goes as its caption (announcements), when it fits.
    text_as_caption: bool = False
    # A button that opens a web address: (label, https URL); shown before the choices.
    link: tuple[str, str] | None = None
    # Part of a mass announcement (Telegram's allow_paid_broadcast, when configured).
    bulk: bool = False
    # The question is answered with a number (a count, a share): a channel that reads
    # a typed number as the n-th choice (Zalo) must not offer these choices by number.
    numeric_answer: bool = False
    # Shown in place of the message whose button was pressed (a page, a card, a filter),
    # where the channel can edit; a new event (a saved check-in, a tip) is never this.
    replaces: bool = False


Reply = list[Message]


def in_place(reply: Reply) -> Reply:
    """Mark a reply's first message as replacing the one whose button was pressed."""
    if reply:
        reply[0].replaces = True
    return reply


def message_to_json(msg: Message) -> dict[str, Any]:
    """A message as JSON (for the outbox); an image or document travels base64-encoded."""
    data: dict[str, Any] = {"text": msg.text}
    if msg.choices:
        data["choices"] = [[c.id, c.label] for c in msg.choices]
        data["columns"] = msg.columns
    if msg.request:
        data["request"] = msg.request
        data["request_label"] = msg.request_label
    if msg.image is not None:
        data["image"] = base64.b64encode(msg.image).decode()
        data["image_name"] = msg.image_name
    if msg.remove_keyboard:
        data["remove_keyboard"] = True
    if msg.document is not None:
        data["document"] = base64.b64encode(msg.document).decode()
        data["document_name"] = msg.document_name
    if msg.files:
        data["files"] = [[f.kind, f.file_id, f.name, f.stored] for f in msg.files]
    if msg.text_as_caption:
        data["text_as_caption"] = True
    if msg.link is not None:
        data["link"] = list(msg.link)
    if msg.bulk:
        data["bulk"] = True
    if msg.numeric_answer:
        data["numeric_answer"] = True
    return data


def message_from_json(data: dict[str, Any]) -> Message:
    return Message(
        text=data["text"],
        choices=[Choice(cid, label) for cid, label in data.get("choices", [])],
        columns=data.get("columns", 1),
        request=data.get("request"),
        request_label=data.get("request_label"),
        image=base64.b64decode(data["image"]) if "image" in data else None,
        image_name=data.get("image_name", "image.png"),
        remove_keyboard=data.get("remove_keyboard", False),
        document=base64.b64decode(data["document"]) if "document" in data else None,
        document_name=data.get("document_name", "document"),
        files=tuple(
            MediaRef(f[0], f[1], name=f[2], stored=f[3] if len(f) > 3 else None)
            for f in data.get("files", [])
        ),
        text_as_caption=data.get("text_as_caption", False),
        link=(data["link"][0], data["link"][1]) if data.get("link") else None,
        bulk=data.get("bulk", False),
        numeric_answer=data.get("numeric_answer", False),
    )
