"""The signed envelope and JSON encoding.

A payload on a badge topic is ``signature (64 bytes) || body``, where body is
the UTF-8 JSON object of the message and the Ed25519 signature covers
``"inperson/v1" 0x00 topic 0x00 body``. Verification uses the exact bytes
received: nothing is re-serialised or canonicalised first.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import nacl.signing

from protocol.errors import MalformedMessage, OversizedMessage, UnsupportedVersion
from protocol.messages import BadgeMessage, BadgeStatus, CheckIn, SightingReport, TapHalf
from protocol.signing import SIGNATURE_LEN, Verifier, sign
from protocol.topics import BadgeChannel, BadgeTopic

T = TypeVar("T")

MAX_PAYLOAD: dict[BadgeChannel, int] = {
    BadgeChannel.REPORTS: 8192,
    BadgeChannel.TAPS: 1024,
    BadgeChannel.CHECKINS: 1024,
    BadgeChannel.STATUS: 1024,
}
"""Largest payload (signature + body) accepted per channel, in bytes."""

MESSAGE_TYPES: dict[BadgeChannel, type[BadgeMessage]] = {
    BadgeChannel.REPORTS: SightingReport,
    BadgeChannel.TAPS: TapHalf,
    BadgeChannel.CHECKINS: CheckIn,
    BadgeChannel.STATUS: BadgeStatus,
}

SCHEMA_VERSIONS: dict[BadgeChannel, int] = {
    BadgeChannel.REPORTS: 2,
    BadgeChannel.TAPS: 1,
    BadgeChannel.CHECKINS: 1,
    BadgeChannel.STATUS: 1,
}
"""The schema version (``v``) each channel's messages carry; any other is unsupported."""

_encoder = msgspec.json.Encoder()
_decoders = {ch: msgspec.json.Decoder(tp) for ch, tp in MESSAGE_TYPES.items()}


class _Versioned(msgspec.Struct):
    v: Any = None


_version_decoder = msgspec.json.Decoder(_Versioned)
_NAMES = {
    BadgeChannel.REPORTS: "sighting report",
    BadgeChannel.TAPS: "tap",
    BadgeChannel.CHECKINS: "check-in",
    BadgeChannel.STATUS: "status",
}


def channel_of(message: BadgeMessage) -> BadgeChannel:
    """Return the channel a message is published on."""
    for channel, tp in MESSAGE_TYPES.items():
        if isinstance(message, tp):
            return channel
    raise TypeError(f"not a badge message: {type(message).__name__}")


def encode_body(message: BadgeMessage) -> bytes:
    """Return the JSON body of a message, as a badge would send it."""
    return _encoder.encode(message)


def seal(message: BadgeMessage, topic: str, key: nacl.signing.SigningKey) -> bytes:
    """Encode and sign ``message`` for ``topic``; returns the MQTT payload."""
    body = encode_body(message)
    return sign(key, topic, body) + body


def split_payload(payload: bytes, channel: BadgeChannel) -> tuple[bytes, bytes]:
    """Split a payload into (signature, body) after checking its size.

    Raises:
        OversizedMessage: larger than ``MAX_PAYLOAD[channel]``.
        MalformedMessage: too short to hold a signature and a body.
    """
    limit = MAX_PAYLOAD[channel]
    if len(payload) > limit:
        raise OversizedMessage(f"{len(payload)} bytes > {limit} for {channel.value}")
    if len(payload) < SIGNATURE_LEN + 2:
        raise MalformedMessage(f"{len(payload)} bytes is too short for an envelope")
    return payload[:SIGNATURE_LEN], payload[SIGNATURE_LEN:]


def decode_body(body: bytes, channel: BadgeChannel) -> BadgeMessage:
    """Decode and validate a body against the schema of ``channel``.

    Raises:
        UnsupportedVersion: a JSON object whose ``v`` is not ``SCHEMA_VERSIONS[channel]``.
        MalformedMessage: anything else that does not fit the schema.
    """
    try:
        message: BadgeMessage = _decoders[channel].decode(body)
        return message
    except msgspec.DecodeError as exc:
        expected = SCHEMA_VERSIONS[channel]
        try:
            version = _version_decoder.decode(body).v
        except msgspec.DecodeError:
            version = expected
        if version != expected:
            raise UnsupportedVersion(
                f"{_NAMES[channel]} schema version {version!r:.20} is not supported "
                f"(this gateway reads version {expected})"
            ) from exc
        raise MalformedMessage(str(exc)) from exc


def open_envelope(topic: BadgeTopic, payload: bytes, verifier: Verifier) -> BadgeMessage:
    """Check size, signature, schema and topic consistency; return the message.

    Raises:
        ProtocolError: any subclass, naming the first rule the payload broke.
    """
    signature, body = split_payload(payload, topic.channel)
    verifier.verify(str(topic), body, signature)
    message = decode_body(body, topic.channel)
    message.check_topic(topic.event, topic.badge)
    return message


def encode_json(value: object) -> bytes:
    """Encode any protocol struct (or plain data) as JSON bytes."""
    return _encoder.encode(value)


def decode_json(data: bytes | str, tp: type[T]) -> T:
    """Decode JSON into ``tp`` with validation.

    Raises:
        MalformedMessage: the data does not fit ``tp``.
    """
    try:
        return msgspec.json.decode(data, type=tp)
    except msgspec.DecodeError as exc:
        raise MalformedMessage(str(exc)) from exc
