"""The sealed link from a tip to its reporter, and opaque references to a tip.

A tip row has no identity column. Who sent it lives only in ``tip_reporter.sealed``:
AES-256-GCM under a key derived (HKDF/SHA-256) from ``ANTT_SECRET_KEY``, with the
tip id as associated data so a sealed blob cannot be moved to another tip. It is
opened only to relay a message to the reporter, and deleted
``tip_reporter_retention_days`` after the tip closes.

Wherever a tip must be named next to the reporter's identity (a button in the
reporter's chat, the conversation state while they type, an outbox dedup key),
an encrypted or keyed reference is used instead of the tip id, so reading the
database without the key does not join a person to a tip. The same goes for
times: rows about a person carry only the day (``coarse``); a precise time a
person's row needs (the idle check of a conversation) is sealed (``seal_time``),
and messages queued for a reporter are sealed (``seal_payload``).

Key rotation: everything is sealed under ``ANTT_SECRET_KEY``; what does not open
with it is tried with ``ANTT_SECRET_KEY_PREVIOUS`` (when set), so old tracking
codes, buttons and links keep working while ``antt secret rotate`` re-seals the
stored ones under the new key.
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
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.crypto import Cipher, InvalidTag, aes_gcm, hkdf_sha256
from db.models import TipReporter

NONCE = 12
_LINK_INFO = b"antt/tip-reporter/v1"
_REF_INFO = b"antt/tip-ref/v1"
_CODE_INFO = b"antt/tip-code/v1"
_TAG_INFO = b"antt/tip-tag/v1"
_INVITE_INFO = b"antt/invite-code/v1"
_TIME_INFO = b"antt/time/v1"
_PAYLOAD_INFO = b"antt/outbox-payload/v1"


@lru_cache(maxsize=32)
def _derive(secret: str, info: bytes) -> bytes:
    return hkdf_sha256(secret.encode(), info)


@lru_cache(maxsize=32)
def _aead(key: bytes) -> Cipher:
    """The cipher of one derived key, made once (its key schedule is kept)."""
    return aes_gcm(key)


def derived_key(settings: Settings, info: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from ``settings.secret_key``."""
    return _derive(settings.secret_key.get_secret_value(), info)


def _keys(settings: Settings, info: bytes) -> list[bytes]:
    """The current key for ``info``, then the previous one while a rotation is under way."""
    keys = [derived_key(settings, info)]
    previous = settings.secret_key_previous
    if previous is not None and previous.get_secret_value():
        keys.append(_derive(previous.get_secret_value(), info))
    return keys


def coarse(when: dt.datetime) -> dt.datetime:
    """The UTC day of ``when``: all a row about a person says of when they were active."""
    return when.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


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
    return nonce + _aead(derived_key(settings, _LINK_INFO)).encrypt(nonce, plain, aad)


def _open(keys: list[bytes], blob: bytes, aad: bytes) -> bytes | None:
    for key in keys:
        try:
            return _aead(key).decrypt(blob[:NONCE], blob[NONCE:], aad)
        except (InvalidTag, ValueError):
            continue
    return None


def unseal(settings: Settings, tip_id: int, blob: bytes) -> ReporterLink | None:
    """The link, or None when the blob does not open with this key (or the previous
    one) for this tip."""
    plain = _open(_keys(settings, _LINK_INFO), blob, str(tip_id).encode())
    return None if plain is None else ReporterLink(**json.loads(plain))


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
    box = _aead(derived_key(settings, _REF_INFO)).encrypt(nonce, struct.pack(">q", tip_id), b"r")
    return base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")


def open_ref(settings: Settings, ref: str) -> int | None:
    """The tip id inside a reference, or None when it was not made with our key."""
    try:
        raw = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4))
    except (ValueError, binascii.Error):
        return None
    plain = _open(_keys(settings, _REF_INFO), raw, b"r")
    if plain is None or len(plain) != 8:
        return None
    return int(struct.unpack(">q", plain)[0])


def keyed_tag(settings: Settings, *parts: object) -> str:
    """A keyed digest of ``parts`` (hex, 32 chars): stable, but says nothing without the key."""
    message = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(derived_key(settings, _TAG_INFO), message, hashlib.sha256).hexdigest()[:32]


def code_digest(settings: Settings, digits: str) -> str:
    """HMAC-SHA-256 of a tracking code's digits (what ``tip.code_hash`` stores)."""
    return hmac.new(derived_key(settings, _CODE_INFO), digits.encode(), hashlib.sha256).hexdigest()


def code_digests(settings: Settings, digits: str) -> list[str]:
    """The digest of a code under the current key, then under the previous one."""
    return [
        hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()
        for key in _keys(settings, _CODE_INFO)
    ]


def invite_digests(settings: Settings, code: str) -> list[str]:
    """Keyed digests of an invite code (what ``invite.code_hash`` stores): current key first."""
    return [
        hmac.new(key, code.encode(), hashlib.sha256).hexdigest()
        for key in _keys(settings, _INVITE_INFO)
    ]


# --- sealed times and payloads ----------------------------------------------------


def seal_time(settings: Settings, when: dt.datetime) -> bytes:
    """A precise time only the key holder can read (20 + 8 bytes)."""
    nonce = os.urandom(NONCE)
    stamp = struct.pack(">q", int(when.timestamp() * 1_000_000))
    return nonce + _aead(derived_key(settings, _TIME_INFO)).encrypt(nonce, stamp, b"t")


def open_time(settings: Settings, blob: bytes | None) -> dt.datetime | None:
    """The time inside ``seal_time``'s blob, or None (no blob, or another key)."""
    if not blob:
        return None
    plain = _open(_keys(settings, _TIME_INFO), blob, b"t")
    if plain is None or len(plain) != 8:
        return None
    micros = struct.unpack(">q", plain)[0]
    return dt.datetime.fromtimestamp(micros / 1_000_000, dt.UTC)


def seal_payload(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    """An outbox payload whose messages only the key holder can read."""
    nonce = os.urandom(NONCE)
    plain = json.dumps(payload["messages"], separators=(",", ":")).encode()
    box = _aead(derived_key(settings, _PAYLOAD_INFO)).encrypt(nonce, plain, b"p")
    sealed = {k: v for k, v in payload.items() if k != "messages"}
    sealed["sealed"] = base64.b64encode(nonce + box).decode()
    return sealed


def payload_messages(settings: Settings, payload: dict[str, Any]) -> list[Any]:
    """The messages of an outbox payload, sealed or not ([] when it does not open)."""
    if "sealed" not in payload:
        return list(payload.get("messages", []))
    plain = _open(_keys(settings, _PAYLOAD_INFO), base64.b64decode(payload["sealed"]), b"p")
    return [] if plain is None else list(json.loads(plain))
