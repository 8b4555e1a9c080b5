"""A Zalo update -> ``handlers.types.Incoming``.

Only private chats are conversations. Zalo updates carry no update id: the
message id (a string) stands in for it, so a redelivered message is handled
once. A text starting with "/" is a command ("/start inv_X" -> start, "inv_X").
Zalo does not say the person's language: Vietnamese, the default.

A photo's URL comes in ``photo_url`` on live bots (``photo`` in Zalo's own
table: both are read), its caption may be empty; a voice message's in
``voice_url`` (AAC). Stickers and ``message.unsupported.received`` (files,
videos, contacts, locations, quotes, reactions, and every message of an account
Zalo protects) reach the engine as ``unsupported``: they are answered, never
dropped. An update that names no chat or sender cannot be answered: ``None``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from handlers.types import Incoming, MediaRef

CHANNEL = "zalo"


class BadUpdate(ValueError):
    """A body whose shape is not a Zalo update (e.g. ``message.chat`` not an object)."""


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result (bare or ``{ok, result}``)."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    return body if isinstance(body, dict) else None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _object(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadUpdate(f"message.{key} is a {type(value).__name__}, not an object")
    return value


def to_incoming(update: dict[str, Any]) -> Incoming | None:
    """The update as an ``Incoming``, or ``None`` when it is not for the engine.

    Raises ``BadUpdate`` when the update is not shaped as Zalo's are.
    """
    msg = update.get("message")
    if msg is None:
        return None  # e.g. an unsupported event without a message: it names nobody
    if not isinstance(msg, dict):
        raise BadUpdate(f"message is a {type(msg).__name__}, not an object")
    chat, sender = _object(msg, "chat"), _object(msg, "from")
    if chat.get("chat_type", "PRIVATE") != "PRIVATE" or sender.get("is_bot"):
        return None
    user_id, chat_id = str(sender.get("id") or ""), str(chat.get("id") or "")
    if not user_id or not chat_id:
        return None
    event = str(update.get("event_name", ""))
    text = msg.get("text") if isinstance(msg.get("text"), str) else None
    media: tuple[MediaRef, ...] = ()
    photo = _url(msg.get("photo_url")) or _url(msg.get("photo"))
    if event == "message.image.received" and photo:
        media = (MediaRef("photo", photo, mime="image/jpeg"),)
        caption = msg.get("caption")
        text = caption if isinstance(caption, str) and caption.strip() else None
    elif event == "message.voice.received" and _url(msg.get("voice_url")):
        media = (MediaRef("voice", msg["voice_url"], mime="audio/aac"),)
    command, args = None, ""
    if text and text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        command, args, text = head.lower(), rest.strip(), None
    received = None
    if isinstance(msg.get("date"), int):
        try:
            received = dt.datetime.fromtimestamp(msg["date"] / 1000, dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise BadUpdate(f"message.date {msg['date']} is not a time") from exc
    return Incoming(
        channel=CHANNEL,
        user_id=user_id,
        chat_id=chat_id,
        update_id=str(msg["message_id"]) if msg.get("message_id") else None,
        display_name=str(sender.get("display_name") or ""),
        language_code="vi",
        text=text,
        command=command,
        args=args,
        media=media,
        received_at=received,
        unsupported=not media and text is None and command is None,
    )
