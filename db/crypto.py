"""Field-level encryption for PII: AES-256-GCM with a key id, plus an HMAC blind index.

Ciphertexts look like ``v1:<key id>:<base64url(nonce || ciphertext+tag)>`` so keys can be
rotated: new writes use the active key, reads pick the key named in the value.
The blind index lets us look up and enforce uniqueness of emails without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(ValueError):
    """The value was not produced by any key we hold, or it was tampered with."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class FieldCipher:
    keys: dict[str, bytes]
    active_key_id: str
    blind_index_key: bytes

    def __post_init__(self) -> None:
        if self.active_key_id not in self.keys:
            raise ValueError(f"active key {self.active_key_id!r} is not among the keys")
        if len(self.blind_index_key) < 32:
            raise ValueError("the blind index key must be at least 32 bytes")
        for key_id, key in self.keys.items():
            if not key_id:
                raise ValueError("key ids may not be empty")
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes for AES-256")
            if ":" in key_id:
                raise ValueError("key ids may not contain ':'")

    @classmethod
    def from_config(cls, keyring: str, blind_index_key: str) -> FieldCipher:
        """Build from ``"kid1:base64key,kid2:base64key"``; the first key is the active one."""
        keys: dict[str, bytes] = {}
        for entry in keyring.split(","):
            key_id, _, encoded = entry.strip().partition(":")
            if key_id in keys:
                raise ValueError(f"key id {key_id!r} appears twice in the keyring")
            keys[key_id] = _b64decode(encoded)
        return cls(
            keys=keys, active_key_id=next(iter(keys)), blind_index_key=_b64decode(blind_index_key)
        )

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """``context`` (e.g. ``customers.email``) is bound as associated data so a ciphertext
        copied into another column fails to decrypt."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_key_id]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"{_FORMAT_VERSION}:{self.active_key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, key_id, payload = token.split(":", 2)
            if version != _FORMAT_VERSION:
                raise DecryptionError(f"unknown ciphertext version {version!r}")
            raw = _b64decode(payload)
            key = self.keys[key_id]
            return (
                AESGCM(key)
                .decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
                .decode()
            )
        except DecryptionError:
            raise
        except Exception as exc:  # any parse/auth failure means the same thing to callers
            raise DecryptionError("value cannot be decrypted with the configured keys") from exc

    def blind_index(self, value: str, *, context: str) -> str:
        normalized = value.strip().lower()
        digest = hmac.new(
            self.blind_index_key, f"{context}\x00{normalized}".encode(), hashlib.sha256
        )
        return digest.hexdigest()


def generate_key() -> str:
    """A fresh random 256-bit key, base64url encoded, for configuration."""
    return _b64encode(os.urandom(32))
