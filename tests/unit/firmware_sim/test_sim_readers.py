"""Badges quote the nonce their reader announced; without one they do not tap."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.config import SimSettings
from firmware_sim.readers import LatestNonces
from firmware_sim.simulation import CHECKIN_READER, simulate
from protocol.api import ReaderNonce
from protocol.encoding import decode_body, encode_json, split_payload
from protocol.messages import CheckIn
from protocol.topics import BadgeChannel, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles

EVENT = "ev-test"


def announce(reader: str, nonce: str, issued_at: int, event: str = EVENT) -> bytes:
    return encode_json(
        ReaderNonce(event=event, reader=reader, nonce=nonce, issued_at=issued_at, valid_seconds=60)
    )


def settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {"bundles_dir": Path("."), "minutes": 6.0, "seed": 3}
    values.update(overrides)
    return SimSettings(**values)  # type: ignore[arg-type]


def checkins(source: LatestNonces | None) -> list[CheckIn]:
    found: list[CheckIn] = []
    for out in simulate(make_bundles(10), settings(radio="ideal"), nonces=source):
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            if parsed.channel is BadgeChannel.CHECKINS:
                message = decode_body(split_payload(payload, parsed.channel)[1], parsed.channel)
                assert isinstance(message, CheckIn)
                found.append(message)
    return found


def test_the_newest_nonce_of_each_reader_wins() -> None:
    nonces = LatestNonces(EVENT)
    assert nonces.offer(announce("entrance", "aa" * 16, 100))
    assert nonces.offer(announce("entrance", "bb" * 16, 115))
    assert not nonces.offer(announce("entrance", "cc" * 16, 90))  # an older one, late
    assert nonces.offer(announce("hall", "dd" * 16, 100))
    assert not nonces.offer(announce("entrance", "ee" * 16, 200, event="other"))
    assert nonces.nonce_for("entrance") == "bb" * 16
    assert nonces.nonce_for("side-door") is None
    assert (nonces.quoted, nonces.missing, nonces.rejected) == (1, 1, 1)


@given(st.binary(max_size=300))
def test_garbage_announcements_are_counted_never_raise(payload: bytes) -> None:
    nonces = LatestNonces(EVENT)
    assert not nonces.offer(payload)
    assert nonces.rejected == 1 and nonces.nonce_for(CHECKIN_READER) is None


def test_badges_quote_the_reader_nonce() -> None:
    source = LatestNonces(EVENT)
    source.offer(announce(CHECKIN_READER, "42" * 16, 100))
    taps = checkins(source)
    assert taps and {(c.reader, c.nonce) for c in taps} == {(CHECKIN_READER, "42" * 16)}
    assert source.quoted == len(taps) and source.missing == 0
    assert len(taps) == len(checkins(None))  # the same taps as with seeded nonces


def test_without_a_reader_nonce_badges_do_not_tap_and_it_is_counted() -> None:
    source = LatestNonces(EVENT)
    assert checkins(source) == []
    assert source.missing == len(checkins(None)) > 0


def test_the_simulation_stays_deterministic_with_a_nonce_source() -> None:
    def run() -> list[tuple[str, bytes]]:
        source = LatestNonces(EVENT)
        source.offer(announce(CHECKIN_READER, "42" * 16, 100))
        outs = simulate(make_bundles(6), settings(radio="ideal", minutes=3.0), nonces=source)
        return [m for out in outs for m in out.messages]

    assert run() == run()


def test_a_run_reports_the_taps_skipped_for_want_of_a_nonce(tmp_path: Path) -> None:
    from firmware_sim.clock import SimClock
    from firmware_sim.runner import run_simulation
    from tests.unit.firmware_sim.fakes import FakeTime, RecordingPublisher, write_bundles

    write_bundles(tmp_path / "bundles", make_bundles(6))
    run_settings = settings(
        bundles_dir=tmp_path / "bundles", minutes=3.0, speed=0, checkin_nonces="reader"
    )
    fake = FakeTime()
    clock = SimClock(0, now=fake.time, sleep=fake.sleep)
    silent = LatestNonces(EVENT)
    result = run_simulation(run_settings, RecordingPublisher(), clock=clock, nonces=silent)
    assert result.summary["checkins_sent"] == 0
    assert result.summary["checkins_skipped"] == silent.missing > 0
    heard = LatestNonces(EVENT)
    heard.offer(announce(CHECKIN_READER, "42" * 16, 100))
    result = run_simulation(run_settings, RecordingPublisher(), clock=clock, nonces=heard)
    assert result.summary["checkins_sent"] == silent.missing
    assert result.summary["checkins_skipped"] == 0
