"""What goes into and comes out of the engine, independent of any messenger.

``Message.text`` is Telegram-style HTML (``<b>``, ``<i>``, ``<code>``); every
piece of user text in it has been escaped with ``handlers.render.esc``. Channels
without formatting turn it into plain text with ``handlers.render.to_plain``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

MediaKind = Literal["photo", "video", "voice", "document"]
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
    location: Location | None = None
    contact_phone: str | None = None
    media: tuple[MediaRef, ...] = ()
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class Choice:
    """A button: matched by ``id`` (never by its translated label)."""

    id: str
    label: str


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


Reply = list[Message]
