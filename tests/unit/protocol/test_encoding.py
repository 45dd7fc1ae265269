"""Report schema version 2: array-like heard entries, and the version verdict per channel."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import encoding
from protocol.errors import MalformedMessage, UnsupportedVersion
from protocol.messages import MAX_HEARD, Heard, SightingReport
from protocol.topics import BadgeChannel

HEX = "0123456789abcdef" * 2
FIELDS = {"event": "ev-1", "badge": "b1", "seq": 3, "window_start": 40, "window_len": 20}

entries = st.tuples(
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.integers(-127, 20),
    st.integers(-127, 20),
    st.integers(1, 100_000),
)


def _body(version: int | None, heard: list[Any]) -> bytes:
    head = {} if version is None else {"v": version}
    return msgspec.json.encode({**head, **FIELDS, "heard": heard})


def test_a_report_is_version_2_with_array_entries() -> None:
    report = SightingReport(
        event="ev-1",
        badge="b1",
        seq=3,
        window_start=40,
        window_len=20,
        heard=[Heard(HEX, -61, -55, 9)],
    )
    assert encoding.encode_body(report) == (
        b'{"v":2,"event":"ev-1","badge":"b1","seq":3,"window_start":40,"window_len":20,'
        b'"heard":[["' + HEX.encode() + b'",-61,-55,9]]}'
    )
    assert report.v == 2


@given(st.lists(entries, max_size=MAX_HEARD), st.sampled_from([2, None]))
def test_array_entries_decode_to_the_same_heard(
    heard: list[tuple[str, int, int, int]], version: int | None
) -> None:
    message = encoding.decode_body(_body(version, [list(h) for h in heard]), BadgeChannel.REPORTS)
    assert isinstance(message, SightingReport)
    assert [msgspec.structs.astuple(h) for h in message.heard] == heard
    assert encoding.encode_body(message) == _body(2, [list(h) for h in heard])


@given(st.lists(entries, min_size=1, max_size=5))
def test_a_version_1_report_is_unsupported_with_a_clear_text(
    heard: list[tuple[str, int, int, int]],
) -> None:
    objects = [
        dict(zip(["ephid", "rssi_median", "rssi_max", "count"], h, strict=True)) for h in heard
    ]
    for entries_of_v1 in (objects, [list(h) for h in heard]):  # as v1 wrote it, or mixed up
        with pytest.raises(UnsupportedVersion) as info:
            encoding.decode_body(_body(1, entries_of_v1), BadgeChannel.REPORTS)
        assert info.value.detail == (
            "sighting report schema version 1 is not supported (this gateway reads version 2)"
        )
    with pytest.raises(MalformedMessage):  # the current version with v1 entries
        encoding.decode_body(_body(2, objects), BadgeChannel.REPORTS)


@pytest.mark.parametrize(
    "entry",
    [
        [HEX, -61, -55],  # too short
        [HEX, -61, -55, 9, 0],  # an extra element
        [HEX.upper(), -61, -55, 9],
        [HEX[:31], -61, -55, 9],
        [HEX, -128, -55, 9],  # Dbm is -127..20
        [HEX, -61, 21, 9],
        [HEX, -61, -55, 0],  # count is 1..100,000
        [HEX, -61, -55, 100_001],
        [HEX, "-61", -55, 9],
        [-61, HEX, -55, 9],
        {"ephid": HEX, "rssi_median": -61, "rssi_max": -55, "count": 9},
    ],
)
def test_array_entries_keep_every_constraint(entry: Any) -> None:
    with pytest.raises(MalformedMessage) as info:
        encoding.decode_body(_body(2, [entry]), BadgeChannel.REPORTS)
    assert type(info.value) is MalformedMessage


def test_at_most_max_heard_entries() -> None:
    heard = [[HEX, -61, -55, 9]] * MAX_HEARD
    message = encoding.decode_body(_body(2, heard), BadgeChannel.REPORTS)
    assert isinstance(message, SightingReport) and len(message.heard) == MAX_HEARD
    with pytest.raises(MalformedMessage):
        encoding.decode_body(_body(2, [*heard, heard[0]]), BadgeChannel.REPORTS)


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        (BadgeChannel.TAPS, b'{"v":1,"event":"ev-1","badge":"b1","seq":1}'),
        (BadgeChannel.CHECKINS, b'{"v":1,"event":"ev-1","badge":"b1","seq":1}'),
        (BadgeChannel.STATUS, b'{"v":1,"event":"ev-1","badge":"b1","seq":1}'),
        (BadgeChannel.REPORTS, b'{"v":2,"event":"ev-1","badge":"b1","seq":1}'),
        (BadgeChannel.REPORTS, b"[1,2,3]"),
    ],
)
def test_each_channels_own_version_with_a_bad_body_is_malformed(
    channel: BadgeChannel, body: bytes
) -> None:
    with pytest.raises(MalformedMessage):
        encoding.decode_body(body, channel)


@pytest.mark.parametrize(
    ("channel", "version", "name"),
    [
        (BadgeChannel.TAPS, 2, "tap"),
        (BadgeChannel.CHECKINS, 2, "check-in"),
        (BadgeChannel.STATUS, 2, "status"),
        (BadgeChannel.REPORTS, 1, "sighting report"),
        (BadgeChannel.REPORTS, 3, "sighting report"),
    ],
)
def test_another_version_is_unsupported(channel: BadgeChannel, version: int, name: str) -> None:
    body = b'{"v":%d,"event":"ev-1","badge":"b1","seq":1}' % version
    with pytest.raises(UnsupportedVersion) as info:
        encoding.decode_body(body, channel)
    expected = encoding.SCHEMA_VERSIONS[channel]
    assert info.value.detail == (
        f"{name} schema version {version} is not supported (this gateway reads version {expected})"
    )
