"""Properties of the sealed reporter link, tip references and code digests (db.sealed).

Expected values come from the ``cryptography`` primitives used directly, or from
comparing two outputs of the code with each other; never from a value the code under
test computed and the test then trusts.
"""

from __future__ import annotations

import base64
import datetime as dt
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
    code_digests,
    invite_digests,
    keyed_tag,
    open_ref,
    open_time,
    payload_messages,
    seal,
    seal_payload,
    seal_ref,
    seal_time,
    unseal,
)

SECRET = "sealed-properties-secret"
SETTINGS = Settings(secret_key=SECRET)  # type: ignore[arg-type]
OTHER_KEY = Settings(secret_key="another-secret")  # type: ignore[arg-type]
OLD = "the-key-before-rotation"
# A rotation under way: SECRET is current, OLD still opens what was sealed under it.
ROTATED = Settings(secret_key=SECRET, secret_key_previous=OLD)  # type: ignore[arg-type]
OLD_ONLY = Settings(secret_key=OLD)  # type: ignore[arg-type]
EMPTY_PREVIOUS = Settings(secret_key=SECRET, secret_key_previous="")  # type: ignore[arg-type]
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


# "Mã số 12" and "é" * 48: not ASCII, so the decoder raises a plain ValueError.
@pytest.mark.parametrize(
    "bad", ["", "abc", "!!!not-base64!!!", "A" * 48, "A" * 47, "é" * 48, "Mã số 12"]
)
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


def _hmac(info: bytes, text: str, secret: str = SECRET) -> str:
    return hmac.new(hkdf(info, secret), text.encode(), hashlib.sha256).hexdigest()


def test_code_digests_are_the_current_key_first_then_the_previous() -> None:
    current = _hmac(b"antt/tip-code/v1", CODE)
    previous = _hmac(b"antt/tip-code/v1", CODE, OLD)
    assert code_digests(SETTINGS, CODE) == [current]
    assert code_digests(ROTATED, CODE) == [current, previous]
    # An empty previous key is no key: not HMAC under a key derived from "".
    assert code_digests(EMPTY_PREVIOUS, CODE) == [current]
    assert code_digests(ROTATED, CODE[:15] + "7") != [current, previous]


@pytest.mark.parametrize("position", range(16))
def test_code_digests_depend_on_every_digit(position: int) -> None:
    changed = CODE[:position] + str((int(CODE[position]) + 1) % 10) + CODE[position + 1 :]
    assert set(code_digests(ROTATED, changed)).isdisjoint(code_digests(ROTATED, CODE))


def test_invite_digests_are_hmac_of_the_code_under_each_key() -> None:
    invite = "MOI-4821-XYZ"
    current = _hmac(b"antt/invite-code/v1", invite)
    assert invite_digests(SETTINGS, invite) == [current]
    assert invite_digests(ROTATED, invite) == [current, _hmac(b"antt/invite-code/v1", invite, OLD)]
    assert invite_digests(EMPTY_PREVIOUS, invite) == [current]
    assert current != _hmac(b"antt/tip-code/v1", invite)  # a key of its own


# --- key rotation: what was sealed under the previous key still opens --------------------


def test_a_link_sealed_under_the_previous_key_opens_during_a_rotation() -> None:
    old_blob = seal(OLD_ONLY, 42, LINK)
    assert unseal(SETTINGS, 42, old_blob) is None
    assert unseal(ROTATED, 42, old_blob) == LINK
    assert unseal(ROTATED, 43, old_blob) is None  # still bound to its tip
    # New blobs are sealed under the current key only.
    new_blob = seal(ROTATED, 42, LINK)
    assert unseal(SETTINGS, 42, new_blob) == LINK
    assert unseal(OLD_ONLY, 42, new_blob) is None
    # A blob under neither key, or cut short, is None under a rotation too.
    assert unseal(ROTATED, 42, seal(OTHER_KEY, 42, LINK)) is None
    assert unseal(ROTATED, 42, b"short") is None


def test_a_reference_made_under_the_previous_key_opens_during_a_rotation() -> None:
    ref = seal_ref(OLD_ONLY, 77)
    assert open_ref(SETTINGS, ref) is None
    assert open_ref(ROTATED, ref) == 77


# --- sealed times ------------------------------------------------------------------------------

# 30/11/2026 06:55:01.25 UTC: 1 796 021 701.25 s after the epoch (20 787 days to 30/11/2026
# = 1 795 996 800 s, plus 6 h 55 min 1 s = 24 901 s); .25 is exact in binary.
WHEN = dt.datetime(2026, 11, 30, 6, 55, 1, 250000, tzinfo=dt.UTC)
WHEN_MICROS = 1_796_021_701_250_000


def test_a_sealed_time_is_aes_gcm_of_its_microseconds() -> None:
    blob = seal_time(SETTINGS, WHEN)
    assert len(blob) == 12 + 8 + 16
    plain = AESGCM(hkdf(b"antt/time/v1")).decrypt(blob[:12], blob[12:], b"t")
    assert plain == WHEN_MICROS.to_bytes(8, "big")
    assert seal_time(SETTINGS, WHEN)[:12] != blob[:12]  # a fresh nonce each time


def test_a_sealed_time_opens_to_the_same_instant_in_utc() -> None:
    hcm = dt.timezone(dt.timedelta(hours=7))
    local = dt.datetime(2026, 11, 30, 13, 55, 1, 250000, tzinfo=hcm)  # = WHEN
    opened = open_time(SETTINGS, seal_time(SETTINGS, local))
    assert opened == WHEN and opened is not None
    assert opened.utcoffset() == dt.timedelta(0)
    assert (opened.hour, opened.microsecond) == (6, 250000)


def test_a_time_opens_only_with_our_key_and_of_eight_bytes() -> None:
    assert open_time(SETTINGS, None) is None
    assert open_time(SETTINGS, b"") is None
    assert open_time(OTHER_KEY, seal_time(SETTINGS, WHEN)) is None
    assert open_time(ROTATED, seal_time(OLD_ONLY, WHEN)) == WHEN
    nonce = bytes(range(12))
    box = AESGCM(hkdf(b"antt/time/v1"))
    assert open_time(SETTINGS, nonce + box.encrypt(nonce, b"\x00" * 7, b"t")) is None
    assert open_time(SETTINGS, nonce + box.encrypt(nonce, b"\x00" * 9, b"t")) is None
    assert open_time(SETTINGS, nonce + box.encrypt(nonce, (0).to_bytes(8, "big"), b"p")) is None
    epoch = open_time(SETTINGS, nonce + box.encrypt(nonce, (0).to_bytes(8, "big"), b"t"))
    assert epoch == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    second = open_time(SETTINGS, nonce + box.encrypt(nonce, (1_500_000).to_bytes(8, "big"), b"t"))
    assert second == dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC)


# --- sealed outbox payloads ----------------------------------------------------------------------

MESSAGES = [{"text": "Tin báo của bạn đã được tiếp nhận.", "buttons": []}, {"text": "2"}]
PAYLOAD = {"chat_id": "5550001", "kind": "tip-reply", "messages": MESSAGES}


def test_a_sealed_payload_keeps_the_rest_and_hides_the_messages() -> None:
    sealed = seal_payload(SETTINGS, PAYLOAD)
    assert set(sealed) == {"chat_id", "kind", "sealed"}
    assert (sealed["chat_id"], sealed["kind"]) == ("5550001", "tip-reply")
    assert PAYLOAD["messages"] == MESSAGES  # the caller's payload is not changed
    raw = base64.b64decode(sealed["sealed"], validate=True)
    plain = AESGCM(hkdf(b"antt/outbox-payload/v1")).decrypt(raw[:12], raw[12:], b"p")
    assert json.loads(plain) == MESSAGES
    assert plain == json.dumps(MESSAGES, separators=(",", ":")).encode()
    assert "tiếp nhận" not in json.dumps(sealed) and "tip-reply" in json.dumps(sealed)
    assert seal_payload(SETTINGS, PAYLOAD)["sealed"][:16] != sealed["sealed"][:16]


def test_payload_messages_of_a_sealed_or_plain_payload() -> None:
    assert payload_messages(SETTINGS, seal_payload(SETTINGS, PAYLOAD)) == MESSAGES
    assert payload_messages(SETTINGS, PAYLOAD) == MESSAGES  # written before sealing
    assert payload_messages(SETTINGS, {"chat_id": "1"}) == []
    assert payload_messages(OTHER_KEY, seal_payload(SETTINGS, PAYLOAD)) == []
    assert payload_messages(ROTATED, seal_payload(OLD_ONLY, PAYLOAD)) == MESSAGES
    # Sealed by hand with the primitives: the messages come back.
    nonce = bytes(range(12))
    box = AESGCM(hkdf(b"antt/outbox-payload/v1")).encrypt(nonce, b'[{"text":"x"}]', b"p")
    by_hand = {"sealed": base64.b64encode(nonce + box).decode()}
    assert payload_messages(SETTINGS, by_hand) == [{"text": "x"}]
