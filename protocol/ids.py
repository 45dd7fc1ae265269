"""Rotating ephemeral ids (EphIDs) and deterministic meeting ids.

EphID   = HMAC-SHA256(ephid_key, "inperson/ephid/v1" 0x00 event 0x00 epoch_be64)[:16]
epoch   = floor(t / rotation_seconds)
meeting = hex(SHA-256("inperson/meeting/v1" 0x00 kind 0x00 event 0x00 a 0x00 b 0x00 first)[:16])
"""

from __future__ import annotations

import hashlib
import hmac

EPHID_LEN = 16
EPHID_KEY_LEN = 32
MAX_ROTATION_SECONDS = 900
_EPHID_DOMAIN = b"inperson/ephid/v1\x00"
_MEETING_DOMAIN = b"inperson/meeting/v1\x00"


def epoch_of(t: int, rotation_seconds: int) -> int:
    """Return the EphID epoch that event time ``t`` falls in."""
    if not 0 < rotation_seconds <= MAX_ROTATION_SECONDS:
        raise ValueError(f"rotation must be 1..{MAX_ROTATION_SECONDS} s, got {rotation_seconds}")
    return t // rotation_seconds


def derive_ephid(ephid_key: bytes, event: str, epoch: int) -> bytes:
    """Return the 16-byte EphID a badge broadcasts during ``epoch``."""
    if len(ephid_key) != EPHID_KEY_LEN:
        raise ValueError("ephid_key must be 32 bytes")
    data = _EPHID_DOMAIN + event.encode() + b"\x00" + epoch.to_bytes(8, "big")
    return hmac.new(ephid_key, data, hashlib.sha256).digest()[:EPHID_LEN]


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    """Return the two badge ids in canonical (sorted) order."""
    return (a, b) if a <= b else (b, a)


def meeting_id(kind: str, event: str, badge_a: str, badge_b: str, first: int) -> str:
    """Return the deterministic id of a meeting, so re-processing yields the same id.

    Args:
        kind: ``"proximity"`` or ``"tap"``.
        event: event id.
        badge_a: one badge; the order of the two badges does not matter.
        badge_b: the other badge.
        first: start of the first contact window (proximity) or tap time (tap).
    """
    a, b = ordered_pair(badge_a, badge_b)
    data = b"\x00".join(x.encode() for x in (kind, event, a, b, str(first)))
    return hashlib.sha256(_MEETING_DOMAIN + data).digest()[:16].hex()


_CHECKIN_DOMAIN = b"inperson/checkin/v1\x00"


def checkin_id(event: str, badge: str, reader: str, nonce: str) -> str:
    """Return the deterministic id of one tap at a reader (one nonce, one badge).

    The same answer delivered twice, or forwarded again after a crash, gets the
    same id, so the gateway and the server de-duplicate on it.
    """
    data = b"\x00".join(x.encode() for x in (event, badge, reader, nonce))
    return hashlib.sha256(_CHECKIN_DOMAIN + data).digest()[:16].hex()
