"""ReportDecoder: exactly the protocol's verdict on every report body, valid or not."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import report_decoder
from gateway.report_decoder import ReportDecoder
from protocol.encoding import decode_body, encode_json
from protocol.errors import ProtocolError
from protocol.messages import SightingReport
from protocol.topics import BadgeChannel, BadgeTopic, parse_badge_topic

TOPIC = parse_badge_topic("inperson/v1/ev-1/badges/b1/reports")
HEX = "0123456789abcdef" * 2


ids = st.sampled_from(["ev-1", "b1", "b2", "ev-1\n", "b1\n", "", "b 1", "x" * 65, "é"])
ephids = st.sampled_from(  # only ones that are not plainly hex: valid ones come with reports
    [HEX.upper(), HEX + "\n", HEX[:31], HEX + "0", "g" * 32, "\u0663" * 32, "", HEX[:30] + "\n"]
)
values = st.one_of(
    st.integers(-130, 130),
    st.sampled_from([3600, 3601, 2**40, 2**40 + 1, 2**53, 2**53 + 1, -1, 1.0, True, None, "1"]),
)
valid_heard = st.tuples(  # an array-like ``Heard``: [ephid, rssi_median, rssi_max, count]
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.integers(-127, 20),
    st.integers(-127, 20),
    st.integers(1, 100_000),
).map(list)
valid_reports = st.fixed_dictionaries(
    {
        "event": st.just("ev-1"),
        "badge": st.just("b1"),
        "seq": st.integers(0, 2**53),
        "window_start": st.integers(0, 2**40),
        "window_len": st.integers(1, 3600),
        "heard": st.lists(valid_heard, max_size=5),
    },
    optional={"v": st.just(2)},
)
FIELDS = ["v", "event", "badge", "seq", "window_start", "window_len", "heard", "extra"]
mutations = st.lists(
    st.one_of(
        st.tuples(st.just("ephid"), ephids),
        st.tuples(st.sampled_from(["event", "badge"]), ids),
        st.tuples(st.sampled_from(["rssi_median", "rssi_max", "count", "append"]), values),
        st.tuples(st.sampled_from(["v", "seq", "window_start", "window_len", "extra"]), values),
        st.tuples(st.sampled_from(["v"]), st.sampled_from([1, 2, 3])),
        st.tuples(st.sampled_from(["heard", "many", "short", "object", "flat"]), st.none()),
    ),
    min_size=1,
    max_size=2,
)


ENTRY_FIELDS = ["ephid", "rssi_median", "rssi_max", "count"]


def mutate(report: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    """Apply field changes (a heard entry's change goes to the first entry, if any).

    Entry changes: a field's value, ``append`` (a fifth element), ``short`` (the last
    element dropped), ``object`` (the entry as the version 1 object), ``flat`` (the
    entry's elements spliced into the list).
    """
    report = {**report, "heard": [list(h) for h in report["heard"]]}
    for field, value in changes:
        heard = report["heard"]
        if field in FIELDS and (field != "extra" or value is not None):
            report[field] = value
        elif not isinstance(heard, list) or not heard or not isinstance(heard[0], list):
            continue
        elif field == "many":
            report["heard"] = (heard * 65)[:65]
        elif field == "append":
            heard[0].append(value)
        elif field == "short":
            heard[0].pop()
        elif field == "object":
            heard[0] = dict(zip(ENTRY_FIELDS, heard[0], strict=False))
        elif field == "flat":
            report["heard"] = heard[0] + heard[1:]
        elif field in ENTRY_FIELDS and len(heard[0]) > ENTRY_FIELDS.index(field):
            heard[0][ENTRY_FIELDS.index(field)] = value
    return report


def reference(body: bytes, topic: BadgeTopic) -> tuple[Any, ...]:
    try:
        message = decode_body(body, BadgeChannel.REPORTS)
        message.check_topic(topic.event, topic.badge)
    except ProtocolError as exc:
        return ("error", type(exc), str(exc))
    return ("ok", encode_json(message))


def fast(decoder: ReportDecoder, body: bytes, topic: BadgeTopic) -> tuple[Any, ...]:
    try:
        message = decoder.decode(body, topic)
    except ProtocolError as exc:
        return ("error", type(exc), str(exc))
    assert isinstance(message, SightingReport)
    return ("ok", encode_json(message))


DECODER = ReportDecoder()  # one for all examples: its memory of EphIDs is exercised too


VALID = {
    "event": "ev-1",
    "badge": "b1",
    "seq": 3,
    "window_start": 40,
    "window_len": 20,
    "heard": [[HEX, -60, -55, 4]],
}


@pytest.mark.parametrize(
    "changes",
    [
        [],
        [("v", 2)],
        [("v", 1)],  # the version 1 report: unsupported, whatever its entries
        [("v", 1), ("object", None)],
        [("v", 3)],
        [("object", None)],  # a version 2 report with a version 1 entry: malformed
        [("append", 0)],
        [("short", None)],
        [("flat", None)],
        *([("event", value)] for value in ["ev-1\n", "ev-2", "ev", "", "é"]),
        *([("badge", value)] for value in ["b1\n", "b2", "b", "b 1"]),
        *([("ephid", value)] for value in [HEX.upper(), HEX + "\n", HEX[:31], "\u0663" * 32]),
        [("many", None)],
        [("extra", 1)],
        [("seq", 2**53 + 1)],
    ],
)
def test_the_fast_checks_decide_like_the_protocol(changes: list[tuple[str, Any]]) -> None:
    body = msgspec.json.encode(mutate(VALID, changes))
    for decoder in (ReportDecoder(), DECODER):  # EphID unknown, then maybe known
        assert fast(decoder, body, TOPIC) == reference(body, TOPIC)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    report=valid_reports,
    changes=st.one_of(st.just([]), mutations),
    cut=st.one_of(st.none(), st.none(), st.integers(0, 400)),
)
def test_every_body_gets_the_protocols_verdict(
    report: dict[str, Any], changes: list[tuple[str, Any]], cut: int | None
) -> None:
    body = msgspec.json.encode(mutate(report, changes))
    if cut is not None:
        body = body[:cut]
    assert fast(DECODER, body, TOPIC) == reference(body, TOPIC)


def test_a_valid_report_is_equal_field_by_field_and_encodes_the_same() -> None:
    body = msgspec.json.encode(
        {
            "event": "ev-1",
            "badge": "b1",
            "seq": 3,
            "window_start": 40,
            "window_len": 20,
            "heard": [[HEX, -60, -55, 4]],
        }
    )
    message = ReportDecoder().decode(body, TOPIC)
    expected = decode_body(body, BadgeChannel.REPORTS)
    assert isinstance(message, SightingReport)
    for field in SightingReport.__struct_fields__:
        if field != "heard":
            assert getattr(message, field) == getattr(expected, field)
    assert [msgspec.structs.astuple(h) for h in message.heard] == [
        msgspec.structs.astuple(h) for h in expected.heard
    ]
    assert encode_json(message) == encode_json(expected) == body.replace(b"{", b'{"v":2,', 1)


def test_the_memory_of_well_formed_ephids_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_decoder, "KNOWN_EPHIDS", 3)
    decoder = ReportDecoder()
    for i in range(10):
        ephid = f"{i:032x}"
        body = msgspec.json.encode(
            {
                "event": "ev-1",
                "badge": "b1",
                "seq": i,
                "window_start": 0,
                "window_len": 20,
                "heard": [[ephid, -60, -55, 1]],
            }
        )
        assert decoder.decode(body, TOPIC).heard[0].ephid == ephid
        assert len(decoder._known) <= 3
