"""Our ``Message`` as Zalo calls: plain text, choices as a numbered list, ≤ 2000 characters.

Zalo has no formatting and no keyboards. Choices follow the text as "1. label"
lines and the person answers with the number or the label (``db.shown_choices``
reads the answer). A request for a location or a phone number (on Telegram, a
button "below") becomes a line asking to type it instead. Photos a person sent
on Zalo go out again by their URL; a chart or a document made here has no URL
to give, so only its text goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.i18n import _
from handlers.render import to_plain
from handlers.types import Choice, Message

TEXT_LIMIT = 2000


@dataclass
class ZaloCall:
    method: str  # "sendMessage" or "sendPhoto"
    params: dict[str, Any] = field(default_factory=dict)


def numbered(choices: list[Choice]) -> str:
    return "\n".join(f"{n}. {c.label}" for n, c in enumerate(choices, 1))  # labels are plain


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split on line breaks (a longer line is cut) into parts of at most ``limit``."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            candidate = line
        current = candidate
    if current.strip():
        parts.append(current)
    return parts


def render_message(msg: Message) -> list[ZaloCall]:
    calls = [
        ZaloCall("sendPhoto", {"photo": ref.file_id})
        for ref in msg.files
        if ref.kind == "photo" and ref.file_id.startswith(("http://", "https://"))
    ]
    if msg.request == "location":
        blocks = [_("Type the name of the commune or ward.")]
    elif msg.request == "contact":
        blocks = [_("Type your phone number.")]
    else:
        blocks = [to_plain(msg.text or "").strip()]
    if msg.choices and msg.numeric_answer:
        blocks.append(_("To go back without saving, send /cancel."))
    elif msg.choices:
        blocks.append(_("Reply with a number:") + "\n" + numbered(msg.choices))
    text = "\n\n".join(b for b in blocks if b)
    calls.extend(ZaloCall("sendMessage", {"text": part}) for part in split_plain(text))
    return calls


def render_reply(messages: list[Message]) -> tuple[list[ZaloCall], list[Choice]]:
    """The calls, and the numbered choices the chat is left with: the last list shown."""
    calls: list[ZaloCall] = []
    shown: list[Choice] = []
    for msg in messages:
        calls.extend(render_message(msg))
        if msg.choices:
            # A number typed at a numeric question is the answer, never a choice.
            shown = [] if msg.numeric_answer else list(msg.choices)
    return calls, shown
