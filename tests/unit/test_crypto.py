"""HKDF-SHA256 and AES-256-GCM of db.crypto, on libcrypto and on ``cryptography``.

Expected values are published test vectors (RFC 5869; the GCM specification's test
cases 13 to 16, by McGrew and Viega) and the ``cryptography`` package's own AESGCM and
HKDF, an implementation independent of the ctypes binding under test.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from db import crypto
from db.crypto import Cipher, InvalidTag, aes_gcm, hkdf_sha256

ROOT = Path(__file__).resolve().parents[2]
LIBCRYPTO = crypto._loaded_libcrypto()


def openssl() -> Callable[[bytes], Cipher]:
    assert LIBCRYPTO is not None, "this interpreter maps no libcrypto"
    make = crypto.openssl_cipher_maker(LIBCRYPTO)
    assert make is not None
    return make


MAKERS: dict[str, Callable[[], Callable[[bytes], Cipher]]] = {
    "openssl": openssl,
    "cryptography": lambda: crypto._CryptographyCipher,
}


@pytest.fixture(params=sorted(MAKERS))
def make(request: pytest.FixtureRequest) -> Callable[[bytes], Cipher]:
    return MAKERS[request.param]()


# --- HKDF ------------------------------------------------------------------------------


def test_hkdf_gives_rfc_5869_test_case_3() -> None:
    # SHA-256, IKM 22 × 0x0b, no salt, no info, 42 bytes (RFC 5869, appendix A.3).
    okm = hkdf_sha256(b"\x0b" * 22, b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


@pytest.mark.parametrize("length", [1, 31, 32, 33, 64, 65, 100])
def test_hkdf_agrees_with_cryptography(length: int) -> None:
    secret, info = b"a secret of some length", b"antt/tip-reporter/v1"
    expected = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info)
    assert hkdf_sha256(secret, info, length) == expected.derive(secret)


def test_hkdf_keys_differ_by_purpose_and_refuse_impossible_lengths() -> None:
    assert hkdf_sha256(b"s", b"a") != hkdf_sha256(b"s", b"b")
    longest = HKDF(algorithm=hashes.SHA256(), length=8160, salt=None, info=b"a").derive(b"s")
    assert hkdf_sha256(b"s", b"a", 8160) == longest  # 255 blocks of 32 bytes, RFC 5869's limit
    for length in (0, -1, 8161):
        with pytest.raises(ValueError, match="^HKDF-SHA256 gives 1 to 8160 bytes$"):
            hkdf_sha256(b"s", b"a", length)


# --- AES-256-GCM: published vectors ----------------------------------------------------

KEY_B = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2)
NONCE_B = bytes.fromhex("cafebabefacedbaddecaf888")
PLAIN_B = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
SEALED_B = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
)
AAD_B = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")

VECTORS = {
    # test case: (key, nonce, plaintext, aad, ciphertext followed by the tag)
    13: (bytes(32), bytes(12), b"", None, bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")),
    14: (
        bytes(32),
        bytes(12),
        bytes(16),
        None,
        bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
    ),
    15: (
        KEY_B,
        NONCE_B,
        PLAIN_B,
        None,
        SEALED_B + bytes.fromhex("b094dac5d93471bdec1a502270e3cc6c"),
    ),
    16: (
        KEY_B,
        NONCE_B,
        PLAIN_B[:60],
        AAD_B,
        SEALED_B[:60] + bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b"),
    ),
}


@pytest.mark.parametrize("case", sorted(VECTORS))
def test_gcm_specification_vectors(make: Callable[[bytes], Cipher], case: int) -> None:
    key, nonce, plain, aad, sealed = VECTORS[case]
    assert make(key).encrypt(nonce, plain, aad) == sealed
    assert make(key).decrypt(nonce, sealed, aad) == plain


def test_this_machine_uses_libcrypto_and_the_check_passes() -> None:
    assert LIBCRYPTO is not None and LIBCRYPTO.name.startswith("libcrypto.so")
    assert crypto.backend() == "openssl"
    assert crypto.passes_known_answer(openssl()(crypto._VECTOR_KEY))
    assert crypto.passes_known_answer(crypto._CryptographyCipher(crypto._VECTOR_KEY))


# --- AES-256-GCM: against cryptography's AESGCM ----------------------------------------


def test_agrees_with_cryptography_both_ways_on_random_messages() -> None:
    rng = random.Random(17)
    ours = openssl()
    keys = [rng.randbytes(32) for _ in range(3)]
    for _ in range(400):
        key, nonce = rng.choice(keys), rng.randbytes(12)
        plain = rng.randbytes(rng.choice([0, 1, 15, 16, 17, 40, 200]))
        aad = rng.choice([None, b"", b"t", rng.randbytes(33)])
        sealed = ours(key).encrypt(nonce, plain, aad)
        assert sealed == AESGCM(key).encrypt(nonce, plain, aad)
        assert AESGCM(key).decrypt(nonce, sealed, aad) == plain
        assert ours(key).decrypt(nonce, AESGCM(key).encrypt(nonce, plain, aad), aad) == plain


def test_every_flipped_bit_and_every_wrong_part_is_refused(make: Callable[[bytes], Cipher]) -> None:
    key, nonce, plain, aad = os.urandom(32), os.urandom(12), b"chat 5550001", b"42"
    cipher = make(key)
    sealed = cipher.encrypt(nonce, plain, aad)
    for bit in range(len(sealed) * 8):
        forged = bytearray(sealed)
        forged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidTag):
            cipher.decrypt(nonce, bytes(forged), aad)
    wrong = [
        (cipher, bytes(12), sealed, aad),  # another nonce
        (cipher, nonce, sealed, b"43"),  # another tip's associated data
        (cipher, nonce, sealed, None),  # none at all
        (cipher, nonce, sealed[:-1], aad),  # the tag cut short
        (cipher, nonce, sealed[-16:], aad),  # the message cut away
        (cipher, nonce, sealed[:15], aad),  # shorter than a tag
        (cipher, nonce, b"", aad),
        (make(os.urandom(32)), nonce, sealed, aad),  # another key
    ]
    for other, n, data, a in wrong:
        with pytest.raises(InvalidTag):
            other.decrypt(n, data, a)
    # Nothing above left the kept contexts in a state that changes the next message.
    assert cipher.decrypt(nonce, sealed, aad) == plain
    assert cipher.encrypt(nonce, plain, aad) == sealed


def test_bad_sizes_are_refused(make: Callable[[bytes], Cipher]) -> None:
    for size in (0, 16, 24, 31, 33):
        with pytest.raises(ValueError, match="^AES-256-GCM needs a 32-byte key$"):
            aes_gcm(bytes(size))
    cipher = make(bytes(32))
    for size in (8, 11, 13, 16):
        with pytest.raises(ValueError, match="^AES-GCM here takes a 12-byte nonce$"):
            cipher.encrypt(bytes(size), b"x", None)
        with pytest.raises(ValueError, match="^AES-GCM here takes a 12-byte nonce$"):
            cipher.decrypt(bytes(size), bytes(32), None)


def test_only_bytes_reach_libcrypto() -> None:
    cipher: Any = openssl()(bytes(32))  # called with what its signature refuses
    nonce = bytes(12)
    sealed = cipher.encrypt(nonce, b"x", b"a")
    args: tuple[object, ...]
    for args in [
        ("n" * 12, b"x", None),
        (nonce, "x", None),
        (nonce, b"x", "a"),
        (bytearray(nonce), b"x", None),
        (nonce, bytearray(b"x"), None),
        (nonce, b"x", bytearray(b"a")),
    ]:
        with pytest.raises(TypeError, match="^AES-GCM takes bytes$"):
            cipher.encrypt(*args)
    for args in [("n" * 12, sealed, b"a"), (nonce, sealed.hex(), b"a"), (nonce, sealed, "a")]:
        with pytest.raises(TypeError, match="^AES-GCM takes bytes$"):
            cipher.decrypt(*args)
    assert cipher.decrypt(nonce, sealed, b"a") == b"x"


def test_messages_up_to_the_cap_seal_and_longer_ones_are_refused(
    make: Callable[[bytes], Cipher],
) -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    cipher = make(key)
    longest = bytes(crypto.MAX_MESSAGE)
    sealed = cipher.encrypt(nonce, longest, b"p")
    assert len(sealed) == crypto.MAX_MESSAGE + 16
    assert sealed[-16:] == AESGCM(key).encrypt(nonce, longest, b"p")[-16:]
    assert cipher.decrypt(nonce, sealed, b"p") == longest
    del longest
    with pytest.raises(ValueError, match="^too long to seal$"):
        cipher.encrypt(nonce, bytes(crypto.MAX_MESSAGE + 1), b"p")
    with pytest.raises(ValueError, match="^too long to seal$"):
        cipher.decrypt(nonce, sealed + b"\0", b"p")


def test_a_refused_libcrypto_step_raises() -> None:
    crypto._ok(1)
    for result in (0, -1, 2):
        with pytest.raises(RuntimeError, match="^libcrypto refused an AES-GCM step$"):
            crypto._ok(result)


def test_each_thread_keeps_one_context_per_direction() -> None:
    cipher = openssl()(bytes(32))
    assert isinstance(cipher, crypto._OpenSSLCipher)
    mine = (cipher._context(True), cipher._context(False))
    assert mine[0] is not mine[1]
    assert (cipher._context(True), cipher._context(False)) == mine  # kept, not remade
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(cipher._context(True)))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine[0]


def test_threads_sharing_one_cipher_each_get_their_own_messages() -> None:
    key = os.urandom(32)
    cipher = openssl()(key)
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            nonce, plain = rng.randbytes(12), rng.randbytes(rng.randrange(1, 300))
            sealed = cipher.encrypt(nonce, plain, b"t")
            if sealed != AESGCM(key).encrypt(nonce, plain, b"t"):
                errors.append("encrypt")
            if cipher.decrypt(nonce, sealed, b"t") != plain:
                errors.append("decrypt")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- choosing the backend --------------------------------------------------------------


def test_libcrypto_is_found_in_a_maps_file_whatever_its_path() -> None:
    maps = (
        b"55d7-55d8 r--p 00000000 08:01 1311 /usr/bin/python3.11\n"
        b"7f10-7f20 rw-p 00000000 00:00 0 \n"
        b"7f20-7f30 r--p 00000000 00:00 0                          [heap]\n"
        b"7f30-7f40 r-xp 00001000 08:01 2422 /usr/lib/libssl.so.3\n"
        b"7f40-7f50 r--p 00000000 08:01 2423   /opt/my libs/libcrypto.so.3\n"
        b"7f50-7f60 r-xp 00001000 08:01 2423   /opt/my libs/libcrypto.so.3\n"
    )
    assert crypto.libcrypto_in(maps) == Path("/opt/my libs/libcrypto.so.3")
    assert crypto.libcrypto_in(maps.replace(b"libcrypto", b"libcryptsetup")) is None
    assert crypto.libcrypto_in(b"") is None


def test_a_library_without_aes_gcm_or_a_missing_file_is_not_used(tmp_path: Path) -> None:
    assert crypto.openssl_cipher_maker(tmp_path / "libcrypto.so.99") is None
    libc = Path(
        next(
            line.split(maxsplit=5)[5]
            for line in Path("/proc/self/maps").read_text().splitlines()
            if "/libc.so" in line
        )
    )
    assert crypto.openssl_cipher_maker(libc) is None


def test_a_cipher_that_gets_the_vector_wrong_or_takes_a_forged_tag_fails_the_check() -> None:
    good = crypto._CryptographyCipher(crypto._VECTOR_KEY)

    class Wrong:
        def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return good.encrypt(nonce, data, b"")

        def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return good.decrypt(nonce, data, aad)

    class Trusting:
        def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return good.encrypt(nonce, data, aad)

        def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            try:
                return good.decrypt(nonce, data, aad)
            except InvalidTag:
                return b""  # a forged message taken

    class Garbling:  # seals right, opens wrong
        def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return good.encrypt(nonce, data, aad)

        def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return good.decrypt(nonce, data, aad)[::-1]

    assert crypto.passes_known_answer(Wrong()) is False
    assert crypto.passes_known_answer(Trusting()) is False
    assert crypto.passes_known_answer(Garbling()) is False
    assert crypto.passes_known_answer(good) is True


def test_without_libcrypto_the_cryptography_package_seals_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An interpreter that links OpenSSL statically maps no libcrypto; that one cannot
    # run here, so the lookup is made to find nothing.
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = openssl()(key).encrypt(nonce, b"tip", b"1")
    monkeypatch.setattr(crypto, "_loaded_libcrypto", lambda: None)
    crypto._backend.cache_clear()
    try:
        assert crypto.backend() == "cryptography"
        assert aes_gcm(key).decrypt(nonce, sealed, b"1") == b"tip"
        assert aes_gcm(key).encrypt(nonce, b"tip", b"1") == sealed
    finally:
        crypto._backend.cache_clear()


def test_ptb_loads_without_cryptography_and_leaves_it_importable() -> None:
    probe = (
        "import sys\n"
        "import bot.channels.telegram.app\n"
        "import telegram._bot\n"
        "assert 'cryptography' not in sys.modules, 'PTB loaded cryptography'\n"
        "assert telegram._bot.CRYPTO_INSTALLED is False\n"
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
