"""A fake Telegram Bot API server for end-to-end tests.

``FakeTelegramAPI`` is a small aiohttp server on ``127.0.0.1`` that speaks the Bot API
over real HTTP, so the real python-telegram-bot client (or any other) can be pointed at it::

    async with FakeTelegramAPI(token=TOKEN) as api:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{api.root_url}/bot")
            .base_file_url(f"{api.root_url}/file/bot")
            .build()
        )
        ...
        api.user_command(42, "start")           # a user sends /start
        call = await api.wait_for("sendMessage")  # the bot answers
        api.assert_no_violations()

Every request is checked against the machine-readable Bot API description
(``tests/fakes/bot-api.json``, Bot API 10.1, or ``$ANTT_TELEGRAM_SPEC``): unknown methods,
missing/unknown parameters, parameter types (also inside JSON-serialized objects such as
``reply_markup``), the documented length limits (text, captions, ``callback_data`` bytes, ...)
and well-formed Telegram HTML when ``parse_mode=HTML``.  A request Telegram would reject
gets the same kind of error answer (HTTP 400 with ``ok: false``) and is also recorded in
``api.violations`` so a test can end with ``api.assert_no_violations()``.

Beyond the schema, with ``strict=True`` (the default) the fake also behaves like Telegram
for common runtime errors: editing or deleting a message that does not exist, an edit that
changes nothing ("message is not modified"), answering an unknown or already answered
callback query, sending an unknown ``file_id`` and getUpdates while a webhook is set.

Valid calls are recorded in ``api.calls`` (``ApiCall`` objects, parameters decoded), users
are simulated with ``api.user_message()``, ``api.callback()``, ``api.click()`` and friends
(served by long-polling ``getUpdates``, or POSTed to a webhook with ``api.post_webhook()``),
and errors can be injected with ``api.fail_next()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import mimetypes
import os
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from aiohttp import ClientSession, ClientTimeout, web
from multidict import MultiDictProxy

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import ApplicationBuilder

__all__ = [
    "DEFAULT_SPEC_PATH",
    "DEFAULT_TOKEN",
    "ApiCall",
    "BotApiSpec",
    "FakeTelegramAPI",
    "HtmlParseError",
    "TelegramApiError",
    "UploadedFile",
    "parse_telegram_html",
    "utf16_len",
]

SPEC_ENV = "ANTT_TELEGRAM_SPEC"
# The Bot API description 10.1 as JSON (MIT; licence in LICENSE-bot-api beside it).
DEFAULT_SPEC_PATH = Path(__file__).resolve().parent / "bot-api.json"
DEFAULT_TOKEN = "123456789:AAFakeTokenForTheAnttBotTests_0123456"

JsonDict = dict[str, Any]
CallPredicate = Callable[["ApiCall"], bool]

# Methods whose successful call puts visible content into a chat (see ``sent_messages``).
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendDice",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
    }
)

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Update types Telegram leaves out when ``allowed_updates`` is empty or was never set.
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# 1x1 white JPEG, used as content for files the tests did not provide bytes for.
PLACEHOLDER_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b"
    "0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ff"
    "c0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0b"
    "ffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a108"
    "2342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a53545556"
    "5758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9"
    "aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7"
    "f8f9faffda0008010100003f00fbfcffd9"
)


# --------------------------------------------------------------------------------------------
# Small value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.name!r}, filename={self.filename!r}, {len(self.data)} bytes)"


@dataclass
class ApiCall:
    """One request the bot made: canonical method name, decoded parameters and the result."""

    seq: int
    method: str
    params: JsonDict
    result: Any = None
    files: dict[str, UploadedFile] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.monotonic)
    error: JsonDict | None = None

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` parameter (or the chat of the returned message)."""
        chat_id = self.params.get("chat_id")
        if chat_id is None and isinstance(self.result, dict) and "chat" in self.result:
            chat_id = self.result["chat"]["id"]
        return chat_id

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` exactly as sent (still with HTML markup, if any)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def plain_text(self) -> str | None:
        """The text/caption as the user sees it (markup parsed away), from the result."""
        if isinstance(self.result, dict):
            value = self.result.get("text", self.result.get("caption"))
            if isinstance(value, str):
                return value
        return self.text

    @property
    def message_id(self) -> int | None:
        """The id of the sent/edited message (result first, then parameter)."""
        if isinstance(self.result, dict) and "message_id" in self.result:
            return int(self.result["message_id"])
        value = self.params.get("message_id")
        return value if isinstance(value, int) else None

    @property
    def reply_markup(self) -> JsonDict | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[JsonDict]:
        """All inline keyboard buttons (row by row) or reply keyboard buttons."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        out: list[JsonDict] = []
        for row in rows:
            for button in row:
                out.append(button if isinstance(button, dict) else {"text": str(button)})
        return out

    @property
    def button_texts(self) -> list[str]:
        return [str(b.get("text", "")) for b in self.buttons]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("reply_markup",)}
        text = repr(shown)
        if len(text) > 200:
            text = text[:197] + "..."
        return f"ApiCall(#{self.seq} {self.method} {text})"


class TelegramApiError(Exception):
    """An error answer of the fake; ``violation`` marks requests real Telegram rejects too."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        detail: str | None = None,
        parameters: JsonDict | None = None,
        violation: bool = True,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.detail = detail
        self.parameters = parameters
        self.violation = violation

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str, detail: str | None = None) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {description}", detail=detail)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


class HtmlParseError(ValueError):
    """Text is not valid Telegram HTML."""


_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TEXT_RUN_RE = re.compile(r"[^<&]+")
_TAG_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_RE = re.compile(r"""([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'<>=`]+))?""")
_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    match = _ENTITY_RE.match(source, index)
    if match is None:
        raise HtmlParseError(
            f'unescaped "&" or unsupported HTML entity at byte offset '
            f"{_byte_offset(source, index)} (only &lt; &gt; &amp; &quot; and numeric entities "
            "are supported)"
        )
    if match.group(1):
        return _NAMED_ENTITIES[match.group(1)], match.end()
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    if code <= 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlParseError(
            f"invalid numeric HTML entity at byte offset {_byte_offset(source, index)}"
        )
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    if "&" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, i = _decode_entity(value, i)
            out.append(decoded)
        else:
            j = value.find("&", i)
            j = len(value) if j < 0 else j
            out.append(value[i:j])
            i = j
    return "".join(out)


@dataclass
class _OpenTag:
    name: str
    start: int
    entity: JsonDict | None


def _parse_start_tag(source: str, index: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="v" ...>`` at ``index``; return name, attributes and end index."""
    match = _TAG_NAME_RE.match(source, index + 1)
    offset = _byte_offset(source, index)
    if match is None:
        raise HtmlParseError(f'unexpected "<" at byte offset {offset}; escape it as &lt;')
    name = match.group().lower()
    if name not in _HTML_TAGS:
        raise HtmlParseError(f'unsupported start tag "{name}" at byte offset {offset}')
    attrs: dict[str, str] = {}
    pos, length = match.end(), len(source)
    while True:
        had_space = pos < length and source[pos].isspace()
        while pos < length and source[pos].isspace():
            pos += 1
        if pos >= length:
            raise HtmlParseError(f'unclosed start tag "{name}" at byte offset {offset}')
        if source[pos] == ">":
            return name, attrs, pos + 1
        attr = _ATTR_RE.match(source, pos) if had_space else None
        if attr is None:
            raise HtmlParseError(f'malformed start tag "{name}" at byte offset {offset}')
        raw = attr.group(2) or ""
        if raw[:1] in ("'", '"'):
            raw = raw[1:-1]
        attrs[attr.group(1).lower()] = _decode_attribute(raw)
        pos = attr.end()


def _entity_for_tag(
    name: str, attrs: Mapping[str, str], start: int, stack: list[_OpenTag], offset: int
) -> JsonDict | None:
    kind = _HTML_TAGS[name]
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError(f'tag "span" must have class "tg-spoiler" (byte offset {offset})')
    entity: JsonDict = {"type": kind, "offset": start}
    if name == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        entity["url"] = href
    elif name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise HtmlParseError(f'tag "tg-emoji" needs a numeric emoji-id (byte offset {offset})')
        entity["custom_emoji_id"] = emoji_id
    elif name == "tg-time":
        unix = attrs.get("unix", "")
        if not unix.lstrip("-").isdigit():
            raise HtmlParseError(f'tag "tg-time" needs a numeric unix time (byte offset {offset})')
        entity["unix_time"] = int(unix)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "code" and stack and stack[-1].name == "pre":
        language = attrs.get("class", "")
        pre_entity = stack[-1].entity
        if language.startswith("language-") and pre_entity is not None:
            pre_entity["language"] = language[len("language-") :]
        return None
    return entity


def parse_telegram_html(source: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram-flavoured HTML into ``(plain_text, entities)`` or raise HtmlParseError.

    Only the tags of https://core.telegram.org/bots/api#html-style are allowed, tags must be
    properly nested and closed, every ``&`` must start ``&lt; &gt; &amp; &quot;`` or a numeric
    entity and ``<`` must start a tag.  Entity offsets/lengths are in UTF-16 code units.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[_OpenTag] = []
    entities: list[JsonDict] = []
    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "&":
            decoded, index = _decode_entity(source, index)
            out.append(decoded)
            pos16 += utf16_len(decoded)
        elif char == "<":
            if source.startswith("</", index):
                end = source.find(">", index)
                offset = _byte_offset(source, index)
                if end < 0:
                    raise HtmlParseError(f"unclosed end tag at byte offset {offset}")
                name = source[index + 2 : end].strip().lower()
                if not stack:
                    raise HtmlParseError(f'unexpected end tag "</{name}>" at byte offset {offset}')
                top = stack.pop()
                if name != top.name:
                    raise HtmlParseError(
                        f'unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                        f'found "</{name}>"'
                    )
                if top.entity is not None and pos16 > top.start:
                    top.entity["length"] = pos16 - top.start
                    entities.append(top.entity)
                index = end + 1
            else:
                offset = _byte_offset(source, index)
                name, attrs, index = _parse_start_tag(source, index)
                entity = _entity_for_tag(name, attrs, pos16, stack, offset)
                stack.append(_OpenTag(name, pos16, entity))
        else:
            match = _TEXT_RUN_RE.match(source, index)
            assert match is not None
            chunk = match.group()
            out.append(chunk)
            pos16 += utf16_len(chunk)
            index = match.end()
    if stack:
        raise HtmlParseError(f'can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def render_text(text: str, parse_mode: str | None) -> tuple[str, list[JsonDict]]:
    """Text as Telegram stores it: HTML is parsed, other modes are kept verbatim."""
    if parse_mode and parse_mode.lower() == "html":
        return parse_telegram_html(text)
    return text, []


# --------------------------------------------------------------------------------------------
# The Bot API description
# --------------------------------------------------------------------------------------------

_LENGTH_RE = re.compile(r"(\d+)-(\d+)\s+(characters|bytes)")
_CONST_RE = re.compile(r'(?:must be|always)\s+"?([a-z_]+)"?')
_INT_RE = re.compile(r"-?\d+")
_PRIMITIVES = frozenset({"Integer", "String", "Boolean", "Float"})


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or one field of an object type."""

    name: str
    types: tuple[str, ...]
    required: bool
    min_len: int | None = None
    max_len: int | None = None
    unit: str = "characters"
    after_parsing: bool = False
    const: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """A method's parameter list or an object type of the Bot API."""

    name: str
    fields: dict[str, FieldSpec] | None
    subtypes: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()

    @functools.cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in (self.fields or {}).values() if f.required)

    @functools.cached_property
    def discriminator(self) -> tuple[str, str] | None:
        for f in (self.fields or {}).values():
            if f.const is not None:
                return f.name, f.const
        return None


def _field_spec(raw: Mapping[str, Any]) -> FieldSpec:
    description = str(raw.get("description", ""))
    min_len = max_len = None
    unit = "characters"
    match = _LENGTH_RE.search(description)
    if match and raw["types"] == ["String"]:
        min_len, max_len, unit = int(match.group(1)), int(match.group(2)), match.group(3)
    const = None
    if raw["name"] == "type" and raw.get("required") and raw["types"] == ["String"]:
        const_match = _CONST_RE.search(description)
        const = const_match.group(1) if const_match else None
    return FieldSpec(
        name=raw["name"],
        types=tuple(raw["types"]),
        required=bool(raw.get("required")),
        min_len=min_len,
        max_len=max_len,
        unit=unit,
        after_parsing="after entit" in description,
        const=const,
    )


def _object_spec(raw: Mapping[str, Any]) -> ObjectSpec:
    fields = raw.get("fields")
    return ObjectSpec(
        name=raw["name"],
        fields={f["name"]: _field_spec(f) for f in fields} if fields is not None else None,
        subtypes=tuple(raw.get("subtypes", ())),
        returns=tuple(raw.get("returns", ())),
    )


class BotApiSpec:
    """Methods and types of the Bot API, loaded from the project's JSON description."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = str(data.get("version", "?"))
        self.methods: dict[str, ObjectSpec] = {}
        self._methods_lower: dict[str, ObjectSpec] = {}
        for name, raw in data["methods"].items():
            method = _object_spec({**raw, "name": name, "fields": raw.get("fields", [])})
            self.methods[name] = method
            self._methods_lower[name.lower()] = method
        self.types: dict[str, ObjectSpec] = {
            name: _object_spec({**raw, "name": name}) for name, raw in data["types"].items()
        }

    @classmethod
    @functools.cache
    def load(cls, path: str) -> BotApiSpec:
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def method(self, name: str) -> ObjectSpec | None:
        """Case-insensitive lookup, like Telegram's."""
        return self._methods_lower.get(name.lower())


def default_spec_path() -> Path:
    env = os.environ.get(SPEC_ENV)
    return Path(env) if env else DEFAULT_SPEC_PATH


class _Mismatch(Exception):
    """A value does not have one of the alternatives of a union type (internal)."""


class _Validator:
    """Checks and decodes the parameters of one request against the spec."""

    def __init__(self, spec: BotApiSpec, files: Mapping[str, UploadedFile]) -> None:
        self.spec = spec
        self.files = files

    # -- entry point ---------------------------------------------------------------------

    def check_params(self, method: ObjectSpec, raw: Mapping[str, Any]) -> JsonDict:
        """Decode and check top-level parameters (strings from forms are converted)."""
        fields = method.fields or {}
        params: JsonDict = {}
        for name, value in raw.items():
            spec = fields.get(name)
            if spec is None:
                raise _bad(
                    f'unknown parameter "{name}"',
                    f"{method.name} has no parameter {name!r}; known: {sorted(fields)}",
                )
            params[name] = self.value(value, spec.types, name, top=True)
        for name in method.required:
            if name not in params:
                if name == "text" and method.name in ("sendMessage", "editMessageText"):
                    raise _bad("message text is empty", "missing required parameter 'text'")
                raise _bad(f"{name} is empty", f"missing required parameter {name!r}")
        self.check_strings(method, params, "")
        return params

    # -- values --------------------------------------------------------------------------

    def value(self, value: Any, types: tuple[str, ...], path: str, *, top: bool) -> Any:
        if len(types) == 1:
            try:
                return self.one(value, types[0], path, top=top)
            except _Mismatch as exc:
                raise _bad(f"can't parse {path}: {exc}") from None
        candidates: list[tuple[int, TelegramApiError]] = []
        for type_expr in types:
            try:
                return self.one(value, type_expr, path, top=top)
            except _Mismatch as exc:
                error = _bad(f"can't parse {path}: {exc}")
                candidates.append((0, error))
            except TelegramApiError as exc:
                candidates.append((self.plausibility(value, type_expr), exc))
        candidates.sort(key=lambda item: -item[0])
        if candidates[0][0] == 0:
            raise _bad(f"can't parse {path}: expected {' or '.join(types)}, got {value!r:.80}")
        raise candidates[0][1]

    def plausibility(self, value: Any, type_expr: str) -> int:
        obj = self.spec.types.get(type_expr)
        if obj is None or not isinstance(value, dict):
            return 1
        if all(name in value for name in obj.required):
            return 3
        return 2

    def one(self, value: Any, type_expr: str, path: str, *, top: bool) -> Any:
        if type_expr.startswith("Array of "):
            value = self.decode_json(value, path, top=top)
            if not isinstance(value, list):
                raise _Mismatch(f"expected an array, got {type(value).__name__}")
            inner = type_expr[len("Array of ") :]
            return [
                self.value(item, (inner,), f"{path}[{i}]", top=False)
                for i, item in enumerate(value)
            ]
        if type_expr in _PRIMITIVES:
            value = self.primitive(value, type_expr, top=top)
            if type_expr == "String" and value.startswith("attach://"):
                self.attachment(value, path)  # must name an uploaded part
            return value
        if type_expr == "InputFile":
            if isinstance(value, UploadedFile):
                return value
            if isinstance(value, str) and value.startswith("attach://"):
                return self.attachment(value, path)
            raise _Mismatch("a file must be uploaded with multipart/form-data")
        obj = self.spec.types.get(type_expr)
        if obj is None:
            raise _Mismatch(f"unknown type {type_expr}")
        value = self.decode_json(value, path, top=top)
        return self.object(value, obj, path)

    def decode_json(self, value: Any, path: str, *, top: bool) -> Any:
        """Top-level objects may come JSON-serialized (always so in form bodies)."""
        if isinstance(value, str) and top:
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {path} JSON object") from None
        return value

    def primitive(self, value: Any, type_expr: str, *, top: bool) -> Any:
        """Top-level values may be strings (form bodies); nested JSON must be typed."""
        lenient = top
        if type_expr == "String":
            if isinstance(value, str):
                return value
            if top and isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            raise _Mismatch(f"expected String, got {type(value).__name__}")
        if type_expr == "Integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if lenient and isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
                return int(value)
            raise _Mismatch(f"expected Integer, got {value!r:.40}")
        if type_expr == "Float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if lenient and isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise _Mismatch(f"expected Float, got {value!r:.40}")
        # Boolean
        if isinstance(value, bool):
            return value
        if lenient and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise _Mismatch(f"expected Boolean, got {value!r:.40}")

    def attachment(self, value: str, path: str) -> UploadedFile:
        name = value[len("attach://") :]
        uploaded = self.files.get(name)
        if uploaded is None:
            raise _bad(f'can\'t find attached file "{name}"', f"{path} refers to {value}")
        return uploaded

    def object(self, value: Any, obj: ObjectSpec, path: str) -> Any:
        if obj.subtypes:
            return self.union_object(value, obj, path)
        if not isinstance(value, dict):
            raise _Mismatch(f"expected a {obj.name} object, got {type(value).__name__}")
        if obj.fields is None:  # opaque types such as CallbackGame
            return value
        out: JsonDict = {}
        for key, item in value.items():
            spec = obj.fields.get(key)
            if spec is None:
                raise _bad(
                    f'can\'t parse {obj.name}: unknown field "{key}"',
                    f"{path}.{key}; known fields: {sorted(obj.fields)}",
                )
            if spec.const is not None and item != spec.const:
                raise _Mismatch(f'{obj.name}.{key} must be "{spec.const}"')
            out[key] = self.value(item, spec.types, f"{path}.{key}", top=False)
        for key in obj.required:
            if key not in out:
                raise _bad(f'can\'t parse {obj.name}: field "{key}" is required', f"{path}.{key}")
        self.check_strings(obj, out, path)
        check = _OBJECT_CHECKS.get(obj.name)
        if check is not None:
            check(out, path)
        return out

    def union_object(self, value: Any, obj: ObjectSpec, path: str) -> Any:
        if isinstance(value, dict):
            for sub_name in obj.subtypes:
                sub = self.spec.types.get(sub_name)
                disc = sub.discriminator if sub else None
                if sub is not None and disc and value.get(disc[0]) == disc[1]:
                    return self.object(value, sub, path)
            if all(
                (sub := self.spec.types.get(n)) is not None and sub.discriminator
                for n in obj.subtypes
            ):
                field_name = self.spec.types[obj.subtypes[0]].discriminator[0]  # type: ignore[index]
                raise _bad(
                    f"can't parse {obj.name}: unsupported {field_name} {value.get(field_name)!r}",
                    path,
                )
        return self.value(value, obj.subtypes, path, top=False)

    # -- strings: lengths and markup -----------------------------------------------------

    def check_strings(self, owner: ObjectSpec, values: Mapping[str, Any], path: str) -> None:
        fields = owner.fields or {}
        for name, value in values.items():
            spec = fields.get(name)
            if spec is None or not isinstance(value, str):
                continue
            mode_field = (
                "parse_mode"
                if name in ("text", "caption") and "parse_mode" in fields
                else f"{name}_parse_mode"
            )
            mode = values.get(mode_field) if mode_field in fields else None
            shown = value
            if mode is not None:
                shown = self.parsed(owner, name, value, str(mode), path)
            if spec.max_len is None or spec.min_len is None:
                continue
            size = len(shown.encode("utf-8")) if spec.unit == "bytes" else len(shown)
            blank_text = name == "text" and spec.min_len > 0 and not shown.strip()
            if spec.min_len <= size <= spec.max_len and not blank_text:
                continue
            where = f"{path}.{name}" if path else name
            detail = f"{where} is {size} {spec.unit}, allowed {spec.min_len}-{spec.max_len}" + (
                " after entity parsing" if mode else ""
            )
            raise _bad(_length_message(owner.name, name, size > spec.max_len), detail)

    def parsed(self, owner: ObjectSpec, name: str, value: str, mode: str, path: str) -> str:
        if mode.lower() not in ("html", "markdown", "markdownv2"):
            raise _bad(f"unsupported parse_mode {mode!r}")
        try:
            return render_text(value, mode)[0]
        except HtmlParseError as exc:
            where = f"{path}.{name}" if path else name
            raise _bad(
                f"can't parse entities: {exc}", f"{owner.name} {where}: {value!r:.300}"
            ) from None


def _length_message(owner: str, name: str, too_long: bool) -> str:
    if owner in ("sendMessage", "editMessageText") and name == "text":
        return "message is too long" if too_long else "message text is empty"
    if name == "caption":
        return "message caption is too long"
    if owner == "InlineKeyboardButton" and name == "callback_data":
        return "BUTTON_DATA_INVALID"
    if owner == "answerCallbackQuery" and name == "text":
        return "MESSAGE_TOO_LONG"
    if owner == "setWebhook" and name == "secret_token":
        return "secret token contains unallowed characters or has wrong length"
    if owner == "BotCommand":
        return "BOT_COMMAND_INVALID" if name == "command" else "BOT_COMMAND_DESCRIPTION_INVALID"
    return f"{owner}.{name} has a wrong length"


_BUTTON_PLAIN_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def _check_inline_button(button: JsonDict, path: str) -> None:
    actions = [k for k in button if k not in _BUTTON_PLAIN_FIELDS]
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
            path,
        )
    if len(actions) > 1:
        raise _bad(
            "can't parse inline keyboard button: exactly one of the optional fields must be "
            f"used, got {actions}",
            path,
        )


def _check_bot_command(command: JsonDict, path: str) -> None:
    if not _COMMAND_RE.fullmatch(command["command"]):
        raise _bad("BOT_COMMAND_INVALID", f"{path}.command={command['command']!r}")


_OBJECT_CHECKS: dict[str, Callable[[JsonDict, str], None]] = {
    "InlineKeyboardButton": _check_inline_button,
    "BotCommand": _check_bot_command,
}


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes | None


@dataclass
class _FailureRule:
    status: int
    description: str
    parameters: JsonDict | None
    times: int
    chat_id: int | str | None


@dataclass
class _Waiter:
    predicate: CallPredicate
    count: int
    since: int
    future: asyncio.Future[list[ApiCall]]
    found: list[ApiCall] = field(default_factory=list)


def _default_error(status: int, retry_after: int | None) -> str:
    return {
        400: "Bad Request: chat not found",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request",
        429: f"Too Many Requests: retry after {retry_after or 1}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, f"Error {status}")


class FakeTelegramAPI:
    """A Bot API server for tests; see the module docstring for the overall picture.

    Args:
        token: the only bot token accepted (others get 401 Unauthorized).
        bot_username / bot_first_name: what ``getMe`` returns.
        spec_path: Bot API description; default ``$ANTT_TELEGRAM_SPEC`` or ``bot-api.json`` here.
        long_poll_cap: upper bound (seconds) for the ``timeout`` of ``getUpdates``.
        latency: seconds added to every answer except ``getUpdates`` (for benchmarks).
        record_calls: keep every call in ``calls`` (turn off for long benchmarks).
        strict: emulate Telegram's runtime errors (message not found/not modified, unknown
            callback query or file_id, HTTPS-only webhooks, ...), not only the schema.
        allow_http_webhook: accept ``http://`` webhook URLs (e.g. a local test server)
            even when ``strict``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "antt_test_bot",
        bot_first_name: str = "ANTT Test Bot",
        spec_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        long_poll_cap: float = 1.0,
        latency: float = 0.0,
        record_calls: bool = True,
        strict: bool = True,
        allow_http_webhook: bool = False,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1_000_001
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.spec = BotApiSpec.load(str(Path(spec_path) if spec_path else default_spec_path()))
        self.host = host
        self.port = port
        self.long_poll_cap = long_poll_cap
        self.latency = latency
        self.record_calls = record_calls
        self.strict = strict
        self.allow_http_webhook = allow_http_webhook

        self.calls: list[ApiCall] = []
        self.failed_calls: list[ApiCall] = []
        self.rejected_calls: list[ApiCall] = []
        self.violations: list[str] = []
        self.calls_count = 0
        self.method_counts: Counter[str] = Counter()
        self.requests_count = 0
        self.in_flight = 0
        self.max_in_flight = 0

        self.webhook: JsonDict | None = None
        self.commands: dict[str, list[JsonDict]] = {}
        self.callback_answers: dict[str, JsonDict] = {}
        self.logged_out = False

        self._seq = 0
        self._updates: deque[JsonDict] = deque()
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] | None = None
        self._update_event = asyncio.Event()
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._last_bot_message: dict[int, int] = {}
        self._message_counters: dict[int, int] = {}
        self._chats: dict[int, JsonDict] = {}
        self._usernames: dict[str, int] = {}
        self._users: dict[int, JsonDict] = {}
        self._open_callbacks: set[str] = set()
        self._callback_counter = 0
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = 0
        self._media_group_counter = 0
        self._failures: dict[str, list[_FailureRule]] = {}
        self._results: dict[str, Any] = {}
        self._blocked: set[int] = set()
        self._waiters: list[_Waiter] = []
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        self._session: ClientSession | None = None
        self._closing = False
        self._handlers: dict[str, Callable[[JsonDict, ApiCall], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendmediagroup": self._send_media_group,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagemedia": self._edit_message_media,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "getfile": self._get_file,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "deletemessage": self._delete_message,
            "copymessage": self._copy_message,
            "forwardmessage": self._forward_message,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "logout": self._log_out,
            "close": self._close,
        }
        for method in _MEDIA_KINDS:
            self._handlers[method] = self._send_media
        for method in ("sendlocation", "sendvenue", "sendcontact", "senddice"):
            self._handlers[method] = self._send_media

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> FakeTelegramAPI:
        """Start listening (on a free port unless ``port`` was given)."""
        if self._runner is not None:
            return self
        self._closing = False
        self._update_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        site = web.SockSite(runner, sock)
        await site.start()
        self.port = sock.getsockname()[1]
        self._runner = runner
        self._root_url = f"http://{self.host}:{self.port}"
        return self

    async def stop(self) -> None:
        """Wake long pollers and shut the server down."""
        self._closing = True
        self._wake_pollers()
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.cancel()
        self._waiters.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the server must be started)."""
        if self._root_url is None:
            raise RuntimeError("FakeTelegramAPI is not started; use 'async with' or start()")
        return self._root_url

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url(...)``."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.root_url}/file/bot"

    @property
    def bot_user(self) -> JsonDict:
        """The bot as a ``User`` object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def application_builder(self) -> ApplicationBuilder:
        """A python-telegram-bot ``ApplicationBuilder`` already pointed at this server."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    def make_bot(self) -> Bot:
        """A python-telegram-bot ``Bot`` pointed at this server (use ``async with bot``)."""
        from telegram import Bot

        return Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url)

    # -- inspection helpers --------------------------------------------------------------

    def sent_messages(self, chat_id: int | str | None = None) -> list[ApiCall]:
        """Successful calls that put content into a chat (send*, copy/forward, edits), in order."""
        key = None if chat_id is None else self._chat_key(chat_id)
        return [
            call
            for call in self.calls
            if call.method in MESSAGE_METHODS
            and (key is None or (call.chat_id is not None and self._chat_key(call.chat_id) == key))
        ]

    def last_message(self, chat_id: int | str | None = None) -> ApiCall | None:
        messages = self.sent_messages(chat_id)
        return messages[-1] if messages else None

    def calls_of(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def get_message(self, chat_id: int | str, message_id: int) -> JsonDict | None:
        """The current state of a message (after edits) or None if unknown/deleted."""
        return self._messages.get((self._chat_key(chat_id), message_id))

    def mark(self) -> int:
        """A position for ``wait_for(..., since=api.mark())``: only later calls count."""
        return self._seq + 1

    def clear(self) -> None:
        """Forget recorded calls, violations, counters and injected failures."""
        self.calls.clear()
        self.failed_calls.clear()
        self.rejected_calls.clear()
        self.violations.clear()
        self.calls_count = 0
        self.requests_count = 0
        self.method_counts.clear()
        self.max_in_flight = self.in_flight
        self._failures.clear()

    def pop_violations(self) -> list[str]:
        """Return and forget the violations (for tests that provoke them on purpose)."""
        found, self.violations = self.violations, []
        return found

    def assert_no_violations(self) -> None:
        if self.violations:
            listing = "\n  ".join(self.violations)
            raise AssertionError(
                f"{len(self.violations)} Bot API violation(s) by the bot:\n  {listing}"
            )

    @overload
    async def wait_for(  # type: ignore[overload-overlap]
        self,
        what: str | CallPredicate,
        timeout: float = ...,  # noqa: ASYNC109
        *,
        count: Literal[1] = ...,
        chat_id: int | str | None = ...,
        since: int = ...,
    ) -> ApiCall: ...

    @overload
    async def wait_for(
        self,
        what: str | CallPredicate,
        timeout: float = ...,  # noqa: ASYNC109
        *,
        count: int,
        chat_id: int | str | None = ...,
        since: int = ...,
    ) -> list[ApiCall]: ...

    async def wait_for(
        self,
        what: str | CallPredicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of this helper's contract
        *,
        count: int = 1,
        chat_id: int | str | None = None,
        since: int = 0,
    ) -> ApiCall | list[ApiCall]:
        """Wait until ``count`` successful calls match ``what`` and return them.

        ``what`` is a method name (case-insensitive) or a predicate on ``ApiCall``.  Calls
        already recorded count too (use ``since=api.mark()`` or ``clear()`` to skip them).
        Returns the call for ``count=1``, else the list of the first ``count`` matches.
        Raises ``TimeoutError`` listing the recent calls when nothing matches in time.
        """
        predicate = self._predicate(what, chat_id)
        found = [c for c in self.calls if c.seq >= since and predicate(c)][:count]
        if len(found) < count:
            loop = asyncio.get_running_loop()
            waiter = _Waiter(predicate, count, since, loop.create_future(), found)
            self._waiters.append(waiter)
            try:
                found = await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            except TimeoutError:
                recent = "\n  ".join(repr(c) for c in self.calls[-10:]) or "(none)"
                violations = "\n  ".join(self.violations[-5:]) or "(none)"
                raise TimeoutError(
                    f"no {count} call(s) matching {what!r} within {timeout}s "
                    f"(got {len(waiter.found)}); recent calls:\n  {recent}\n"
                    f"violations:\n  {violations}"
                ) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return found[0] if count == 1 else found

    @staticmethod
    def _predicate(what: str | CallPredicate, chat_id: int | str | None) -> CallPredicate:
        if isinstance(what, str):
            wanted = what.lower()

            def by_method(call: ApiCall) -> bool:
                return call.method.lower() == wanted

            base: CallPredicate = by_method
        else:
            base = what
        if chat_id is None:
            return base
        wanted_chat = str(chat_id)
        return lambda call: str(call.chat_id) == wanted_chat and base(call)

    # -- configuration / failure injection -----------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        *,
        chat_id: int | str | None = None,
        parameters: JsonDict | None = None,
    ) -> None:
        """Make the next ``times`` valid calls of ``method`` (``"*"``: any) fail.

        E.g. ``fail_next("sendMessage", 403)`` ("Forbidden: bot was blocked by the user"),
        ``fail_next("sendMessage", 429, retry_after=3)``, ``fail_next("sendMessage", 400,
        "Bad Request: chat not found", chat_id=42)``.  Only calls to ``chat_id`` count when
        given.  Injected failures are not violations; they land in ``failed_calls``.
        """
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        elif status == 429:
            params["retry_after"] = 1
        rule = _FailureRule(
            status=status,
            description=description or _default_error(status, params.get("retry_after")),
            parameters=params or None,
            times=times,
            chat_id=chat_id,
        )
        self._failures.setdefault(method.lower(), []).append(rule)

    def set_result(self, method: str, result: Any) -> None:
        """Override the result of ``method``: a JSON value or ``callable(params) -> value``."""
        self._results[method.lower()] = result

    def block_bot(self, user_id: int, *, push: bool = True) -> None:
        """The user blocks the bot: sends to them fail with 403 from now on.

        With ``push`` a ``my_chat_member`` update (member -> kicked) is queued too.
        """
        self._blocked.add(user_id)
        if push:
            self.push_update({"my_chat_member": self._member_update(user_id, "member", "kicked")})

    def unblock_bot(self, user_id: int, *, push: bool = True) -> None:
        self._blocked.discard(user_id)
        if push:
            self.push_update({"my_chat_member": self._member_update(user_id, "kicked", "member")})

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> str:
        """Make ``file_id`` known and downloadable; returns its ``file_path``."""
        stored = _StoredFile(
            file_id=file_id,
            file_unique_id=f"U{abs(hash(file_id)) % 10**12:012d}",
            file_path=file_path or f"photos/{file_id}.jpg",
            content=content,
        )
        old = self._files.get(file_id)
        if old is not None:
            self._files_by_path.pop(old.file_path, None)
        self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored.file_path

    def file_content(self, file_id: str) -> bytes | None:
        stored = self._files.get(file_id)
        return stored.content if stored else None

    # -- simulated users -----------------------------------------------------------------

    def push_update(self, update: JsonDict) -> JsonDict:
        """Queue a raw Update for getUpdates (assigns ``update_id`` if missing)."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._register_update(update)
        self._updates.append(update)
        self._wake_pollers()
        return update

    @property
    def pending_updates(self) -> list[JsonDict]:
        return list(self._updates)

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Test",
        language_code: str | None = "vi",
        last_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
        push: bool = True,
        **extra: Any,
    ) -> JsonDict:
        """A user writes ``text`` to the bot in their private chat.

        A leading ``/command`` gets its ``bot_command`` entity; ``extra`` is merged into
        the Message (e.g. ``entities=[...]``).
        """
        content: JsonDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        if reply_to_message_id is not None:
            replied = self._messages.get((user_id, reply_to_message_id))
            if replied is not None:
                content["reply_to_message"] = self._without_reply(replied)
        content.update(extra)
        user = self._user(user_id, first_name, last_name, username, language_code)
        return self._user_update(user, content, push=push)

    def user_command(
        self, user_id: int, command: str, args: str | None = None, **kwargs: Any
    ) -> JsonDict:
        """``user_command(42, "start", "payload")`` sends ``/start payload``."""
        text = command if command.startswith("/") else f"/{command}"
        if args:
            text = f"{text} {args}"
        return self.user_message(user_id, text, **kwargs)

    def user_photo(
        self,
        user_id: int,
        file_id: str,
        caption: str | None = None,
        *,
        content: bytes | None = None,
        width: int = 1280,
        height: int = 960,
        media_group_id: str | None = None,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        """A user sends a photo (two sizes, the largest last, both downloadable)."""
        full = self._ensure_file(file_id, content, f"photos/{file_id}.jpg")
        thumb = self._ensure_file(f"{file_id}-thumb", content, f"photos/{file_id}-thumb.jpg")
        message: JsonDict = {
            "photo": [
                self._photo_size(thumb, 90, max(1, 90 * height // max(width, 1))),
                self._photo_size(full, width, height),
            ]
        }
        if caption is not None:
            message["caption"] = caption
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        return self._user_update(self._user_from_kwargs(user_id, user), message, push=push)

    def user_document(
        self,
        user_id: int,
        file_id: str,
        file_name: str = "document.pdf",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        content: bytes | None = None,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        stored = self._ensure_file(file_id, content, f"documents/{file_name}")
        document: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type
            or mimetypes.guess_type(file_name)[0]
            or "application/octet-stream",
        }
        if stored.content is not None:
            document["file_size"] = len(stored.content)
        message: JsonDict = {"document": document}
        if caption is not None:
            message["caption"] = caption
        return self._user_update(self._user_from_kwargs(user_id, user), message, push=push)

    def user_voice(
        self,
        user_id: int,
        file_id: str,
        duration: int = 3,
        *,
        content: bytes | None = None,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        stored = self._ensure_file(file_id, content or b"OggS", f"voice/{file_id}.oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(stored.content or b""),
        }
        return self._user_update(self._user_from_kwargs(user_id, user), {"voice": voice}, push=push)

    def user_video(
        self,
        user_id: int,
        file_id: str,
        caption: str | None = None,
        *,
        duration: int = 5,
        width: int = 640,
        height: int = 360,
        content: bytes | None = None,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        content = content or b"\x00\x00\x00\x18ftypmp42"
        stored = self._ensure_file(file_id, content, f"videos/{file_id}.mp4")
        video = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "duration": duration,
            "mime_type": "video/mp4",
            "file_size": len(stored.content or b""),
        }
        message: JsonDict = {"video": video}
        if caption is not None:
            message["caption"] = caption
        return self._user_update(self._user_from_kwargs(user_id, user), message, push=push)

    def user_location(
        self, user_id: int, lat: float, lon: float, *, push: bool = True, **user: Any
    ) -> JsonDict:
        location = {"latitude": float(lat), "longitude": float(lon)}
        return self._user_update(
            self._user_from_kwargs(user_id, user), {"location": location}, push=push
        )

    def user_contact(
        self,
        user_id: int,
        phone: str,
        *,
        contact_user_id: int | None = None,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        """A user shares a contact (their own by default, as with ``request_contact``)."""
        sender = self._user_from_kwargs(user_id, user)
        contact: JsonDict = {
            "phone_number": phone,
            "first_name": sender["first_name"],
            "user_id": user_id if contact_user_id is None else contact_user_id,
        }
        if "last_name" in sender:
            contact["last_name"] = sender["last_name"]
        return self._user_update(sender, {"contact": contact}, push=push)

    def callback(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        *,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        """A user presses an inline button with ``data`` on ``message_id``.

        By default the button is on the last message the bot sent to the user.
        """
        sender = self._user_from_kwargs(user_id, user)
        message = self._callback_message(user_id, message_id)
        self._callback_counter += 1
        query_id = str(4_000_000_000_000_000 + self._callback_counter)
        query = {
            "id": query_id,
            "from": sender,
            "message": message,
            "chat_instance": str(-(10**12) - user_id),
            "data": data,
        }
        update: JsonDict = {"callback_query": query}
        self._open_callbacks.add(query_id)
        if push:
            return self.push_update(update)
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        return update

    def click(
        self,
        user_id: int,
        button: str,
        message_id: int | None = None,
        *,
        push: bool = True,
        **user: Any,
    ) -> JsonDict:
        """Press the inline button whose text (exact, else substring) is ``button``.

        Raises LookupError listing the available buttons when there is no such button.
        """
        message = self._callback_message(user_id, message_id)
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons = [b for row in rows for b in row]
        chosen = next((b for b in buttons if b.get("text") == button), None)
        if chosen is None:
            chosen = next((b for b in buttons if button in str(b.get("text", ""))), None)
        if chosen is None or "callback_data" not in chosen:
            texts = [b.get("text") for b in buttons]
            raise LookupError(
                f"no callback button {button!r} on message {message['message_id']} in chat "
                f"{user_id}; buttons: {texts}"
            )
        return self.callback(
            user_id, chosen["callback_data"], message["message_id"], push=push, **user
        )

    async def post_webhook(
        self,
        url: str,
        update: JsonDict,
        secret: str | None = None,
        *,
        omit_secret: bool = False,
    ) -> int:
        """POST ``update`` to the bot's webhook like Telegram does; returns the HTTP status.

        The ``X-Telegram-Bot-Api-Secret-Token`` header carries ``secret``, or the
        ``secret_token`` given to setWebhook; ``omit_secret=True`` sends no header.
        """
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self._register_update(update)
        headers = {"Content-Type": "application/json"}
        token = secret if secret is not None else (self.webhook or {}).get("secret_token")
        if token is not None and not omit_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=30))
        async with self._session.post(url, data=json.dumps(update), headers=headers) as resp:
            await resp.read()
            return resp.status

    # -- HTTP handlers -------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        self.requests_count += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._dispatch(request)
        finally:
            self.in_flight -= 1

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        name = request.match_info["method"]
        method = self.spec.method(name)
        if method is None:
            self._violation(name, f"Not Found: method {name!r} does not exist in the Bot API")
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        call = ApiCall(seq=0, method=method.name, params={})
        try:
            raw, files = await self._read_params(request)
            call.params = raw  # replaced by the decoded parameters once they are valid
            for key, uploaded in files.items():
                # Parts named like a parameter are that parameter; others are attach://name.
                if key not in raw and key in (method.fields or {}):
                    raw[key] = uploaded
            call.files = files
            call.params = _Validator(self.spec, files).check_params(method, raw)
            failure = self._take_failure(method.name, call.params)
            if failure is not None:
                call.error = failure.payload()
                self.failed_calls.append(call)
                return self._json(failure.payload(), failure.status)
            if self.latency > 0 and method.name != "getUpdates":
                await asyncio.sleep(self.latency)
            call.result = await self._execute(method, call)
        except TelegramApiError as exc:
            call.error = exc.payload()
            if exc.violation:
                self.rejected_calls.append(call)
                detail = f" [{exc.detail}]" if exc.detail else ""
                self._violation(method.name, f"{exc.description}{detail}")
            return self._json(exc.payload(), exc.status)
        self._record(call)
        return self._json({"ok": True, "result": call.result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None or stored.content is None:
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        content_type = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
        return web.Response(body=stored.content, content_type=content_type)

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            status=status,
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> tuple[JsonDict, dict[str, UploadedFile]]:
        """Query string plus a JSON, urlencoded or multipart body (the body wins)."""
        raw: JsonDict = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.can_read_body:
            return raw, files
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON body") from None
            if not isinstance(body, dict):
                raise _bad("JSON body must be an object")
            raw.update(body)
            return raw, files
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            data: MultiDictProxy[Any] = await request.post()
            for key, value in data.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        name=key,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                else:
                    raw[key] = value
            return raw, files
        body_bytes = await request.read()
        if body_bytes.strip():
            raise _bad(f"unsupported Content-Type {content_type!r}")
        return raw, files

    def _violation(self, method: str, message: str) -> None:
        self.violations.append(f"{method}: {message}")

    def _take_failure(self, method: str, params: JsonDict) -> TelegramApiError | None:
        for key in (method.lower(), "*"):
            rules = self._failures.get(key)
            if not rules:
                continue
            for rule in rules:
                if rule.chat_id is not None and str(params.get("chat_id")) != str(rule.chat_id):
                    continue
                rule.times -= 1
                if rule.times <= 0:
                    rules.remove(rule)
                return TelegramApiError(
                    rule.status,
                    rule.description,
                    parameters=rule.parameters,
                    violation=False,
                )
        return None

    def _record(self, call: ApiCall) -> None:
        self._seq += 1
        call.seq = self._seq
        self.calls_count += 1
        self.method_counts[call.method] += 1
        if self.record_calls:
            self.calls.append(call)
        if self._waiters:
            for waiter in list(self._waiters):
                if call.seq >= waiter.since and waiter.predicate(call):
                    waiter.found.append(call)
                    if len(waiter.found) >= waiter.count and not waiter.future.done():
                        waiter.future.set_result(waiter.found[: waiter.count])
                        self._waiters.remove(waiter)

    async def _execute(self, method: ObjectSpec, call: ApiCall) -> Any:
        key = method.name.lower()
        override = self._results.get(key)
        if override is not None:
            result = override(call.params) if callable(override) else override
            return await result if inspect.isawaitable(result) else result
        self._check_blocked(method.name, call.params)
        handler = self._handlers.get(key)
        if handler is None:
            return self._generic_result(method, call.params)
        result = handler(call.params, call)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _check_blocked(self, method: str, params: JsonDict) -> None:
        if not self._blocked or "chat_id" not in params:
            return
        if not method.startswith(("send", "copy", "forward", "edit")):
            return
        try:
            chat = self._chat_key(params["chat_id"])
        except TelegramApiError:
            return
        if chat in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user", violation=False)

    # -- method implementations -----------------------------------------------------------

    def _get_me(self, params: JsonDict, call: ApiCall) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JsonDict, call: ApiCall) -> list[JsonDict]:
        if self.webhook is not None:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        if not 1 <= limit <= 100:
            limit = 100
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        if offset > 0:
            while self._updates and int(self._updates[0]["update_id"]) < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), self.long_poll_cap)
        while True:
            event = self._update_event
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._closing:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _deliverable(self, limit: int) -> list[JsonDict]:
        allowed = self._allowed_updates
        out: list[JsonDict] = []
        for update in self._updates:
            kind = next((k for k in update if k != "update_id"), "")
            if allowed:
                if kind not in allowed:
                    continue
            elif kind in _NOT_DEFAULT_UPDATES:
                continue
            out.append(update)
            if len(out) >= limit:
                break
        return out

    def _wake_pollers(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    def _set_webhook(self, params: JsonDict, call: ApiCall) -> bool:
        url = str(params["url"])
        if not url:
            return self._delete_webhook(params, call)
        if self.strict and not url.startswith("https://") and not self.allow_http_webhook:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook", url)
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
            "ip_address": params.get("ip_address"),
        }
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        return True

    def _delete_webhook(self, params: JsonDict, call: ApiCall) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    @property
    def webhook_url(self) -> str | None:
        return None if self.webhook is None else self.webhook["url"]

    @property
    def webhook_secret(self) -> str | None:
        return None if self.webhook is None else self.webhook.get("secret_token")

    def _get_webhook_info(self, params: JsonDict, call: ApiCall) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
        return info

    def _send_message(self, params: JsonDict, call: ApiCall) -> JsonDict:
        chat = self._chat_key(params["chat_id"])
        text, entities = render_text(params["text"], params.get("parse_mode"))
        content: JsonDict = {"text": text}
        if entities or params.get("entities"):
            content["entities"] = entities or params["entities"]
        if params.get("link_preview_options"):
            content["link_preview_options"] = params["link_preview_options"]
        return self._bot_message(chat, content, params)

    def _send_media(self, params: JsonDict, call: ApiCall) -> JsonDict:
        method = call.method.lower()
        chat = self._chat_key(params["chat_id"])
        content: JsonDict = {}
        if method in _MEDIA_KINDS:
            key = _MEDIA_KINDS[method]
            stored = self._resolve_media(params[key], key, call.files)
            content[key] = self._media_object(key, stored, params)
        elif method == "sendlocation":
            content["location"] = {
                "latitude": params["latitude"],
                "longitude": params["longitude"],
            }
        elif method == "sendvenue":
            location = {"latitude": params["latitude"], "longitude": params["longitude"]}
            content["location"] = location
            content["venue"] = {
                "location": location,
                "title": params["title"],
                "address": params["address"],
            }
        elif method == "sendcontact":
            content["contact"] = {
                k: params[k] for k in ("phone_number", "first_name", "last_name") if k in params
            }
        elif method == "senddice":
            content["dice"] = {"emoji": params.get("emoji", "🎲"), "value": 1}
        content.update(self._caption(params))
        return self._bot_message(chat, content, params)

    def _send_media_group(self, params: JsonDict, call: ApiCall) -> list[JsonDict]:
        chat = self._chat_key(params["chat_id"])
        media = params["media"]
        if not 2 <= len(media) <= 10:
            raise _bad(
                "Too few media in the media group"
                if len(media) < 2
                else "Too many media in the media group",
                f"{len(media)} items, allowed 2-10",
            )
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and not kinds <= {"photo", "video", "live_photo"}:
            raise _bad(
                "documents and audio files can't be mixed with other media types in a media group",
                f"types: {sorted(kinds)}",
            )
        self._media_group_counter += 1
        group_id = str(13_000_000_000_000_000 + self._media_group_counter)
        messages = []
        for item in media:
            kind = "photo" if item["type"] == "live_photo" else item["type"]
            stored = self._resolve_media(item["media"], kind, call.files)
            content: JsonDict = {kind: self._media_object(kind, stored, item)}
            content["media_group_id"] = group_id
            content.update(self._caption(item))
            messages.append(self._bot_message(chat, content, {**params, "reply_markup": None}))
        return messages

    def _caption(self, params: Mapping[str, Any]) -> JsonDict:
        caption = params.get("caption")
        if not caption:
            return {}
        text, entities = render_text(caption, params.get("parse_mode"))
        out: JsonDict = {"caption": text}
        if entities or params.get("caption_entities"):
            out["caption_entities"] = entities or params["caption_entities"]
        if params.get("has_spoiler"):
            out["has_media_spoiler"] = True
        return out

    def _edit_target(self, params: JsonDict) -> JsonDict | None:
        if params.get("inline_message_id"):
            return None
        if "chat_id" not in params or "message_id" not in params:
            raise _bad("message identifier is not specified")
        chat = self._chat_key(params["chat_id"])
        message = self._messages.get((chat, int(params["message_id"])))
        if message is None:
            if self.strict:
                raise _bad(
                    "message to edit not found",
                    f"chat {params['chat_id']} message {params['message_id']}",
                )
            message = self._bot_message(chat, {"text": "?"}, {})
            self._messages[(chat, int(params["message_id"]))] = message
        if self.strict and message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited", "only messages sent by the bot can be edited")
        return message

    def _apply_edit(self, message: JsonDict, changes: JsonDict, markup: Any) -> JsonDict:
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        unchanged = (
            all(message.get(k) == v for k, v in changes.items())
            and message.get("reply_markup") == new_markup
        )
        if unchanged and self.strict:
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        return dict(message)

    def _edit_message_text(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        if "text" not in params:
            raise _bad("message text is empty")
        message = self._edit_target(params)
        if message is None:
            return True
        if self.strict and "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = render_text(params["text"], params.get("parse_mode"))
        changes = {"text": text, "entities": (entities or params.get("entities")) or None}
        return self._apply_edit(message, changes, params.get("reply_markup"))

    def _edit_message_caption(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        message = self._edit_target(params)
        if message is None:
            return True
        caption = self._caption(params)
        changes = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
        }
        return self._apply_edit(message, changes, params.get("reply_markup"))

    def _edit_message_reply_markup(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        message = self._edit_target(params)
        if message is None:
            return True
        return self._apply_edit(message, {}, params.get("reply_markup"))

    def _edit_message_media(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        message = self._edit_target(params)
        if message is None:
            return True
        item = params["media"]
        kind = "photo" if item["type"] == "live_photo" else item["type"]
        stored = self._resolve_media(item["media"], kind, call.files)
        for old in ("photo", "video", "document", "audio", "animation", "caption"):
            message.pop(old, None)
        changes: JsonDict = {kind: self._media_object(kind, stored, item)}
        changes.update(self._caption(item))
        message.pop("reply_markup", None)
        return self._apply_edit(message, changes, params.get("reply_markup"))

    def _answer_callback_query(self, params: JsonDict, call: ApiCall) -> bool:
        query_id = params["callback_query_id"]
        if self.strict and query_id not in self._open_callbacks:
            raise _bad(
                "query is too old and response timeout expired or query ID is invalid",
                f"callback_query_id {query_id!r} is unknown or was already answered",
            )
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = params
        return True

    def _send_chat_action(self, params: JsonDict, call: ApiCall) -> bool:
        if params["action"] not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request", f"action={params['action']!r}")
        return True

    def _get_file(self, params: JsonDict, call: ApiCall) -> JsonDict:
        file_id = params["file_id"]
        stored = self._files.get(file_id)
        if stored is None:
            stored = _StoredFile(
                file_id, f"U{abs(hash(file_id)) % 10**12:012d}", f"photos/{file_id}.jpg", None
            )
        result: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.content is not None:
            result["file_size"] = len(stored.content)
        return result

    @staticmethod
    def _commands_key(params: JsonDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code', '')}"

    def _set_my_commands(self, params: JsonDict, call: ApiCall) -> bool:
        commands = params["commands"]
        if len(commands) > 100:
            raise _bad("too many commands", f"{len(commands)} commands, at most 100")
        self.commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(self, params: JsonDict, call: ApiCall) -> list[JsonDict]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: JsonDict, call: ApiCall) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _delete_message(self, params: JsonDict, call: ApiCall) -> bool:
        key = (self._chat_key(params["chat_id"]), int(params["message_id"]))
        if self._messages.pop(key, None) is None and self.strict:
            raise _bad("message to delete not found", f"chat {key[0]} message {key[1]}")
        return True

    def _copy_message(self, params: JsonDict, call: ApiCall) -> JsonDict:
        message = self._source_message(params)
        content = {k: v for k, v in message.items() if k in _CONTENT_KEYS}
        if "caption" in params:
            content.update(self._caption(params))
        copied = self._bot_message(self._chat_key(params["chat_id"]), content, params)
        return {"message_id": copied["message_id"]}

    def _forward_message(self, params: JsonDict, call: ApiCall) -> JsonDict:
        message = self._source_message(params)
        content = {k: v for k, v in message.items() if k in _CONTENT_KEYS}
        origin_user = message.get("from") or self.bot_user
        content["forward_origin"] = {
            "type": "user",
            "date": message["date"],
            "sender_user": origin_user,
        }
        return self._bot_message(self._chat_key(params["chat_id"]), content, {})

    def _source_message(self, params: JsonDict) -> JsonDict:
        key = (self._chat_key(params["from_chat_id"]), int(params["message_id"]))
        message = self._messages.get(key)
        if message is None:
            if self.strict:
                raise _bad("message to copy not found", f"chat {key[0]} message {key[1]}")
            return {"text": "?", "date": int(time.time())}
        return message

    def _get_chat(self, params: JsonDict, call: ApiCall) -> JsonDict:
        chat = self._chat_object(self._chat_key(params["chat_id"]))
        full = self._stub("ChatFullInfo")
        full.update(chat)
        full.setdefault("accent_color_id", 0)
        full.setdefault("max_reaction_count", 11)
        return full

    def _get_chat_member(self, params: JsonDict, call: ApiCall) -> JsonDict:
        user_id = int(params["user_id"])
        user = (
            self.bot_user
            if user_id == self.bot_id
            else self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
        )
        if user_id in self._blocked:
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": "member", "user": user}

    def _log_out(self, params: JsonDict, call: ApiCall) -> bool:
        self.logged_out = True
        return True

    def _close(self, params: JsonDict, call: ApiCall) -> bool:
        return True

    def _generic_result(self, method: ObjectSpec, params: JsonDict) -> Any:
        returns = method.returns
        if not returns or "Boolean" in returns or "True" in returns:
            return True
        if "Message" in returns and "chat_id" in params:
            content = {"text": str(params.get("text", ""))} if "text" in params else {}
            return self._bot_message(self._chat_key(params["chat_id"]), content, params)
        return self._stub(returns[0])

    def _stub(self, type_expr: str, depth: int = 0) -> Any:
        """A minimal valid value of ``type_expr`` (required fields only)."""
        if type_expr.startswith("Array of ") or depth > 6:
            return []
        simple = {"Integer": 0, "Float": 0.0, "String": "", "Boolean": False}
        if type_expr in simple:
            return simple[type_expr]
        obj = self.spec.types.get(type_expr)
        if obj is None:
            return {}
        if obj.subtypes:
            return self._stub(obj.subtypes[0], depth + 1)
        out: JsonDict = {}
        for spec in (obj.fields or {}).values():
            if spec.required:
                out[spec.name] = spec.const or self._stub(spec.types[0], depth + 1)
        return out

    # -- messages, chats, users and files ---------------------------------------------------

    def _chat_key(self, chat_id: Any) -> int:
        if isinstance(chat_id, int):
            return chat_id
        text = str(chat_id)
        if _INT_RE.fullmatch(text):
            return int(text)
        if text.startswith("@"):
            name = text[1:].lower()
            if name not in self._usernames:
                self._usernames[name] = -1_001_000_000_000 - len(self._usernames)
                self._chats[self._usernames[name]] = {
                    "id": self._usernames[name],
                    "type": "channel",
                    "title": text[1:],
                    "username": text[1:],
                }
            return self._usernames[name]
        raise _bad("chat not found", f"chat_id={chat_id!r}")

    def _chat_object(self, chat: int) -> JsonDict:
        known = self._chats.get(chat)
        if known is not None:
            return known
        if chat > 0:
            user = self._users.get(chat)
            obj: JsonDict = {"id": chat, "type": "private", "first_name": "User"}
            if user is not None:
                obj.update(
                    {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
                )
            return obj
        if str(chat).startswith("-100"):
            return {"id": chat, "type": "supergroup", "title": "Group"}
        return {"id": chat, "type": "group", "title": "Group"}

    def _next_message_id(self, chat: int) -> int:
        value = self._message_counters.get(chat, 0) + 1
        self._message_counters[chat] = value
        return value

    def _bot_message(self, chat: int, content: JsonDict, params: Mapping[str, Any]) -> JsonDict:
        message: JsonDict = {
            "message_id": self._next_message_id(chat),
            "from": self.bot_user,
            "chat": self._chat_object(chat),
            "date": int(time.time()),
        }
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            reply_chat = self._chat_key(reply.get("chat_id", chat))
            replied = self._messages.get((reply_chat, int(reply["message_id"])))
            if replied is not None:
                message["reply_to_message"] = self._without_reply(replied)
            elif self.strict and not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found", f"reply to {reply['message_id']}")
        message.update(content)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if params.get("protect_content"):
            message["has_protected_content"] = True
        self._messages[(chat, message["message_id"])] = message
        self._last_bot_message[chat] = message["message_id"]
        return dict(message)

    @staticmethod
    def _without_reply(message: JsonDict) -> JsonDict:
        return {k: v for k, v in message.items() if k != "reply_to_message"}

    def _user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> JsonDict:
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _user_from_kwargs(self, user_id: int, kwargs: Mapping[str, Any]) -> JsonDict:
        unknown = set(kwargs) - {"first_name", "last_name", "username", "language_code"}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {sorted(unknown)}")
        known = self._users.get(user_id, {})
        return self._user(
            user_id,
            kwargs.get("first_name", known.get("first_name", "Test")),
            kwargs.get("last_name", known.get("last_name")),
            kwargs.get("username", known.get("username")),
            kwargs.get("language_code", known.get("language_code", "vi")),
        )

    def _user_update(self, user: JsonDict, content: JsonDict, *, push: bool) -> JsonDict:
        chat = user["id"]
        message: JsonDict = {
            "message_id": self._next_message_id(chat),
            "from": user,
            "chat": {
                "id": chat,
                "type": "private",
                **{k: user[k] for k in ("first_name", "last_name", "username") if k in user},
            },
            "date": int(time.time()),
            **content,
        }
        update: JsonDict = {"message": message}
        if push:
            return self.push_update(update)
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        self._register_update(update)
        return update

    def _register_update(self, update: JsonDict) -> None:
        """Remember users, chats, messages and callback ids that appear in an update."""
        for kind in ("message", "edited_message", "channel_post", "business_message"):
            message = update.get(kind)
            if isinstance(message, dict):
                self._register_message(message)
        query = update.get("callback_query")
        if isinstance(query, dict):
            if "id" in query:
                self._open_callbacks.add(str(query["id"]))
            if isinstance(query.get("from"), dict):
                self._users.setdefault(query["from"]["id"], query["from"])

    def _register_message(self, message: JsonDict) -> None:
        chat = message.get("chat") or {}
        sender = message.get("from")
        if isinstance(sender, dict) and "id" in sender and not sender.get("is_bot"):
            self._users[sender["id"]] = sender
        if "id" not in chat or "message_id" not in message:
            return
        chat_id = int(chat["id"])
        self._chats[chat_id] = chat
        message_id = int(message["message_id"])
        self._messages[(chat_id, message_id)] = message
        self._message_counters[chat_id] = max(self._message_counters.get(chat_id, 0), message_id)

    def _callback_message(self, user_id: int, message_id: int | None) -> JsonDict:
        if message_id is None:
            message_id = self._last_bot_message.get(user_id)
        if message_id is not None:
            message = self._messages.get((user_id, message_id))
            if message is not None:
                return message
        message = {
            "message_id": message_id or self._next_message_id(user_id),
            "from": self.bot_user,
            "chat": self._chat_object(user_id),
            "date": int(time.time()),
            "text": "…",
        }
        self._register_message(message)
        return message

    def _member_update(self, user_id: int, old: str, new: str) -> JsonDict:
        user = self._users.get(user_id) or self._user(user_id)
        date = int(time.time())

        def member(status: str) -> JsonDict:
            out: JsonDict = {"status": status, "user": self.bot_user}
            if status == "kicked":
                out["until_date"] = 0
            return out

        return {
            "chat": self._chat_object(user_id),
            "from": user,
            "date": date,
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def _ensure_file(self, file_id: str, content: bytes | None, path: str) -> _StoredFile:
        if content is not None or file_id not in self._files:
            self.add_file(file_id, content if content is not None else PLACEHOLDER_JPEG, path)
        return self._files[file_id]

    def _resolve_media(
        self, value: Any, kind: str, files: Mapping[str, UploadedFile] | None = None
    ) -> _StoredFile:
        """The stored file for an uploaded part, attach://name, a known file_id or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            uploaded = (files or {}).get(value[len("attach://") :])
            if uploaded is None:
                raise _bad(f"can't find attached file {value!r}")
            value = uploaded
        if isinstance(value, UploadedFile):
            self._file_counter += 1
            file_id = f"AgAC{kind}{self._file_counter:06d}"
            folder, suffix = _MEDIA_FOLDERS.get(kind, ("documents", ""))
            name = value.filename or f"file{self._file_counter}{suffix}"
            self.add_file(file_id, value.data, f"{folder}/{file_id}_{name}")
            return self._files[file_id]
        text = str(value)
        if text.startswith(("http://", "https://")):
            self._file_counter += 1
            file_id = f"AgACurl{self._file_counter:06d}"
            folder = _MEDIA_FOLDERS.get(kind, ("documents", ""))[0]
            self.add_file(file_id, PLACEHOLDER_JPEG, f"{folder}/{file_id}")
            return self._files[file_id]
        stored = self._files.get(text)
        if stored is None:
            if self.strict:
                raise _bad("wrong file identifier/HTTP URL specified", f"{kind}={text!r}")
            self.add_file(text, PLACEHOLDER_JPEG)
            stored = self._files[text]
        return stored

    def _media_object(self, kind: str, stored: _StoredFile, params: Mapping[str, Any]) -> Any:
        size = len(stored.content) if stored.content is not None else 0
        base: JsonDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if size:
            base["file_size"] = size
        if kind == "photo":
            return [self._photo_size(stored, 90, 90), self._photo_size(stored, 1280, 1280)]
        if kind == "document":
            name = stored.file_path.rsplit("/", 1)[-1]
            return {
                **base,
                "file_name": name,
                "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            }
        duration = int(params.get("duration", 1) or 1)
        if kind in ("video", "animation"):
            return {**base, "width": 640, "height": 360, "duration": duration}
        if kind in ("voice", "audio"):
            return {**base, "duration": duration}
        if kind == "video_note":
            return {**base, "length": 240, "duration": duration}
        if kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        return base

    @staticmethod
    def _photo_size(stored: _StoredFile, width: int, height: int) -> JsonDict:
        size: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
        }
        if stored.content is not None:
            size["file_size"] = len(stored.content)
        return size


_MEDIA_KINDS: dict[str, str] = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendvoice": "voice",
    "sendanimation": "animation",
    "sendvideonote": "video_note",
    "sendsticker": "sticker",
}
_MEDIA_FOLDERS: dict[str, tuple[str, str]] = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "video": ("videos", ".mp4"),
    "animation": ("animations", ".mp4"),
    "audio": ("music", ".mp3"),
    "voice": ("voice", ".oga"),
    "video_note": ("video_notes", ".mp4"),
    "sticker": ("stickers", ".webp"),
}
_CONTENT_KEYS = frozenset(
    {
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "video_note",
        "sticker",
        "location",
        "venue",
        "contact",
        "dice",
    }
)


async def _run_forever(api: FakeTelegramAPI) -> None:  # pragma: no cover - manual use
    async with api:
        print(f"FakeTelegramAPI listening on {api.root_url} (token {api.token})")
        await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_run_forever(FakeTelegramAPI()))
