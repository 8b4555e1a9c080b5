"""Properties of the sealed reporter link, tip references and code digests (db.sealed).

Expected values come from the ``cryptography`` primitives used directly, or from
comparing two outputs of the code with each other; never from a value the code under
test computed and the test then trusts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import Settings
from db.sealed import (
    ReporterLink,
    code_digest,
    keyed_tag,
    open_ref,
    seal,
    seal_ref,
    unseal,
)

SECRET = "sealed-properties-secret"
SETTINGS = Settings(secret_key=SECRET)  # type: ignore[arg-type]
OTHER_KEY = Settings(secret_key="another-secret")  # type: ignore[arg-type]
LINK = ReporterLink(7, "telegram", "5550001", name="Nguyễn Bí Mật", phone="+84987654321")
CODE = "1234567890123456"


def hkdf(info: bytes, secret: str = SECRET) -> bytes:
    """The v1 key derivation, written out with the primitives (HKDF-SHA-256, no salt)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


# --- the sealed link -------------------------------------------------------------------


def test_a_sealed_link_is_aes_gcm_bound_to_its_tip_id() -> None:
    blob = seal(SETTINGS, 42, LINK)
    box = AESGCM(hkdf(b"antt/tip-reporter/v1"))
    plain = box.decrypt(blob[:12], blob[12:], b"42")
    assert json.loads(plain) == {
        "identity_id": 7,
        "channel": "telegram",
        "chat_id": "5550001",
        "name": "Nguyễn Bí Mật",
        "phone": "+84987654321",
    }
    # The tip id is the associated data: without it, or with another tip's, it does not open.
    for aad in (b"43", b"", None):
        with pytest.raises(InvalidTag):
            box.decrypt(blob[:12], blob[12:], aad)
    assert b"84987654321" not in blob and "Bí Mật".encode() not in blob


def test_a_blob_moved_to_another_tip_does_not_open() -> None:
    blob = seal(SETTINGS, 42, LINK)
    assert unseal(SETTINGS, 42, blob) == LINK
    assert unseal(SETTINGS, 43, blob) is None
    assert unseal(SETTINGS, 4, blob) is None


def test_wrong_key_or_damaged_blob_returns_none_instead_of_raising() -> None:
    blob = seal(SETTINGS, 42, LINK)
    assert unseal(OTHER_KEY, 42, blob) is None
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    assert unseal(SETTINGS, 42, flipped) is None
    assert unseal(SETTINGS, 42, b"short") is None  # a nonce too short: ValueError inside


def test_two_seals_of_the_same_link_differ_in_nonce_and_ciphertext() -> None:
    blobs = [seal(SETTINGS, 42, LINK) for _ in range(3)]
    assert len({b[:12] for b in blobs}) == 3
    assert len(set(blobs)) == 3
    assert all(
        len(b) == 12 + len(json.dumps(LINK.__dict__, separators=(",", ":")).encode()) + 16
        for b in blobs
    )  # nonce + ciphertext + tag, no key material or padding
    assert all(unseal(SETTINGS, 42, b) == LINK for b in blobs)


def test_identified_means_a_phone_was_given() -> None:
    assert ReporterLink(1, "zalo", "9", name="A", phone="+8491").identified is True
    assert ReporterLink(1, "zalo", "9", name="A").identified is False


# --- references in buttons -----------------------------------------------------------------


def _raw(ref: str) -> bytes:
    return base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4))


def test_a_reference_hides_the_tip_id_and_opens_only_with_our_key() -> None:
    ref = seal_ref(SETTINGS, 123456789)
    assert len(ref) == 48 and "=" not in ref
    raw = _raw(ref)
    plain = AESGCM(hkdf(b"antt/tip-ref/v1")).decrypt(raw[:12], raw[12:], b"r")
    assert plain == (123456789).to_bytes(8, "big")
    assert open_ref(SETTINGS, ref) == 123456789
    assert open_ref(OTHER_KEY, ref) is None
    assert seal_ref(SETTINGS, 5) != seal_ref(SETTINGS, 5)  # a fresh nonce each time


def test_every_reference_is_48_characters_and_opens() -> None:
    # Random nonces: about one reference in 64 ends in any given character, so among
    # 1000 every ending occurs (a trimmed or padded reference would not open).
    refs = [seal_ref(SETTINGS, n) for n in range(1000)]
    assert {len(r) for r in refs} == {48}
    assert [open_ref(SETTINGS, r) for r in refs] == list(range(1000))


@pytest.mark.parametrize("bad", ["", "abc", "!!!not-base64!!!", "A" * 48, "A" * 47])
def test_a_forged_or_mangled_reference_opens_to_none(bad: str) -> None:
    assert open_ref(SETTINGS, bad) is None


def test_a_reference_with_a_payload_of_another_length_is_refused() -> None:
    nonce = bytes(range(12))
    box = AESGCM(hkdf(b"antt/tip-ref/v1")).encrypt(nonce, b"\x00" * 7, b"r")
    ref = base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")
    assert open_ref(SETTINGS, ref) is None
    box = AESGCM(hkdf(b"antt/tip-ref/v1")).encrypt(nonce, (9).to_bytes(8, "big"), b"r")
    assert open_ref(SETTINGS, base64.urlsafe_b64encode(nonce + box).decode()) == 9


# --- keyed digests ---------------------------------------------------------------------------


def test_code_digest_is_hmac_sha256_of_all_sixteen_digits() -> None:
    expected = hmac.new(hkdf(b"antt/tip-code/v1"), CODE.encode(), hashlib.sha256).hexdigest()
    assert code_digest(SETTINGS, CODE) == expected
    assert code_digest(OTHER_KEY, CODE) != expected


@pytest.mark.parametrize("position", range(16))
def test_code_digest_depends_on_every_digit(position: int) -> None:
    changed = CODE[:position] + str((int(CODE[position]) + 1) % 10) + CODE[position + 1 :]
    assert code_digest(SETTINGS, changed) != code_digest(SETTINGS, CODE)


def test_keyed_tag_is_a_truncated_hmac_of_the_separated_parts() -> None:
    key = hkdf(b"antt/tip-tag/v1")
    expected = hmac.new(key, b"12\x1f3", hashlib.sha256).hexdigest()[:32]
    assert keyed_tag(SETTINGS, 12, 3) == expected
    assert keyed_tag(SETTINGS, 1, 23) != expected  # the separator keeps parts apart
    assert keyed_tag(OTHER_KEY, 12, 3) != expected
