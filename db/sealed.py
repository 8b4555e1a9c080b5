"""The sealed link from a tip to its reporter, and opaque references to a tip.

A tip row has no identity column. Who sent it lives only in ``tip_reporter.sealed``:
AES-256-GCM under a key derived (HKDF/SHA-256) from ``ANTT_SECRET_KEY``, with the
tip id as associated data so a sealed blob cannot be moved to another tip. It is
opened only to relay a message to the reporter, and deleted
``tip_reporter_retention_days`` after the tip closes.

Wherever a tip must be named next to the reporter's identity (a button in the
reporter's chat, the conversation state while they type, an outbox dedup key),
an encrypted or keyed reference is used instead of the tip id, so reading the
database without the key does not join a person to a tip.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
import struct
from dataclasses import asdict, dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.models import TipReporter

NONCE = 12
_LINK_INFO = b"antt/tip-reporter/v1"
_REF_INFO = b"antt/tip-ref/v1"
_CODE_INFO = b"antt/tip-code/v1"
_TAG_INFO = b"antt/tip-tag/v1"


@lru_cache(maxsize=32)
def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


def derived_key(settings: Settings, info: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from ``settings.secret_key``."""
    return _derive(settings.secret_key.get_secret_value(), info)


@dataclass(frozen=True)
class ReporterLink:
    """How to reach a tip's reporter; name and phone only when they chose to be identified."""

    identity_id: int
    channel: str
    chat_id: str
    name: str | None = None
    phone: str | None = None

    @property
    def identified(self) -> bool:
        return self.phone is not None


def seal(settings: Settings, tip_id: int, link: ReporterLink) -> bytes:
    nonce = os.urandom(NONCE)
    plain = json.dumps(asdict(link), separators=(",", ":")).encode()
    aad = str(tip_id).encode()
    return nonce + AESGCM(derived_key(settings, _LINK_INFO)).encrypt(nonce, plain, aad)


def unseal(settings: Settings, tip_id: int, blob: bytes) -> ReporterLink | None:
    """The link, or None when the blob does not open with this key for this tip."""
    try:
        plain = AESGCM(derived_key(settings, _LINK_INFO)).decrypt(
            blob[:NONCE], blob[NONCE:], str(tip_id).encode()
        )
    except (InvalidTag, ValueError):
        return None
    return ReporterLink(**json.loads(plain))


async def store_link(
    session: AsyncSession, settings: Settings, tip_id: int, link: ReporterLink
) -> None:
    session.add(TipReporter(tip_id=tip_id, sealed=seal(settings, tip_id, link)))


async def reporter_of(
    session: AsyncSession, settings: Settings, tip_id: int
) -> ReporterLink | None:
    """The reporter's link, or None once purged (or never stored)."""
    blob = await session.scalar(select(TipReporter.sealed).where(TipReporter.tip_id == tip_id))
    return None if blob is None else unseal(settings, tip_id, blob)


async def has_link(session: AsyncSession, tip_id: int) -> bool:
    found = await session.scalar(select(TipReporter.tip_id).where(TipReporter.tip_id == tip_id))
    return found is not None


async def schedule_purge(
    session: AsyncSession, settings: Settings, tip_id: int, closed_at: dt.datetime
) -> None:
    """Set when the link goes: ``tip_reporter_retention_days`` after the tip closed."""
    keep = dt.timedelta(days=settings.tip_reporter_retention_days)
    await session.execute(
        update(TipReporter).where(TipReporter.tip_id == tip_id).values(purge_after=closed_at + keep)
    )


async def purge_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Delete the links of tips closed long enough ago; the number deleted."""
    result = await session.execute(
        delete(TipReporter)
        .where(TipReporter.purge_after.is_not(None), TipReporter.purge_after <= now)
        .returning(TipReporter.tip_id)
    )
    return len(result.all())


# --- opaque references to a tip ---------------------------------------------


def seal_ref(settings: Settings, tip_id: int) -> str:
    """An encrypted, URL-safe reference to a tip (48 characters; fits a button id)."""
    nonce = os.urandom(NONCE)
    box = AESGCM(derived_key(settings, _REF_INFO)).encrypt(nonce, struct.pack(">q", tip_id), b"r")
    return base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")


def open_ref(settings: Settings, ref: str) -> int | None:
    """The tip id inside a reference, or None when it was not made with our key."""
    try:
        raw = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4))
        plain = AESGCM(derived_key(settings, _REF_INFO)).decrypt(raw[:NONCE], raw[NONCE:], b"r")
    except (InvalidTag, ValueError, binascii.Error):
        return None
    if len(plain) != 8:
        return None
    return int(struct.unpack(">q", plain)[0])


def keyed_tag(settings: Settings, *parts: object) -> str:
    """A keyed digest of ``parts`` (hex, 32 chars): stable, but says nothing without the key."""
    message = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(derived_key(settings, _TAG_INFO), message, hashlib.sha256).hexdigest()[:32]


def code_digest(settings: Settings, digits: str) -> str:
    """HMAC-SHA-256 of a tracking code's digits (what ``tip.code_hash`` stores)."""
    return hmac.new(derived_key(settings, _CODE_INFO), digits.encode(), hashlib.sha256).hexdigest()
