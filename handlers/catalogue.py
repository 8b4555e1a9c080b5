"""Our ``.po`` catalogues as gettext translations, read without Babel (issue 17, memory).

Babel's ``read_po`` builds a whole ``Catalog`` (messages with their locations,
comments and flags; the locale) only to be written out as ``.mo`` bytes for
:mod:`gettext`; in a bot process that cost about 1.9 MB that stayed for the two
languages, with Babel's ``messages`` package loaded for nothing else. This reads the
``.po`` lines straight into ``.mo`` bytes, with the rules of Babel's ``write_mo``:
fuzzy and untranslated messages are left out (gettext then answers with the
msgid), a plural message is kept and an empty form falls back to its msgid (the
singular for form 0, the plural for the others), obsolete (``#~``) messages are
ignored. The header is kept as written; gettext reads its charset and plural forms.
"""

from __future__ import annotations

import gettext
import io
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

_ESCAPE = re.compile(r'\\([\\abfnrtv"])')
_CHARS = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')
MO_MAGIC = 0x950412DE


class PoSyntaxError(ValueError):
    """A line of a ``.po`` file that is neither a comment, a keyword nor a string."""


@dataclass
class _Message:
    context: str | None = None
    msgid: str | None = None
    plural: str | None = None
    strings: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False

    @property
    def started(self) -> bool:
        return self.msgid is not None or self.context is not None


def _unquote(text: str, path: Path, lineno: int) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise PoSyntaxError(f"{path}:{lineno}: not a quoted string: {text!r}")
    return _ESCAPE.sub(lambda m: _CHARS.get(m[1], m[1]), text[1:-1])


def _messages(path: Path) -> list[_Message]:
    """The messages of a ``.po`` file in order, the header (msgid "") among them."""
    done: list[_Message] = []
    current = _Message()
    fuzzy = False
    last: tuple[str, int] | None = None  # the field a continuation line adds to

    def finish() -> None:
        nonlocal current, last
        if current.msgid is not None:
            done.append(current)
        current, last = _Message(), None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if current.strings:
                finish()
            if line.startswith("#,") and "fuzzy" in (f.strip() for f in line[2:].split(",")):
                fuzzy = True
            continue  # other comments, and obsolete messages (#~), carry nothing we use
        if line.startswith('"'):
            if last is None:
                raise PoSyntaxError(f"{path}:{lineno}: a string outside a message")
            text = _unquote(line, path, lineno)
            name, form = last
            if name == "msgstr":
                current.strings[form] += text
            else:
                setattr(current, name, getattr(current, name) + text)
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise PoSyntaxError(f"{path}:{lineno}: cannot read {raw!r}")
        keyword, number, quoted = match.groups()
        text = _unquote(quoted, path, lineno)
        if keyword in ("msgctxt", "msgid"):
            if current.strings or current.msgid is not None or keyword == "msgctxt":
                finish()  # the message before is complete (a msgctxt opens a new one)
            if not current.started:
                current.fuzzy, fuzzy = fuzzy, False
        if keyword.startswith("msgstr"):
            position = int(number or 0)
            current.strings[position] = text
            last = ("msgstr", position)
        else:
            name = {"msgctxt": "context", "msgid_plural": "plural"}.get(keyword, keyword)
            setattr(current, name, text)
            last = (name, 0)
    finish()
    return done


def _entry(message: _Message) -> tuple[bytes, bytes] | None:
    """The ``.mo`` key and value of a message; None for one gettext should not see."""
    assert message.msgid is not None
    header = message.msgid == "" and message.context is None
    if message.fuzzy and not header:
        return None
    if message.plural is not None:
        forms = [
            message.strings[i] or (message.msgid if i == 0 else message.plural)
            for i in sorted(message.strings)
        ]
        key = f"{message.msgid}\x00{message.plural}"
        value = "\x00".join(forms)
    else:
        value = message.strings.get(0, "")
        if not value and not header:
            return None
        key = message.msgid
    if message.context is not None:
        key = f"{message.context}\x04{key}"
    return key.encode("utf-8"), value.encode("utf-8")


def mo_bytes(path: Path) -> bytes:
    """The ``.po`` file at ``path`` compiled to ``.mo`` (GNU format, no hash table)."""
    entries = [e for e in map(_entry, _messages(path)) if e is not None]
    count = len(entries)
    keys_at = 7 * 4 + 16 * count
    values_at = keys_at + sum(len(k) + 1 for k, _ in entries)
    key_table: list[int] = []
    value_table: list[int] = []
    for key, value in entries:
        key_table += [len(key), keys_at]
        value_table += [len(value), values_at]
        keys_at += len(key) + 1
        values_at += len(value) + 1
    out = io.BytesIO()
    out.write(struct.pack("<Iiiiiii", MO_MAGIC, 0, count, 7 * 4, 7 * 4 + 8 * count, 0, 0))
    out.write(struct.pack(f"<{4 * count}I", *key_table, *value_table))
    for key, _value in entries:
        out.write(key + b"\x00")
    for _key, value in entries:
        out.write(value + b"\x00")
    return out.getvalue()


def read_translations(path: Path) -> gettext.GNUTranslations:
    """gettext translations from a ``.po`` file."""
    return gettext.GNUTranslations(io.BytesIO(mo_bytes(path)))
