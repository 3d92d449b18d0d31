"""Checkpoints encrypted at rest (optional): LangGraph's ``EncryptedSerializer`` with AES-GCM.

The key comes from ``AUTORUST_CHECKPOINT_KEY`` (any string; a random one, e.g.
``openssl rand -base64 32``) and is never stored: the store keeps only a marker row with a
value encrypted under the key, so opening an encrypted store without the key, or with another
key, fails at once with one clear line instead of at the first unreadable checkpoint.
The reply journal (model replies: specs and code) is encrypted with the same cipher.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from langgraph.checkpoint.serde.base import CipherProtocol, SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer

from autorust.storage.key_errors import CheckpointKeyError
from autorust.storage.replies import ReplyStore

KEY_ENV = "AUTORUST_CHECKPOINT_KEY"
CIPHER_NAME = "aesgcm"
MARKER_KEY = "encryption"
MARKER_PLAINTEXT = b"autorust checkpoint store v1"
META_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS autorust_store (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
)
_KDF_CONTEXT = b"autorust-checkpoint-key-v1\0"


class AesGcmCipher(CipherProtocol):
    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(hashlib.sha256(_KDF_CONTEXT + secret.encode()).digest())

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return CIPHER_NAME, nonce + self._aead.encrypt(nonce, plaintext, None)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if ciphername != CIPHER_NAME:
            raise CheckpointKeyError(f"unknown checkpoint cipher {ciphername!r}")
        try:
            return self._aead.decrypt(ciphertext[:12], ciphertext[12:], None)
        except InvalidTag:
            raise CheckpointKeyError(
                f"{KEY_ENV} does not decrypt this checkpoint store (wrong key)"
            ) from None

    def seal(self, text: str) -> str:
        """Text -> base64 ciphertext (for the reply journal's text column)."""
        return base64.b64encode(self.encrypt(text.encode())[1]).decode()

    def open(self, sealed: str) -> str:
        return self.decrypt(CIPHER_NAME, base64.b64decode(sealed)).decode()


def cipher_from_env() -> AesGcmCipher | None:
    secret = os.environ.get(KEY_ENV)
    return AesGcmCipher(secret) if secret else None


def encrypted(serde: SerializerProtocol, cipher: AesGcmCipher | None) -> SerializerProtocol:
    return serde if cipher is None else EncryptedSerializer(cipher, serde)


def check_marker(marker: str | None, cipher: AesGcmCipher | None) -> str | None:
    """Compare the store's marker with the key. Returns a marker to write (a new encrypted
    store), or None. Raises ``CheckpointKeyError`` when they do not match."""
    if marker is None:
        return cipher.seal(MARKER_PLAINTEXT.decode()) if cipher else None
    if cipher is None:
        raise CheckpointKeyError(
            f"this checkpoint store is encrypted: set {KEY_ENV} to the key it was written with"
        )
    if cipher.open(marker).encode() != MARKER_PLAINTEXT:
        raise CheckpointKeyError(f"{KEY_ENV} does not decrypt this checkpoint store (wrong key)")
    return None


class SealedReplies(ReplyStore):
    """The reply journal with each reply encrypted (the keys are hashes: nothing to hide)."""

    def __init__(self, inner: ReplyStore, cipher: AesGcmCipher) -> None:
        self.inner, self.cipher = inner, cipher

    async def get(self, thread: str, task: str, key: str) -> str | None:
        sealed = await self.inner.get(thread, task, key)
        return None if sealed is None else self.cipher.open(sealed)

    async def put(self, thread: str, task: str, key: str, reply: str) -> None:
        await self.inner.put(thread, task, key, self.cipher.seal(reply))

    async def forget(self, thread: str) -> None:
        await self.inner.forget(thread)


def sealed(store: ReplyStore, cipher: AesGcmCipher | None) -> ReplyStore:
    return store if cipher is None else SealedReplies(store, cipher)
