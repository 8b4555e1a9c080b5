"""Telegram ``Update`` -> ``handlers.types.Incoming``.

Only private chats are conversations; updates from groups and channels, edits
and anything else we do not use become ``None`` (ignored). A shared contact is
taken only when it is the sender's own (``request_contact`` sends exactly that).
"""

from __future__ import annotations

from typing import Any

from telegram import Message as TgMessage
from telegram import MessageEntity, Update
from telegram.constants import ChatType

from handlers.types import Incoming, Location, MediaRef

CHANNEL = "telegram"

# What ``_from_callback`` reads of the message a button was pressed on (``date`` and
# ``chat`` PTB needs to build it at all).
_PRESSED_KEPT = ("message_id", "date", "chat")


def trim_pressed(update: dict[str, Any]) -> dict[str, Any]:
    """The update's JSON without what we never read of a pressed button's message: its
    text, entities and whole keyboard, which PTB would turn into an object per button
    (half the cost of parsing a press, issue 17). Any other update is left as it is."""
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(message := query.get("message"), dict):
        query["message"] = {key: message[key] for key in _PRESSED_KEPT if key in message}
    return update


def to_incoming(update: Update) -> Incoming | None:
    """The update as an ``Incoming``, or ``None`` when it is not for the engine."""
    if update.callback_query is not None:
        return _from_callback(update)
    msg = update.message
    if msg is None or msg.from_user is None or msg.chat.type != ChatType.PRIVATE:
        return None
    user = msg.from_user
    text = msg.text if msg.text is not None else msg.caption
    command, args = _command(msg)
    location = Location(msg.location.latitude, msg.location.longitude) if msg.location else None
    phone = None
    if msg.contact is not None and msg.contact.user_id == user.id:
        phone = msg.contact.phone_number
    return Incoming(
        channel=CHANNEL,
        user_id=str(user.id),
        chat_id=str(msg.chat.id),
        update_id=str(update.update_id),
        display_name=user.full_name,
        language_code=user.language_code,
        text=text,
        command=command,
        args=args,
        location=location,
        contact_phone=phone,
        media=_media(msg),
        received_at=msg.date,
    )


def _from_callback(update: Update) -> Incoming | None:
    query = update.callback_query
    assert query is not None
    message = query.message
    if query.data is None:  # a game button: not ours
        return None
    if message is not None and message.chat.type != ChatType.PRIVATE:
        return None
    user = query.from_user
    return Incoming(
        channel=CHANNEL,
        user_id=str(user.id),
        chat_id=str(message.chat.id if message is not None else user.id),
        update_id=str(update.update_id),
        display_name=user.full_name,
        language_code=user.language_code,
        choice=query.data,
        message_id=str(message.message_id) if message is not None else None,
    )


def _command(msg: TgMessage) -> tuple[str | None, str]:
    """``("start", "inv_X")`` for ``/start@our_bot inv_X``; ``(None, "")`` for other text."""
    text = msg.text
    if not text or not msg.entities:
        return None, ""
    first = msg.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None, ""
    name = text[1 : first.length].split("@", 1)[0].lower()
    return name, text[first.length :].strip()


def _media(msg: TgMessage) -> tuple[MediaRef, ...]:
    refs: list[MediaRef] = []
    if msg.photo:
        best = msg.photo[-1]  # sizes come smallest first
        refs.append(
            MediaRef("photo", best.file_id, best.file_unique_id, "image/jpeg", best.file_size)
        )
    if msg.video is not None:
        v = msg.video
        refs.append(MediaRef("video", v.file_id, v.file_unique_id, v.mime_type, v.file_size))
    if msg.video_note is not None:
        n = msg.video_note
        refs.append(MediaRef("video", n.file_id, n.file_unique_id, "video/mp4", n.file_size))
    if msg.voice is not None:
        vo = msg.voice
        refs.append(MediaRef("voice", vo.file_id, vo.file_unique_id, vo.mime_type, vo.file_size))
    if msg.audio is not None:
        a = msg.audio
        refs.append(
            MediaRef("voice", a.file_id, a.file_unique_id, a.mime_type, a.file_size, a.file_name)
        )
    if msg.document is not None:
        d = msg.document
        refs.append(
            MediaRef("document", d.file_id, d.file_unique_id, d.mime_type, d.file_size, d.file_name)
        )
    return tuple(refs)
