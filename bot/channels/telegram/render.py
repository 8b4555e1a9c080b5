"""Our ``Message`` -> Bot API calls (``sendMessage``, ``sendPhoto``, ``sendDocument``), pure.

- Texts are HTML (``parse_mode=HTML``), split with ``handlers.render.split_text``
  so every part shows at most 4096 characters (Telegram counts UTF-16 units, so
  a part full of emoji is split again smaller); a keyboard goes on the last part.
- Choices -> an inline keyboard, ``columns`` buttons a row, ``callback_data`` =
  the choice id (at most 64 bytes, else ``ValueError``: a bug in a flow).
- A request for location or contact -> a one-time reply keyboard with one
  button; when the same message also has choices, the reply keyboard follows
  in a short second message (a message carries one keyboard only).
- An image -> ``sendPhoto``, with the text as its caption when it fits in 1024
  characters, else the photo alone and then the text.
- A document (an export) -> ``sendDocument`` with its file name, captioned the
  same way.
- ``text_as_caption`` with one file sent earlier (an announcement's photo or
  leaflet): one call, the text as its caption and the keyboard under it.
- ``link`` -> a URL button in the first row of the inline keyboard.
- ``remove_keyboard`` (on a message, or for the whole reply) puts
  ``ReplyKeyboardRemove`` on the first call that has no keyboard of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode

from handlers.i18n import _
from handlers.render import split_text, to_plain
from handlers.types import PHONE_LINE, Choice, MediaKind, MediaRef, Message

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
# Telegram refuses an empty text; a keyboard with nothing to say still needs one.
EMPTY_TEXT = "\u2063"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # frozen: one for every message

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


Method = Literal[
    "send_message", "send_photo", "send_document", "send_video", "send_voice", "edit_message_text"
]
# A file sent earlier goes out again by its file id (a new message from the bot).
RESEND: dict[MediaKind, Method] = {
    "photo": "send_photo",
    "video": "send_video",
    "voice": "send_voice",
    "document": "send_document",
}


# A kept copy of a file that came on another channel is uploaded: photos as photos,
# anything else as a document (a Zalo voice message is AAC, which sendVoice refuses).
UPLOAD_NAMES: dict[MediaKind, str] = {
    "photo": "photo.jpg",
    "video": "video.mp4",
    "voice": "voice.aac",
    "document": "document",
}


def file_call(ref: MediaRef) -> Call | None:
    """Telegram's own file by its id, another channel's from the kept copy, else None."""
    if ref.file_id:
        return Call(RESEND[ref.kind], {ref.kind: ref.file_id})
    if not ref.stored:
        return None
    try:
        data = Path(ref.stored).read_bytes()
    except OSError:
        return None
    upload = InputFile(data, filename=UPLOAD_NAMES[ref.kind])
    if ref.kind in ("photo", "video"):
        return Call(RESEND[ref.kind], {ref.kind: upload})
    return Call("send_document", {"document": upload})


@dataclass
class Call:
    """One Bot API call: ``send_message`` or ``send_<file kind>`` (no chat id)."""

    method: Method
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def markup(self) -> Markup | None:
        markup: Markup | None = self.kwargs.get("reply_markup")
        return markup


def plain(value: Any) -> Any:
    """A parameter as the Bot API's JSON: a keyboard (and the no-preview option) turned
    into a dict once, not at every message that shows it (PTB's ``to_dict`` on each
    send was a twentieth of the bot's CPU per update); anything else as it is."""
    if isinstance(value, InlineKeyboardMarkup):
        return _plain_keyboard(value)
    if value is NO_PREVIEW:
        return _NO_PREVIEW_JSON
    return value


@functools.lru_cache(maxsize=512)
def _plain_keyboard(markup: InlineKeyboardMarkup) -> dict[str, Any]:
    # Keyed by PTB's equality of keyboards: every field a button of ours can have.
    return markup.to_dict()


_NO_PREVIEW_JSON = NO_PREVIEW.to_dict()


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_units(html_text: str) -> int:
    """The length Telegram checks: UTF-16 units of the text after entity parsing."""
    return utf16_length(to_plain(html_text))


def split_for_telegram(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``split_text``, but every part within ``limit`` UTF-16 units (emoji count twice)."""
    parts = split_text(text, limit)
    if all(visible_units(p) <= limit for p in parts):
        return parts
    return split_text(text, limit // 2)


def inline_keyboard(
    choices: Sequence[Choice], columns: int = 1, link: tuple[str, str] | None = None
) -> InlineKeyboardMarkup:
    """The keyboard of ``choices``; the same keyboard again (a menu, a list of steps) is
    built once: PTB's objects cost about a tenth of the bot's CPU per update (issue 17),
    and being frozen, one object serves every message that shows it."""
    return _keyboard(tuple(choices), columns, link)


@functools.lru_cache(maxsize=512)
def _keyboard(
    choices: tuple[Choice, ...], columns: int, link: tuple[str, str] | None
) -> InlineKeyboardMarkup:
    per_row = max(1, columns)
    buttons = []
    for choice in choices:
        if len(choice.id.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"choice id over {CALLBACK_DATA_LIMIT} bytes: {choice.id!r}")
        buttons.append(InlineKeyboardButton(choice.label, callback_data=choice.id))
    # Side by side only while each label fits its share of a phone line; a longer
    # one gets a row of its own.
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        fits = len(button.text) <= PHONE_LINE // per_row
        last = rows[-1] if rows else None
        if last and len(last) < per_row and fits and len(last[-1].text) <= PHONE_LINE // per_row:
            last.append(button)
        else:
            rows.append([button])
    if link is not None:
        rows.insert(0, [InlineKeyboardButton(link[0], url=link[1])])
    return InlineKeyboardMarkup(rows)


def request_keyboard(msg: Message) -> ReplyKeyboardMarkup:
    if msg.request == "location":
        button = KeyboardButton(msg.request_label or _("Share my location"), request_location=True)
    else:
        button = KeyboardButton(
            msg.request_label or _("Share my phone number"), request_contact=True
        )
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)


def _text_call(text: str, markup: Markup | None) -> Call:
    kwargs: dict[str, Any] = {
        "text": text if text.strip() else EMPTY_TEXT,
        "parse_mode": ParseMode.HTML,
        "link_preview_options": NO_PREVIEW,
    }
    if markup is not None:
        kwargs["reply_markup"] = markup
    return Call("send_message", kwargs)


def render_message(msg: Message) -> list[Call]:
    """The calls that show one message, in order (without ``ReplyKeyboardRemove``)."""
    inline = (
        inline_keyboard(msg.choices, msg.columns, msg.link) if msg.choices or msg.link else None
    )
    reply_kb = request_keyboard(msg) if msg.request else None
    markup: Markup | None = inline or reply_kb
    calls = [call for ref in msg.files if (call := file_call(ref)) is not None]
    text = msg.text or ""
    if msg.text_as_caption and len(calls) == 1 and visible_units(text) <= CAPTION_LIMIT:
        if text.strip():
            calls[0].kwargs.update(caption=text, parse_mode=ParseMode.HTML)
        if markup is not None:
            calls[0].kwargs["reply_markup"] = markup
        return calls
    if msg.image is not None:
        photo: dict[str, Any] = {"photo": InputFile(msg.image, filename=msg.image_name)}
        if text.strip() and visible_units(text) <= CAPTION_LIMIT:
            photo.update(caption=text, parse_mode=ParseMode.HTML)
            text = ""
        if not text.strip() and markup is not None:
            photo["reply_markup"] = markup
            markup = None
        calls.append(Call("send_photo", photo))
    if msg.document is not None:
        document: dict[str, Any] = {"document": InputFile(msg.document, filename=msg.document_name)}
        if text.strip() and visible_units(text) <= CAPTION_LIMIT:
            document.update(caption=text, parse_mode=ParseMode.HTML)
            text = ""
        if not text.strip() and markup is not None:
            document["reply_markup"] = markup
            markup = None
        calls.append(Call("send_document", document))
    if text.strip() or markup is not None:
        parts = split_for_telegram(text) if text.strip() else [""]
        calls.extend(_text_call(part, None) for part in parts[:-1])
        calls.append(_text_call(parts[-1], markup))
    if inline is not None and reply_kb is not None:
        calls.append(_text_call(_("Or use the button below."), reply_kb))
    return calls


def edit_call(msg: Message, message_id: str) -> Call | None:
    """``editMessageText`` of ``message_id`` showing ``msg``, when a text edit can show it
    (no file, no reply keyboard, one part); else None."""
    if msg.image is not None or msg.document is not None or msg.files or msg.request:
        return None
    if msg.remove_keyboard or len(split_for_telegram(msg.text or "")) != 1:
        return None
    call = _text_call(
        msg.text or "",
        inline_keyboard(msg.choices, msg.columns, msg.link) if msg.choices or msg.link else None,
    )
    call.method = "edit_message_text"
    call.kwargs["message_id"] = int(message_id)
    return call


def render_reply(messages: list[Message], *, remove_keyboard: bool = False) -> list[Call]:
    """The calls for a whole reply; ``remove_keyboard`` clears a reply keyboard left on screen."""
    calls: list[Call] = []
    pending_remove = remove_keyboard
    for msg in messages:
        rendered = render_message(msg)
        if msg.request:
            pending_remove = False  # the new keyboard replaces the old one
        elif msg.remove_keyboard:
            pending_remove = True
        if pending_remove:
            for call in rendered:
                if call.markup is None:
                    call.kwargs["reply_markup"] = ReplyKeyboardRemove()
                    pending_remove = False
                    break
        calls.extend(rendered)
    return calls
