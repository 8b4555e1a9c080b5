"""The secret key: refuse weak ones, make strong ones, keep the demo's in its data directory.

``ANTT_SECRET_KEY`` seals reporter links and keys tracking codes, invite codes,
rate counters and button references (``db.sealed``). Whoever has it and a copy of
the database can join reporters to tips, so ``antt run`` and ``antt scheduler``
refuse the default key and any key shorter than 32 random bytes (64 hex digits,
or 43 characters of base64). ``antt secret new`` prints a good one.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from bot.config import DEFAULT_SECRET_KEY, Settings
from bot.errors import UserError
from handlers.i18n import _

MIN_BITS = 256  # 32 random bytes
MIN_DISTINCT = 16  # fewer different characters than this is not random
# Hex has only 16 digits: a random 64-digit key misses one of them about 1 time in 4.
MIN_DISTINCT_HEX = 10
DEMO_KEY_FILE = "secret-key"
_HEX = re.compile(r"[0-9a-fA-F]+")


def key_bits(value: str) -> int:
    """A generous estimate of the randomness in ``value`` (0 for the default key)."""
    is_hex = _HEX.fullmatch(value) is not None
    needed = MIN_DISTINCT_HEX if is_hex else MIN_DISTINCT
    if value == DEFAULT_SECRET_KEY or len(set(value)) < needed:
        return 0
    return len(value) * (4 if is_hex else 6)


def new_key() -> str:
    """32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def weak_key_message() -> str:
    return _(
        "ANTT_SECRET_KEY is not set or too weak: it must be at least 32 random bytes "
        "(64 hex digits or 43 base64 characters). Make one with `antt secret new` and keep it "
        "safe."
    )


def require_strong_key(settings: Settings) -> None:
    """A ``UserError`` (one line naming ANTT_SECRET_KEY) unless the key is strong."""
    if key_bits(settings.secret_key.get_secret_value()) < MIN_BITS:
        raise UserError(weak_key_message())


def demo_key(data_dir: Path) -> str:
    """The demo's own key: made once, kept in ``data_dir`` (readable by its owner only)."""
    path = data_dir / DEMO_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key
