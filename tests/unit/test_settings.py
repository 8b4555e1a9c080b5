"""Settings read from ANTT_* like pydantic-settings did: names, conversions, messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import SecretStr, Settings, SettingsError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.upper().startswith("ANTT_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_without_environment() -> None:
    s = Settings()
    assert s.db_pool_size == 10 and s.web_port == 8080 and s.web_host == "127.0.0.1"
    assert s.data_dir == Path(".antt") and s.database_url is None
    assert s.quiet_start == dt.time(21, 0) and s.quiet_end == dt.time(7, 0)
    assert s.secret_key.get_secret_value() == "dev-only-change-me"
    assert s.store_media is False and s.update_retry_max_seconds == 5.0


def test_environment_in_any_case_and_keywords_win(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTT_DB_POOL_SIZE", " 7 ")
    clean_env.setenv("antt_web_port", "9000")
    clean_env.setenv("ANTT_STORE_MEDIA", "Yes")
    clean_env.setenv("ANTT_QUIET_START", "22:30")
    clean_env.setenv("ANTT_BOT_RATE_PER_SECOND", "1e3")
    clean_env.setenv("ANTT_DATA_DIR", "/srv/antt")
    clean_env.setenv("ANTT_TELEGRAM_TOKEN", "123:abc")
    clean_env.setenv("ANTT_SECRET_KEY", "from-the-environment")
    s = Settings(secret_key="given")  # type: ignore[arg-type]
    assert (s.db_pool_size, s.web_port, s.store_media) == (7, 9000, True)
    assert s.quiet_start == dt.time(22, 30) and s.bot_rate_per_second == 1000.0
    assert s.data_dir == Path("/srv/antt")
    assert isinstance(s.telegram_token, SecretStr)
    assert s.telegram_token.get_secret_value() == "123:abc"
    assert s.secret_key.get_secret_value() == "given"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("db_pool_size", "+5", 5),
        ("db_pool_size", "5.0", 5),
        ("db_pool_size", "1_000", 1000),
        ("store_media", "off", False),
        ("store_media", "T", True),
        ("store_media", "0", False),
        ("quiet_end", "06:05:30.25", dt.time(6, 5, 30, 250000)),
        ("quiet_end", "06:00Z", dt.time(6, 0, tzinfo=dt.UTC)),
        ("quiet_end", "06:00+07:00", dt.time(6, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))),
        ("webhook_hold_seconds", " 2.5 ", 2.5),
        ("telegram_api_url", "", ""),
    ],
)
def test_values_are_converted_by_type(
    clean_env: pytest.MonkeyPatch, name: str, raw: str, expected: object
) -> None:
    clean_env.setenv(f"ANTT_{name.upper()}", raw)
    assert getattr(Settings(), name) == expected


def test_an_empty_secret_is_set_but_empty(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTT_ZALO_TOKEN", "")
    token = Settings().zalo_token
    assert token is not None and token.get_secret_value() == ""


def test_bad_values_are_all_named_with_pydantic_messages(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTT_DB_POOL_SIZE", "ten")
    clean_env.setenv("ANTT_STORE_MEDIA", "2")
    clean_env.setenv("ANTT_QUIET_START", "9:00")
    clean_env.setenv("ANTT_DIGEST_HOUR", "7.5")
    clean_env.setenv("ANTT_OUTBOX_POLL_SECONDS", "soon")
    clean_env.setenv("ANTT_QUIET_END", "24:00")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert str(caught.value) == "\n".join(
        [
            "6 validation errors for Settings",
            "db_pool_size",
            "  Input should be a valid integer, unable to parse string as an integer"
            " [type=int_parsing, input_value='ten', input_type=str]",
            "store_media",
            "  Input should be a valid boolean, unable to interpret input"
            " [type=bool_parsing, input_value='2', input_type=str]",
            "quiet_start",
            "  Input should be in a valid time format, input is too short"
            " [type=time_parsing, input_value='9:00', input_type=str]",
            "quiet_end",
            "  Input should be in a valid time format, hour value is outside expected range"
            " of 0-23 [type=time_parsing, input_value='24:00', input_type=str]",
            "outbox_poll_seconds",
            "  Input should be a valid number, unable to parse string as a number"
            " [type=float_parsing, input_value='soon', input_type=str]",
            "digest_hour",
            "  Input should be a valid integer, unable to parse string as an integer"
            " [type=int_parsing, input_value='7.5', input_type=str]",
        ]
    )
    assert isinstance(caught.value, ValueError)


def test_one_bad_value_says_error_not_errors() -> None:
    with pytest.raises(SettingsError, match=r"^1 validation error for Settings\nweb_port\n"):
        Settings(web_port="x")  # type: ignore[arg-type]


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(TypeError, match="web_prot"):
        Settings(web_prot=1)  # type: ignore[call-arg]


def test_secrets_do_not_show_themselves() -> None:
    s = Settings(secret_key="very-secret-value", database_url="postgresql://u:pw@h/db")  # type: ignore[arg-type]
    assert "very-secret-value" not in repr(s) and "pw@" not in repr(s)
    assert str(s.secret_key) == "**********" and "very" not in repr(s.secret_key)
    assert s.secret_key == SecretStr("very-secret-value")
    assert s.sqlalchemy_url() == "postgresql+asyncpg://u:pw@h/db"


def test_model_copy_changes_only_the_copy() -> None:
    base = Settings(web_port=1)
    copied = base.model_copy(update={"web_port": 2, "quiet_start": dt.time(0)})
    assert (base.web_port, copied.web_port) == (1, 2)
    assert copied.quiet_start == dt.time(0) and base.quiet_start == dt.time(21, 0)
    assert copied != base and base.model_copy() == base
    with pytest.raises(TypeError):
        base.model_copy(update={"no_such_setting": 1})
