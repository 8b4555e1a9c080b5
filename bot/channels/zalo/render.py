"""Our ``Message`` as Zalo calls: plain text, choices as a numbered list, ≤ 2000 characters.

Zalo has no formatting and no keyboards. Choices follow the text as "1. label"
lines and the person answers with the number or the label (``db.shown_choices``
reads the answer). A request for a location or a phone number (on Telegram, a
button "below") becomes a line asking to type it instead.

Files people sent (``Message.files``) go out from the kept copy, by a signed
link to our web server (``link``, see ``bot.media_links``); without one, a file
that came on Zalo goes out by Zalo's own URL while it lasts. A photo becomes a
``sendPhoto`` with its label as caption; Zalo cannot send voice messages or
documents, so they become a line with their link (a document's link ends in its
name; an announcement's leaflet is a line of the announcement's own text). A
chart or a document made here has no URL to give, so only its text goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.i18n import _
from handlers.render import to_plain
from handlers.types import Choice, MediaRef, Message

TEXT_LIMIT = 2000
Link = Callable[[str, str | None], str | None]  # a kept file's path and name -> a URL, or None


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


def file_url(ref: MediaRef, link: Link | None) -> str | None:
    """Where Zalo can fetch the file: the kept copy's link (a document's under its
    name), else Zalo's own URL."""
    if ref.stored and link is not None:
        url = link(ref.stored, ref.name if ref.kind == "document" else None)
        if url:
            return url
    return ref.file_id if ref.file_id.startswith(("http://", "https://")) else None


def render_message(msg: Message, link: Link | None = None) -> list[ZaloCall]:
    calls: list[ZaloCall] = []
    links: list[str] = []
    for ref in msg.files:
        url = file_url(ref, link)
        if url is None:
            continue
        if ref.kind == "photo":
            params = {"photo": url}
            if ref.name:
                params["caption"] = ref.name[:TEXT_LIMIT]
            calls.append(ZaloCall("sendPhoto", params))
        else:
            links.append(f"{ref.name or ref.kind}: {url}")
    if links and not msg.text_as_caption:
        calls.append(ZaloCall("sendMessage", {"text": "\n".join(links)[:TEXT_LIMIT]}))
    if msg.request == "location":
        blocks = [_("Type the name of the commune or ward.")]
    elif msg.request == "contact":
        blocks = [_("Type your phone number.")]
    else:
        blocks = [to_plain(msg.text or "").strip()]
    if links and msg.text_as_caption:  # an announcement's leaflet: a line of its text
        blocks.append("\n".join(links))
    if msg.link is not None:
        blocks.append(f"{msg.link[0]}: {msg.link[1]}")
    if msg.choices and msg.numeric_answer:
        blocks.append(_("To go back without saving, send /cancel."))
    elif msg.choices:
        blocks.append(_("Reply with a number:") + "\n" + numbered(msg.choices))
    text = "\n\n".join(b for b in blocks if b)
    calls.extend(ZaloCall("sendMessage", {"text": part}) for part in split_plain(text))
    return calls


def render_reply(
    messages: list[Message], link: Link | None = None
) -> tuple[list[ZaloCall], list[Choice]]:
    """The calls, and the numbered choices the chat is left with: the last list shown."""
    calls: list[ZaloCall] = []
    shown: list[Choice] = []
    for msg in messages:
        calls.extend(render_message(msg, link))
        if msg.choices:
            # A number typed at a numeric question is the answer, never a choice.
            shown = [] if msg.numeric_answer else list(msg.choices)
    return calls, shown
