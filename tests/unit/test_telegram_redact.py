"""The bot token never reaches a log record."""

from __future__ import annotations

import logging

import pytest

from bot.redact import MASK, install_redaction

TOKEN = "555000:AAredactMe_secret-Part42"


def test_token_is_redacted_from_messages_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction(TOKEN)
    caplog.set_level(logging.DEBUG)
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("telegram.ext.Updater").debug("calling %s", url)  # a child logger
    logging.getLogger("some.library").warning(f"inline {url}")
    try:
        raise RuntimeError(f"failed {url}")
    except RuntimeError:
        logging.getLogger("bot.x").exception("boom")
    # Only this test's records (a thread left by an earlier test may log meanwhile).
    ours = {"httpx", "telegram.ext.Updater", "some.library", "bot.x"}
    assert len([r for r in caplog.records if r.name in ours]) == 4
    assert TOKEN not in caplog.text and "AAredactMe" not in caplog.text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert caplog.text.count(MASK) >= 4
    assert "getUpdates" in caplog.text  # the rest of the message survives


def test_other_records_are_untouched(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(TOKEN)
    caplog.set_level(logging.INFO)
    logging.getLogger("bot").info("%d updates from %s", 3, "Lan")
    (record,) = caplog.records
    assert record.getMessage() == "3 updates from Lan" and record.args == (3, "Lan")
