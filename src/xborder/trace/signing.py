"""Ed25519 keys per party: private keys in a key directory, never in the database.

The directory is ``XBORDER_KEYS_DIR`` or ``<user data dir>/xborder/keys``; each party's key is
``<party>.ed25519`` (PKCS#8 PEM, mode 0600). The store holds only public keys, so a database
alone cannot forge a batch signature.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from platformdirs import user_data_dir

from xborder.domain.errors import InvalidValue, NotFound

KEYS_DIR_ENV = "XBORDER_KEYS_DIR"


def keys_dir() -> Path:
    configured = os.environ.get(KEYS_DIR_ENV, "").strip()
    if configured:
        return Path(configured)
    return Path(user_data_dir("xborder", appauthor=False)) / "keys"


def key_id(public: bytes) -> str:
    """A short fingerprint of a raw public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True)
class PartyKey:
    party_id: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


class KeyStore:
    """Loads or creates per-party private keys in one directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or keys_dir()

    def _path(self, party_id: str) -> Path:
        if not party_id or "/" in party_id or party_id.startswith("."):
            raise InvalidValue("party", "not a valid party id for a key file", party_id)
        return self.directory / f"{party_id}.ed25519"

    def has(self, party_id: str) -> bool:
        return self._path(party_id).exists()

    def load(self, party_id: str) -> PartyKey:
        path = self._path(party_id)
        if not path.exists():
            raise NotFound(f"no private key for party {party_id!r} in {self.directory}")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidValue("key", f"{path} is not an Ed25519 private key")
        return PartyKey(party_id, key)

    def load_or_create(self, party_id: str) -> PartyKey:
        path = self._path(party_id)
        if path.exists():
            return self.load(party_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return PartyKey(party_id, key)


def verify_signature(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
