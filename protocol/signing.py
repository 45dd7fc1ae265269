"""Ed25519 keys and signatures (PyNaCl), over the exact bytes received plus the topic."""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from protocol.errors import InvalidSignature

SIGNATURE_LEN = 64
SEED_LEN = 32
_DOMAIN = b"inperson/v1\x00"


def signing_input(topic: str, body: bytes) -> bytes:
    """Return the bytes a signature covers: domain, topic, NUL, body."""
    return _DOMAIN + topic.encode() + b"\x00" + body


@dataclass(frozen=True)
class BadgeKey:
    """A badge's Ed25519 key pair, built from its 32-byte seed."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_LEN:
            raise ValueError("an Ed25519 seed is 32 bytes")

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    def signer(self) -> nacl.signing.SigningKey:
        """A PyNaCl signing key; keep it to sign many messages cheaply."""
        return nacl.signing.SigningKey(self.seed)


def sign(key: nacl.signing.SigningKey, topic: str, body: bytes) -> bytes:
    """Return the 64-byte signature of ``body`` published on ``topic``."""
    return key.sign(signing_input(topic, body)).signature


class Verifier:
    """Verifies signatures for one public key; build once per badge and reuse."""

    __slots__ = ("_key",)

    def __init__(self, public_key: bytes) -> None:
        self._key = nacl.signing.VerifyKey(public_key)

    def verify(self, topic: str, body: bytes, signature: bytes) -> None:
        """Check ``signature`` over ``topic`` and ``body``.

        Raises:
            InvalidSignature: the signature does not verify.
        """
        try:
            self._key.verify(signing_input(topic, body), signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
            raise InvalidSignature("signature does not verify") from exc
