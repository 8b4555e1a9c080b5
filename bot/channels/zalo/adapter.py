"""A Zalo update -> ``handlers.types.Incoming``.

Only private chats are conversations. Zalo updates carry no update id: the
message id (a string) stands in for it, so a redelivered message is handled
once. A text starting with "/" is a command ("/start inv_X" -> start, "inv_X").
Zalo does not say the person's language: Vietnamese, the default.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from handlers.types import Incoming, MediaRef

CHANNEL = "zalo"


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result (bare or ``{ok, result}``)."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    return body if isinstance(body, dict) else None


def to_incoming(update: dict[str, Any]) -> Incoming | None:
    """The update as an ``Incoming``, or ``None`` when it is not for the engine."""
    msg = update.get("message")
    if not isinstance(msg, dict):
        return None
    chat = msg.get("chat") or {}
    sender = msg.get("from") or {}
    if chat.get("chat_type", "PRIVATE") != "PRIVATE" or sender.get("is_bot"):
        return None
    user_id, chat_id = str(sender.get("id") or ""), str(chat.get("id") or "")
    if not user_id or not chat_id:
        return None
    event = str(update.get("event_name", ""))
    text = msg.get("text") if isinstance(msg.get("text"), str) else None
    media: tuple[MediaRef, ...] = ()
    if event == "message.image.received" and isinstance(msg.get("photo"), str):
        media = (MediaRef("photo", msg["photo"]),)
        text = msg.get("caption") if isinstance(msg.get("caption"), str) else None
    command, args = None, ""
    if text and text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        command, args, text = head.lower(), rest.strip(), None
    received = None
    if isinstance(msg.get("date"), int):
        received = dt.datetime.fromtimestamp(msg["date"] / 1000, dt.UTC)
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
    )
