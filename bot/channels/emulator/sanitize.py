"""Our Telegram-style HTML, made safe to put into a web page with ``innerHTML``.

Kept: ``b i u s code pre a`` (Telegram's aliases ``strong em ins strike del``
become their short forms); ``a`` keeps only an ``http``, ``https``, ``mailto`` or
``tg`` ``href``. Every other tag is shown as escaped text (a flow that emits one
has a bug Telegram would refuse too, and seeing it beats hiding it); comments
and declarations are dropped. Unclosed tags are closed, stray end tags shown.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

ALLOWED = ("b", "i", "u", "s", "code", "pre", "a")
ALIASES = {"strong": "b", "em": "i", "ins": "u", "strike": "s", "del": "s"}
SAFE_SCHEMES = ("http://", "https://", "mailto:", "tg://")


def _safe_href(value: str | None) -> str | None:
    if not value:
        return None
    href = value.strip()
    if href.lower().startswith(SAFE_SCHEMES):
        return href
    return None


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = ALIASES.get(tag, tag)
        if name not in ALLOWED:
            self.out.append(html.escape(self.get_starttag_text() or "", quote=False))
            return
        if name == "a":
            href = _safe_href(dict(attrs).get("href"))
            if href is None:
                self.out.append("<a>")
            else:
                quoted = html.escape(href, quote=True)
                self.out.append(f'<a href="{quoted}" target="_blank" rel="noopener noreferrer">')
        else:
            self.out.append(f"<{name}>")
        self.open.append(name)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends are not ours: show them like any other foreign tag.
        self.out.append(html.escape(self.get_starttag_text() or "", quote=False))

    def handle_endtag(self, tag: str) -> None:
        name = ALIASES.get(tag, tag)
        if name not in self.open:
            self.out.append(html.escape(f"</{tag}>", quote=False))
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == name:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def sanitize_html(text: str) -> str:
    """``text`` with only the allowed tags left as markup; everything else is text."""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)
