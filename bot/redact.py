"""Keep bot tokens (Telegram, Zalo) out of logs.

httpx logs every request URL at INFO (``.../bot<token>/getUpdates``) and PTB
puts URLs and server replies into DEBUG records and exception texts. A
``TokenRedactor`` rewrites a record's message, arguments and exception text.
Filters on a logger do not see records of its children (``telegram.ext.Updater``
is not filtered by a filter on ``telegram``), so ``install_redaction`` both adds
the filter to the known loggers and wraps the log record factory, which every
record of every logger passes through.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

MASK = "<redacted>"
LOGGERS = ("httpx", "httpcore", "telegram", "telegram.ext", "bot", "handlers", "scheduler")


class TokenRedactor(logging.Filter):
    """Replaces every known secret in a record; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets or getattr(record, "_antt_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record._antt_redacted = True
        return True


redactor = TokenRedactor()
_installed = False
_lock = threading.Lock()


def install_redaction(*secrets: str) -> TokenRedactor:
    """Redact ``secrets`` from every log record from now on (idempotent)."""
    global _installed
    for secret in secrets:
        redactor.add(secret)
    with _lock:
        if _installed:
            return redactor
        for name in LOGGERS:
            logging.getLogger(name).addFilter(redactor)
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redactor.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
    return redactor
