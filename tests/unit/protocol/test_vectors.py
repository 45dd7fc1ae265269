"""Our implementation against the published test vectors in docs/protocol-vectors.json."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from inperson.vectors import build_vectors
from protocol import encoding, ids
from protocol.errors import ProtocolError
from protocol.signing import BadgeKey, Verifier, signing_input
from protocol.topics import parse_badge_topic

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "protocol-vectors.json").read_text()
)


def test_published_file_is_what_the_generator_makes() -> None:
    assert VECTORS == build_vectors()


@pytest.mark.parametrize("case", VECTORS["ephids"], ids=lambda c: f"epoch{c['epoch']}")
def test_ephid(case: dict[str, Any]) -> None:
    key = bytes.fromhex(case["ephid_key"])
    assert ids.derive_ephid(key, case["event"], case["epoch"]).hex() == case["ephid"]
    # the formula of docs/protocol.md, written out with the standard library
    data = (
        b"inperson/ephid/v1\x00"
        + case["event"].encode()
        + b"\x00"
        + case["epoch"].to_bytes(8, "big")
    )
    assert hmac.new(key, data, hashlib.sha256).digest()[:16].hex() == case["ephid"]


@pytest.mark.parametrize("case", VECTORS["meeting_ids"], ids=lambda c: c["kind"])
def test_meeting_id(case: dict[str, Any]) -> None:
    got = ids.meeting_id(
        case["kind"], case["event"], case["badge_a"], case["badge_b"], case["first"]
    )
    assert got == case["id"]


@pytest.mark.parametrize("case", VECTORS["envelopes"], ids=lambda c: c["name"])
def test_envelope(case: dict[str, Any]) -> None:
    key = BadgeKey(bytes.fromhex(case["seed"]))
    assert key.public_key.hex() == case["public_key"]
    body = case["body"].encode()
    assert signing_input(case["topic"], body).hex() == case["signing_input"]
    assert (
        bytes.fromhex(case["signing_input"])
        == b"inperson/v1\x00" + case["topic"].encode() + b"\x00" + body
    )
    signature = (
        nacl.signing.SigningKey(key.seed).sign(bytes.fromhex(case["signing_input"])).signature
    )
    assert signature.hex() == case["signature"]
    assert bytes.fromhex(case["payload"]) == signature + body
    topic = parse_badge_topic(case["topic"])
    message = encoding.open_envelope(
        topic, bytes.fromhex(case["payload"]), Verifier(key.public_key)
    )
    assert encoding.encode_body(message) == body


@pytest.mark.parametrize("case", VECTORS["rejects"], ids=lambda c: c["name"])
def test_reject(case: dict[str, Any]) -> None:
    verifier = Verifier(bytes.fromhex(case["public_key"]))
    with pytest.raises(ProtocolError) as info:
        encoding.open_envelope(
            parse_badge_topic(case["topic"]), bytes.fromhex(case["payload"]), verifier
        )
    assert info.value.code == case["expect"]
