"""Typed settings, read from the environment with the ``ANTT_`` prefix."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-only-change-me"


class Settings(BaseSettings):
    """Every knob of the application in one place; secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(env_prefix="ANTT_", env_file=None, extra="ignore")

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
