"""Typed settings, read from the environment with the ``ANTT_`` prefix.

A plain class, not pydantic-settings (issue 17: pydantic and pydantic-settings cost
about 9 MB of every process's memory). Each annotated attribute below is a setting:
its default is the class attribute, ``ANTT_<NAME>`` (any case) overrides it, and a
keyword argument overrides both. Values are checked and converted by their type
(``int``, ``float``, ``bool``, ``str``, ``Path``, ``dt.time``, ``SecretStr``, or one
of them ``| None``) with pydantic's rules and messages; all bad values are reported
together in one ``SettingsError``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-only-change-me"


class SecretStr:
    """A string that does not show itself in ``str``, ``repr`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


class SettingsError(ValueError):
    """Settings that cannot be read; the message names each field and what is wrong."""

    def __init__(self, errors: list[tuple[str, str, str, object]]) -> None:
        self.errors = errors  # (field, message, type, input)
        count = len(errors)
        lines = [f"{count} validation error{'s' if count > 1 else ''} for Settings"]
        for name, message, kind, value in errors:
            lines.append(name)
            lines.append(
                f"  {message} [type={kind}, input_value={value!r}, "
                f"input_type={type(value).__name__}]"
            )
        super().__init__("\n".join(lines))


class Settings:
    """Every knob of the application in one place; secrets are ``SecretStr``."""

    # Database: unset means "start the embedded PostgreSQL under data_dir".
    database_url: SecretStr | None = None
    data_dir: Path = Path("./.antt")
    db_pool_size: int = 10

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_bot_username: str | None = None
    telegram_webhook_path: str = "/telegram/webhook"
    # Updates handled at once (one person's updates still run in order), and
    # connections to the Bot API for sending (16 cover Telegram's round trip at its
    # 30 messages/s limit). Measured in bench/telegram_engine.py.
    # Announcements go out with allow_paid_broadcast (up to 1,000 a second, paid in Stars);
    # raise bot_rate_per_second with it.
    telegram_paid_broadcast: bool = False
    telegram_concurrency: int = 256
    telegram_pool_size: int = 16

    # Zalo (Zalo Bot Platform): unset token means no Zalo
    zalo_token: SecretStr | None = None
    zalo_api_url: str | None = None  # default https://bot-api.zaloplatforms.com
    zalo_webhook_secret: SecretStr | None = None
    zalo_webhook_path: str = "/zalo/webhook"
    # The bot's public Zalo link (e.g. https://zalo.me/<bot>): set, posters carry its QR too
    zalo_bot_link: str | None = None

    # Web server (webhooks, /healthz, emulator)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # Where this web server is reachable from outside (https://...): Zalo fetches kept
    # photos from signed links under it. Unset: the origin of the Zalo webhook URL.
    public_url: str | None = None

    # Behaviour
    default_language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    conversation_idle_minutes: int = 60
    invite_max_failures: int = 5
    invite_lock_minutes: int = 60
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    # The key before the last rotation: still opens what was sealed under it.
    secret_key_previous: SecretStr | None = None
    store_media: bool = False

    # Database outages: an update is held and retried (backoff up to this many seconds);
    # a webhook answers 503 after holding it this long, so the platform redelivers; a
    # person held this long is told once that the message is kept.
    update_retry_max_seconds: float = 5.0
    webhook_hold_seconds: float = 5.0
    busy_notice_seconds: float = 10.0

    # Tips
    tip_max_per_hour: int = 5
    tip_max_text: int = 4000
    tip_max_media: int = 10
    tip_lookup_max_failures: int = 10
    tip_escalate_hours: int = 24
    tip_reporter_retention_days: int = 90
    tip_questions_per_day: int = 3  # questions relayed to a tip's reporter in 24 hours
    tip_additions_per_hour: int = 5  # additions and answers to one tip in an hour

    # Outbox sender and scheduler (issue 6)
    quiet_start: dt.time = dt.time(21, 0)  # local time; non-urgent messages wait until quiet_end
    quiet_end: dt.time = dt.time(7, 0)
    outbox_batch_size: int = 1000  # rows claimed at once, at most (see scheduler.outbox)
    outbox_lease_seconds: int = 120  # a claimed row comes back after this if its sender died
    outbox_max_attempts: int = 6  # transient failures before the row is failed
    outbox_backoff_seconds: float = 30.0  # first retry; doubles each attempt
    outbox_backoff_max_seconds: float = 3600.0
    outbox_max_wait_seconds: float = 5.0  # a longer rate-limit wait puts the row back instead
    outbox_poll_seconds: float = 1.0
    outbox_retry_max_seconds: float = 5.0  # longest pause of the sender after an error
    outbox_standby_seconds: float = 2.0  # a standby sender tries to take over this often
    outbox_in_flight: int = 16  # messages sent and not yet recorded, at most (kill -9 repeats)
    bot_rate_per_second: float = 30.0  # per bot (channel), all processes together
    chat_rate_per_second: float = 1.0
    group_rate_per_minute: float = 20.0
    reminder_hour: int = 7  # local hour of the daily reminder run
    reminder_overdue_max_days: int = 365  # weekly overdue reminders stop after this
    housekeeping_hour: int = 3  # local hour of the nightly clean-up
    # Handled update ids are kept this long to spot redeliveries (Telegram keeps an
    # unconfirmed update for at most 24 hours).
    processed_update_days: int = 2

    # Announcements (issue 14)
    broadcast_approval_threshold: int = 1000  # more recipients need a second admin's approval
    broadcast_max_file_mb: int = 20  # a photo or leaflet attached to an announcement
    broadcast_fanout_batch: int = 5000  # outbox rows written per transaction
    broadcast_progress_seconds: float = 3.0  # the author's status message is edited this often

    # Daily digest and exports (issue 6)
    digest_hour: int = 7  # local hour of the supervisors' daily digest
    export_chat_max_rows: int = 50_000  # larger exports are refused in chat: use antt export

    def __init__(self, **values: Any) -> None:
        env = {name.lower(): value for name, value in os.environ.items()}
        errors: list[tuple[str, str, str, object]] = []
        for name, convert in _CONVERTERS.items():
            if name in values:
                raw = values.pop(name)
            elif f"antt_{name}" in env:
                raw = env[f"antt_{name}"]
            else:
                continue  # the class attribute's default
            try:
                setattr(self, name, convert(raw))
            except _Invalid as exc:
                errors.append((name, exc.message, exc.kind, raw))
        if values:
            raise TypeError(f"unknown settings: {', '.join(sorted(values))}")
        if errors:
            raise SettingsError(errors)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """A copy with ``update`` applied as given (not converted), like pydantic's."""
        copied = copy.copy(self)
        for name, value in (update or {}).items():
            if name not in _CONVERTERS:
                raise TypeError(f"unknown setting: {name}")
            setattr(copied, name, value)
        return copied

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in _CONVERTERS
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = " ".join(f"{name}={getattr(self, name)!r}" for name in _CONVERTERS)
        return f"Settings({shown})"

    def messengers(self) -> frozenset[str]:
        """The messengers a token is set for: what the deployment sends on (every process
        of one is given the same settings)."""
        tokens = {"telegram": self.telegram_token, "zalo": self.zalo_token}
        return frozenset(
            name
            for name, token in tokens.items()
            if token is not None and token.get_secret_value().strip()
        )

    def sqlalchemy_url(self) -> str | None:
        """The configured URL with the asyncpg driver, or None for the embedded server."""
        if self.database_url is None:
            return None
        return to_asyncpg_url(self.database_url.get_secret_value())


def to_asyncpg_url(url: str) -> str:
    """Turn ``postgres://`` or ``postgresql://`` into ``postgresql+asyncpg://``."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class _Invalid(Exception):
    def __init__(self, message: str, kind: str) -> None:
        self.message, self.kind = message, kind


_INTEGER = re.compile(r"[+-]?\d+(?:_\d+)*(?:\.0*)?")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_TIME = re.compile(
    r"(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?(?:(?P<utc>[Zz])|(?P<sign>[+-])(\d\d):?(\d\d))?"
)


def _to_int(raw: object) -> int:
    if isinstance(raw, int):  # bool too, as pydantic's lax mode
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        return int(raw.strip().split(".")[0])
    if isinstance(raw, str):
        raise _Invalid(
            "Input should be a valid integer, unable to parse string as an integer", "int_parsing"
        )
    raise _Invalid("Input should be a valid integer", "int_type")


def _to_float(raw: object) -> float:
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            pass
        raise _Invalid(
            "Input should be a valid number, unable to parse string as a number", "float_parsing"
        )
    raise _Invalid("Input should be a valid number", "float_type")


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise _Invalid("Input should be a valid boolean, unable to interpret input", "bool_parsing")


def _to_str(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    raise _Invalid("Input should be a valid string", "string_type")


def _to_secret(raw: object) -> SecretStr:
    return raw if isinstance(raw, SecretStr) else SecretStr(_to_str(raw))


def _to_path(raw: object) -> Path:
    if isinstance(raw, str | os.PathLike):
        return Path(raw)
    raise _Invalid("Input is not a valid path", "path_type")


def _to_time(raw: object) -> dt.time:
    """``HH:MM[:SS[.ffffff]][Z|±HH:MM]``, as pydantic reads a time."""
    if isinstance(raw, dt.time):
        return raw
    if not isinstance(raw, str):
        raise _Invalid("Input should be a valid time", "time_type")
    match = _TIME.fullmatch(raw)

    def bad(detail: str) -> _Invalid:
        return _Invalid(f"Input should be in a valid time format, {detail}", "time_parsing")

    if match is None:
        raise bad("input is too short" if len(raw) < 5 else "invalid character in time")
    hour, minute, second, fraction = match.group(1, 2, 3, 4)
    for value, unit, top in ((hour, "hour", 23), (minute, "minute", 59), (second, "second", 59)):
        if value is not None and int(value) > top:
            raise bad(f"{unit} value is outside expected range of 0-{top}")
    zone = None
    if match["utc"]:
        zone = dt.UTC
    elif match["sign"]:
        offset = dt.timedelta(hours=int(match.group(7)), minutes=int(match.group(8)))
        zone = dt.timezone(-offset if match["sign"] == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0"))
    return dt.time(int(hour), int(minute), int(second or 0), micro, tzinfo=zone)


_BASE: dict[object, Callable[[object], Any]] = {
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    str: _to_str,
    Path: _to_path,
    SecretStr: _to_secret,
    dt.time: _to_time,
}


def _converter(hint: object) -> Callable[[object], Any]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        base = _converter(inner)
        return lambda raw: None if raw is None else base(raw)
    if hint in _BASE:
        return _BASE[hint]
    raise TypeError(f"Settings: no reader for the type {hint!r}")


# Every setting, by name, with what reads it: built once from the annotations.
_CONVERTERS = {
    name: _converter(hint)
    for name, hint in typing.get_type_hints(Settings).items()
    if not name.startswith("_")
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
