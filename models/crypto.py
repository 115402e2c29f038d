"""Personal data at rest (PIPL): authenticated encryption and keyed lookup hashes, with rotating keys.

A sealed value reads ``sg1:<key id>:<base64url(nonce || AES-256-GCM ciphertext and tag)>``. The key id
names the master key it was sealed under, so old keys keep opening old rows while a rotation
re-seals them under the current key. The associated data binds a value to its column
(``decision.id_number``): a ciphertext copied into another column does not open.

Each master key yields two independent keys (HKDF-SHA256): one for AES-GCM, one for the
HMAC-SHA256 lookup hash, so exact lookups never need to decrypt and never reuse the cipher key.

The keyring is configured once at start from the settings (``configure``); everything else calls
``seal``, ``open_sealed`` and ``lookup_hash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tortoise import fields

PREFIX = "sg1:"
KEY_BYTES = 32
NONCE_BYTES = 12
KID_CHARS = 8
# Room for the longest plaintext stored sealed (a 20-character phone) with prefix, key id, nonce and tag.
SEALED_MAX_LENGTH = 160


class SealBroken(Exception):
    """A sealed value cannot be opened: unknown key id, or it was altered (or moved to another column)."""


class NotConfigured(RuntimeError):
    """The data keyring was not configured before personal data was read or written."""


@dataclass(frozen=True)
class DataKey:
    kid: str
    cipher: AESGCM = field(repr=False)
    mac_key: bytes = field(repr=False)

    @classmethod
    def from_master(cls, master: bytes) -> DataKey:
        if len(master) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, got {len(master)}")
        kid = hashlib.sha256(b"shenguan/kid/" + master).hexdigest()[:KID_CHARS]
        return cls(
            kid=kid, cipher=AESGCM(_derive(master, b"shenguan/seal/v1")), mac_key=_derive(master, b"shenguan/lookup/v1")
        )


@dataclass(frozen=True)
class Keyring:
    """The current key (seals new values) and older keys (still open and match what they sealed)."""

    current: DataKey
    old: tuple[DataKey, ...] = ()

    @classmethod
    def from_masters(cls, masters: list[bytes] | tuple[bytes, ...]) -> Keyring:
        if not masters:
            raise ValueError("a keyring needs at least one key")
        keys = [DataKey.from_master(m) for m in masters]
        return cls(current=keys[0], old=tuple(k for k in keys[1:] if k.kid != keys[0].kid))

    @property
    def all(self) -> tuple[DataKey, ...]:
        return (self.current, *self.old)

    def by_kid(self, kid: str) -> DataKey | None:
        return next((k for k in self.all if k.kid == kid), None)


_ring: Keyring | None = None


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


def configure(masters: list[bytes] | tuple[bytes, ...]) -> Keyring:
    """Install the keyring (current key first); called once at start from the settings."""
    global _ring
    _ring = Keyring.from_masters(masters)
    return _ring


def configure_from_settings(data_keys: tuple[bytes, ...]) -> None:
    """Start-up: the settings' keyring, if they carry one (tests and tools may configure their own)."""
    if data_keys:
        configure(data_keys)


def keyring() -> Keyring:
    if _ring is None:
        raise NotConfigured("数据加密密钥未配置（SHENGUAN_DATA_KEY 或 var/ 下的密钥文件）")
    return _ring


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def key_id_of(token: str) -> str | None:
    """The key id a sealed value was sealed under (None for a plain value)."""
    if not is_sealed(token):
        return None
    return token[len(PREFIX) : len(PREFIX) + KID_CHARS]


def seal(value: str, *, context: str = "") -> str:
    """Encrypt under the current key; `context` (the column) is authenticated, not stored."""
    key = keyring().current
    nonce = os.urandom(NONCE_BYTES)
    body = key.cipher.encrypt(nonce, value.encode(), context.encode())
    return f"{PREFIX}{key.kid}:{base64.urlsafe_b64encode(nonce + body).decode().rstrip('=')}"


def open_sealed(token: str, *, context: str = "") -> str:
    """The plaintext of a sealed value; SealBroken if its key is unknown or it was altered."""
    if not is_sealed(token):
        raise SealBroken("不是加密值")
    kid, sep, blob = token[len(PREFIX) :].partition(":")
    key = keyring().by_kid(kid)
    if key is None or not sep:
        raise SealBroken(f"未知的数据密钥 {kid}")
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        return key.cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError):
        raise SealBroken("加密值已被篡改或不属于该字段") from None


def lookup_hash(value: str) -> str:
    """HMAC-SHA256 under the current key's lookup key, for exact matches without decrypting."""
    return _mac(keyring().current, value)


def lookup_hashes(value: str) -> list[str]:
    """The value's lookup hash under every key in the ring: rows not yet rotated still match."""
    return [_mac(key, value) for key in keyring().all]


def _mac(key: DataKey, value: str) -> str:
    return hmac.new(key.mac_key, value.encode(), hashlib.sha256).hexdigest()


T_TEXT = TypeVar("T_TEXT", str, str | None)


class SealedField(fields.CharField[T_TEXT]):
    """A text column stored sealed: the model attribute holds the plaintext, the database the ciphertext.

    Assigning a value already sealed keeps it as is (bulk writers and the key rotation seal themselves).
    Filtering on the column cannot match (each seal is randomised): look rows up by their lookup hash.
    """

    @overload
    def __init__(self: SealedField[str], context: str, *, null: Literal[False] = False, **kwargs: Any) -> None: ...

    @overload
    def __init__(self: SealedField[str | None], context: str, *, null: Literal[True], **kwargs: Any) -> None: ...

    def __init__(self, context: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", SEALED_MAX_LENGTH)
        super().__init__(**kwargs)  # type: ignore[misc]
        self.context = context

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        return text if is_sealed(text) else seal(text, context=self.context)

    def to_python_value(self, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        return open_sealed(text, context=self.context) if is_sealed(text) else text
