"""The two primitives sealing uses: HKDF-SHA256 and AES-256-GCM.

HKDF (RFC 5869) is a few lines of ``hmac``. AES-256-GCM comes from the OpenSSL
libcrypto that Python's ``ssl`` module has already mapped into the process, through
its EVP interface and ``ctypes``: the ``cryptography`` package does the same through
its own copy of OpenSSL, and costs every bot process 8.5 MB of memory for it
(issue 17). The layout is ``cryptography``'s ``AESGCM``: a 12-byte nonce given
apart, the ciphertext followed by the 16-byte tag, so what one sealed the other
opens (``tests/unit/test_crypto.py`` checks both ways).

Before its first use the libcrypto cipher must reproduce a published test vector
and refuse a forged tag; when libcrypto cannot be found (an interpreter that links
OpenSSL statically) or that check fails, ``cryptography`` is used instead, and
``backend()`` says which one is in use.
"""

from __future__ import annotations

import _ssl  # noqa: F401  (maps the libcrypto the interpreter links, if dynamically)
import ctypes
import functools
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

KEY = 32
NONCE = 12
TAG = 16
# Sealed here: links, references, times, messages waiting for a reporter (kilobytes).
# The cap keeps every length far inside the C int libcrypto takes.
MAX_MESSAGE = 16 * 1024 * 1024

# EVP_CIPHER_CTX_ctrl codes (openssl/evp.h; the same in 1.1 and 3).
_SET_IVLEN = 0x9
_GET_TAG = 0x10
_SET_TAG = 0x11


class InvalidTag(Exception):
    """The ciphertext, its nonce or its associated data is not what was sealed."""


class Cipher(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def hkdf_sha256(secret: bytes, info: bytes, length: int = KEY) -> bytes:
    """HKDF-SHA256 without salt (RFC 5869: the salt is then 32 zero bytes)."""
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 gives 1 to 8160 bytes")
    prk = hmac.digest(bytes(32), secret, hashlib.sha256)
    out = block = b""
    counter = 0
    while len(out) < length:
        counter += 1
        block = hmac.digest(prk, block + info + bytes([counter]), hashlib.sha256)
        out += block
    return out[:length]


def aes_gcm(key: bytes) -> Cipher:
    """The AES-256-GCM cipher of ``key`` (32 bytes), from the backend in use."""
    if len(key) != KEY:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    return _backend()[1](key)


def backend() -> str:
    """``"openssl"`` (libcrypto through ctypes) or ``"cryptography"``."""
    return _backend()[0]


def _check(nonce: bytes, length: int) -> None:
    """A 12-byte nonce, and a message (without its tag) of at most MAX_MESSAGE bytes."""
    if len(nonce) != NONCE:
        raise ValueError("AES-GCM here takes a 12-byte nonce")
    if length > MAX_MESSAGE:
        raise ValueError("too long to seal")


class _LibCrypto:
    """The EVP functions AES-256-GCM needs.

    Without ``argtypes``: ctypes' conversion of each argument doubled a call's cost
    (0.64 against 0.30 µs). Every argument is therefore passed as its C type already:
    ``c_void_p`` for the context and the cipher, ``bytes`` or a ``c_char`` array for
    a buffer, ``byref`` for an ``int *``, a Python int for an ``int``, None for NULL.
    """

    def __init__(self, lib: ctypes.CDLL) -> None:
        def bind(name: str, restype: type | None) -> Callable[..., int]:
            function = getattr(lib, name)
            function.restype = restype
            return function  # type: ignore[no-any-return]

        self.ctx_new = bind("EVP_CIPHER_CTX_new", ctypes.c_void_p)
        self.ctx_free = bind("EVP_CIPHER_CTX_free", None)
        self.ctrl = bind("EVP_CIPHER_CTX_ctrl", ctypes.c_int)
        self.encrypt_init = bind("EVP_EncryptInit_ex", ctypes.c_int)
        self.encrypt_update = bind("EVP_EncryptUpdate", ctypes.c_int)
        self.encrypt_final = bind("EVP_EncryptFinal_ex", ctypes.c_int)
        self.decrypt_init = bind("EVP_DecryptInit_ex", ctypes.c_int)
        self.decrypt_update = bind("EVP_DecryptUpdate", ctypes.c_int)
        self.decrypt_final = bind("EVP_DecryptFinal_ex", ctypes.c_int)
        self.aes_256_gcm = ctypes.c_void_p(bind("EVP_aes_256_gcm", ctypes.c_void_p)())


def _ok(result: int) -> None:
    if result != 1:
        raise RuntimeError("libcrypto refused an AES-GCM step")


class _Context:
    """One EVP context of one key and one direction, kept: the key schedule runs once,
    and each message only sets its nonce (which restarts GCM's state)."""

    def __init__(self, lib: _LibCrypto, key: bytes, encrypting: bool) -> None:
        self.lib = lib
        self.ctx = ctypes.c_void_p(lib.ctx_new())
        if not self.ctx.value:
            raise MemoryError
        self.init = lib.encrypt_init if encrypting else lib.decrypt_init
        self.update = lib.encrypt_update if encrypting else lib.decrypt_update
        self.final = lib.encrypt_final if encrypting else lib.decrypt_final
        self.written = ctypes.c_int()
        self.written_ref = ctypes.byref(self.written)
        self.tag = ctypes.create_string_buffer(TAG)
        _ok(self.init(self.ctx, lib.aes_256_gcm, None, None, None))
        _ok(lib.ctrl(self.ctx, _SET_IVLEN, NONCE, None))
        _ok(self.init(self.ctx, None, None, key, None))

    def run(self, nonce: bytes, aad: bytes | None, data: bytes) -> bytes:
        """``data`` through the cipher after the nonce and the associated data. (GCM
        writes exactly as many bytes as it reads: the known-answer check would catch
        a library that did otherwise.)"""
        ctx, update, written = self.ctx, self.update, self.written_ref
        _ok(self.init(ctx, None, None, None, nonce))
        if aad:
            _ok(update(ctx, None, written, aad, len(aad)))
        out = ctypes.create_string_buffer(len(data))
        _ok(update(ctx, out, written, data, len(data)))
        return out.raw

    def __del__(self) -> None:  # frees the context, which wipes the key schedule
        if self.ctx.value:
            self.lib.ctx_free(self.ctx)
            self.ctx = ctypes.c_void_p()


def _bytes(nonce: object, data: object, aad: object) -> None:
    """Only ``bytes`` reach libcrypto (ctypes would pass a str as wide characters)."""
    if type(nonce) is not bytes or type(data) is not bytes:
        raise TypeError("AES-GCM takes bytes")
    if aad is not None and type(aad) is not bytes:
        raise TypeError("AES-GCM takes bytes")


class _OpenSSLCipher:
    """AES-256-GCM on libcrypto, with one context per direction and thread."""

    def __init__(self, lib: _LibCrypto, key: bytes) -> None:
        self._lib = lib
        self._key = bytes(key)
        self._local = threading.local()

    def _context(self, encrypting: bool) -> _Context:
        name = "encrypting" if encrypting else "decrypting"
        context: _Context | None = getattr(self._local, name, None)
        if context is None:
            context = _Context(self._lib, self._key, encrypting)
            setattr(self._local, name, context)
        return context

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _bytes(nonce, data, associated_data)
        _check(nonce, len(data))
        c = self._context(True)
        sealed = c.run(nonce, associated_data, data)
        _ok(c.final(c.ctx, c.tag, c.written_ref))
        _ok(self._lib.ctrl(c.ctx, _GET_TAG, TAG, c.tag))
        return sealed + c.tag.raw

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _bytes(nonce, data, associated_data)
        _check(nonce, len(data) - TAG)
        if len(data) < TAG:
            raise InvalidTag
        c = self._context(False)
        plain = c.run(nonce, associated_data, data[:-TAG])
        _ok(self._lib.ctrl(c.ctx, _SET_TAG, TAG, data[-TAG:]))
        # The tag is checked here; nothing decrypted leaves before it passes.
        if c.final(c.ctx, c.tag, c.written_ref) != 1:
            raise InvalidTag
        return plain


class _CryptographyCipher:
    """AES-256-GCM from the ``cryptography`` package, raising this module's InvalidTag."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _check(nonce, len(data))
        return self._aead.encrypt(nonce, data, associated_data)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        from cryptography.exceptions import InvalidTag as Forged

        _check(nonce, len(data) - TAG)
        try:
            return self._aead.decrypt(nonce, data, associated_data)
        except Forged:
            raise InvalidTag from None


def _loaded_libcrypto() -> Path | None:
    """The libcrypto file ``_ssl`` mapped into this process, read from /proc/self/maps."""
    maps = Path("/proc/self/maps")
    return libcrypto_in(maps.read_bytes()) if maps.exists() else None  # else: not Linux


def libcrypto_in(maps: bytes) -> Path | None:
    """The first libcrypto file in the text of a /proc/PID/maps file."""
    for line in maps.splitlines():
        _start, _mode, _offset, _device, _inode, *path = line.split(maxsplit=5)
        if path and os.path.basename(path[0]).startswith(b"libcrypto.so"):
            return Path(os.fsdecode(path[0]))
    return None


# GCM's specification (McGrew and Viega), test case 16: AES-256, 96-bit IV, with AAD.
_VECTOR_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2)
_VECTOR_NONCE = bytes.fromhex("cafebabefacedbaddecaf888")
_VECTOR_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
_VECTOR_PLAIN = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
_VECTOR_SEALED = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    "76fc6ece0f4e1768cddf8853bb2d551b"
)


def passes_known_answer(cipher: Cipher) -> bool:
    """The published vector seals and opens, and a forged tag is refused."""
    if cipher.encrypt(_VECTOR_NONCE, _VECTOR_PLAIN, _VECTOR_AAD) != _VECTOR_SEALED:
        return False
    if cipher.decrypt(_VECTOR_NONCE, _VECTOR_SEALED, _VECTOR_AAD) != _VECTOR_PLAIN:
        return False
    forged = bytes([_VECTOR_SEALED[0] ^ 1]) + _VECTOR_SEALED[1:]
    try:
        cipher.decrypt(_VECTOR_NONCE, forged, _VECTOR_AAD)
    except InvalidTag:
        return True
    return False


def openssl_cipher_maker(path: Path) -> Callable[[bytes], Cipher] | None:
    """A maker of libcrypto ciphers from the library at ``path``, if it passes the check."""
    try:
        # PyDLL: each call keeps the GIL (a CDLL call drops and retakes it, which costs
        # more than the call itself on a message of a few dozen bytes).
        lib = _LibCrypto(ctypes.PyDLL(str(path)))
        make: Callable[[bytes], Cipher] = functools.partial(_OpenSSLCipher, lib)
        if passes_known_answer(make(_VECTOR_KEY)):
            return make
    except Exception as error:  # a missing file or symbol, a refused step: not usable
        log.warning("libcrypto at %s is not usable for AES-GCM: %r", path, error)
        return None
    log.warning("libcrypto at %s failed the AES-GCM known-answer check", path)
    return None


@functools.cache
def _backend() -> tuple[str, Callable[[bytes], Cipher]]:
    path = _loaded_libcrypto()
    make = openssl_cipher_maker(path) if path is not None else None
    if make is not None:
        return "openssl", make
    log.info("AES-GCM from the cryptography package (no usable libcrypto mapped)")
    return "cryptography", _CryptographyCipher
