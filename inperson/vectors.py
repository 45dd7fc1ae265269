"""Builds docs/protocol-vectors.json, the vectors an independent implementation checks against."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from protocol import encoding, ids
from protocol.messages import BadgeStatus, CheckIn, Heard, SightingReport, TapHalf, TapTranscript
from protocol.signing import BadgeKey, signing_input
from protocol.topics import badge_topic


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"inperson test vector " + label.encode()).digest()


def _envelope_case(name: str, key: BadgeKey, message: Any) -> dict[str, Any]:
    channel = encoding.channel_of(message)
    topic = badge_topic(message.event, message.badge, channel)
    payload = encoding.seal(message, topic, key.signer())
    body = payload[64:]
    return {
        "name": name,
        "seed": key.seed.hex(),
        "public_key": key.public_key.hex(),
        "topic": topic,
        "body": body.decode(),
        "signing_input": signing_input(topic, body).hex(),
        "signature": payload[:64].hex(),
        "payload": payload.hex(),
    }


def _entry_v2(report: SightingReport) -> str:
    """The report's first heard entry as version 2 writes it (an array)."""
    return encoding.encode_json(report.heard[0]).decode()


def _entry_v1(report: SightingReport) -> str:
    """The report's first heard entry as version 1 wrote it (an object)."""
    return encoding.encode_json(msgspec.structs.asdict(report.heard[0])).decode()


def build_vectors() -> dict[str, Any]:
    """Return the test vectors as plain data (deterministic)."""
    key = BadgeKey(_seed("badge b0001"))
    peer = BadgeKey(_seed("badge b0002"))
    ephid_key = _seed("ephid b0001")
    event = "demo-2026"
    report = SightingReport(
        event=event,
        badge="b0001",
        seq=42,
        window_start=1780563600,
        window_len=20,
        heard=[
            Heard(
                ephid=ids.derive_ephid(_seed("ephid b0002"), event, 1978404).hex(),
                rssi_median=-61,
                rssi_max=-55,
                count=9,
            )
        ],
    )
    transcript = TapTranscript(
        badge_a="b0001", badge_b="b0002", nonce_a="11" * 16, nonce_b="22" * 16, t=1780563611
    )
    envelopes = [
        _envelope_case("sighting report", key, report),
        _envelope_case(
            "tap half, badge a",
            key,
            TapHalf(event=event, badge="b0001", seq=43, transcript=transcript),
        ),
        _envelope_case(
            "tap half, badge b",
            peer,
            TapHalf(event=event, badge="b0002", seq=7, transcript=transcript),
        ),
        _envelope_case(
            "check-in",
            key,
            CheckIn(
                event=event,
                badge="b0001",
                seq=44,
                reader="gw-entrance",
                nonce="33" * 16,
                t=1780563630,
                direction="entry",
            ),
        ),
        _envelope_case(
            "status",
            key,
            BadgeStatus(
                event=event,
                badge="b0001",
                seq=45,
                t=1780563900,
                battery=97,
                buffer_fill=0,
                boot_count=1,
                drops=0,
            ),
        ),
    ]
    good = bytes.fromhex(envelopes[0]["payload"])
    topic = envelopes[0]["topic"]
    flipped = bytearray(good)
    flipped[100] ^= 0x01
    rejects = [
        {
            "name": "one body bit flipped",
            "topic": topic,
            "payload": bytes(flipped).hex(),
            "expect": "bad_signature",
        },
        {
            "name": "moved to another badge's topic",
            "topic": topic.replace("b0001", "b0002"),
            "payload": good.hex(),
            "expect": "bad_signature",
        },
        {
            "name": "oversized",
            "topic": topic,
            "payload": (good + b" " * 8192).hex(),
            "expect": "oversized",
        },
        {
            "name": "shorter than a signature",
            "topic": topic,
            "payload": good[:40].hex(),
            "expect": "malformed",
        },
    ]
    report_body: str = envelopes[0]["body"]
    v1_body = report_body.replace('"v":2', '"v":1').replace(_entry_v2(report), _entry_v1(report))
    v1_entry_body = report_body.replace(_entry_v2(report), _entry_v1(report))
    for name, body, expect in [
        ("sighting report of schema version 1", v1_body, "unsupported_version"),
        ("schema version 3", report_body.replace('"v":2', '"v":3'), "unsupported_version"),
        ("version 2 report with a version 1 heard entry", v1_entry_body, "malformed"),
        (
            "body names another badge than its topic",
            report_body.replace('"badge":"b0001"', '"badge":"b0003"'),
            "topic_mismatch",
        ),
    ]:
        signed = key.signer().sign(signing_input(topic, body.encode())).signature + body.encode()
        rejects.append({"name": name, "topic": topic, "payload": signed.hex(), "expect": expect})
    return {
        "protocol": "inperson/v1",
        "ephids": [
            {
                "ephid_key": ephid_key.hex(),
                "event": event,
                "epoch": epoch,
                "ephid": ids.derive_ephid(ephid_key, event, epoch).hex(),
            }
            for epoch in (0, 1, 1978404, 2**40)
        ],
        "meeting_ids": [
            {
                "kind": kind,
                "event": event,
                "badge_a": a,
                "badge_b": b,
                "first": first,
                "id": ids.meeting_id(kind, event, a, b, first),
            }
            for kind, a, b, first in [
                ("proximity", "b0001", "b0002", 1780563600),
                ("proximity", "b0002", "b0001", 1780563600),
                ("tap", "b0001", "b0002", 1780563611),
            ]
        ],
        "envelopes": envelopes,
        "rejects": [dict(r, public_key=key.public_key.hex()) for r in rejects],
    }
