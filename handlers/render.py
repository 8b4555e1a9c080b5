"""Text helpers for replies: escaping, light formatting, plain-text fallback, splitting."""

from __future__ import annotations

import html
import re

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def esc(text: object) -> str:
    """Escape user text for an HTML parse mode (``<``, ``>``, ``&``)."""
    return html.escape(str(text), quote=False)


def bold(text: str) -> str:
    """Bold an already-safe fragment (escape user text first)."""
    return f"<b>{text}</b>"


def to_plain(text: str) -> str:
    """Our HTML subset as plain text, for channels without formatting."""
    return html.unescape(_TAG.sub("", text))


def visible_length(text: str) -> int:
    return len(to_plain(text))


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split on line breaks so that every part shows at most ``limit`` characters.

    Tags are never split: a line is kept whole unless it is itself too long, in
    which case it is cut as plain text (its tags dropped, its text escaped again).
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        length = visible_length(line) + 1
        if length > limit:
            if current:
                parts.append("\n".join(current))
                current, size = [], 0
            plain = to_plain(line)
            for i in range(0, len(plain), limit):
                parts.append(esc(plain[i : i + limit]))
            continue
        if size + length > limit and current:
            parts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        parts.append("\n".join(current))
    return [p for p in parts if p.strip()] or [""]
