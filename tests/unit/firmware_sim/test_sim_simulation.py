"""The pure simulation: timeline, messages, ground truth, taps, determinism."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from firmware_sim.config import SimSettings
from firmware_sim.crowd import CrowdParams
from firmware_sim.errors import BundleError
from firmware_sim.simulation import plan_timeline, simulate
from firmware_sim.window_output import WindowOutput
from protocol.api import DetectionSettings
from protocol.encoding import open_envelope
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import BadgeStatus, CheckIn, SightingReport, TapHalf
from protocol.topics import BadgeChannel, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers

N = 24


def _settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {"bundles_dir": Path("."), "minutes": 12.0, "seed": 3}
    values.update(overrides)
    return SimSettings(**values)  # type: ignore[arg-type]


TAIL = plan_timeline(DetectionSettings(), 1, 0).tail_windows
"""Windows after the agenda with the default settings."""


@pytest.fixture(scope="module")
def run() -> list[WindowOutput]:
    return list(simulate(make_bundles(N), _settings(radio="ideal")))


def test_timeline_rounds_the_start_up_and_adds_the_tail() -> None:
    timeline = plan_timeline(DetectionSettings(gap_tolerance_seconds=60), 60, 1780563601)
    assert timeline.start == 1780563620
    assert timeline.agenda_windows == 180
    assert timeline.tail_windows == 10  # ceil((60 + 60 + 40) / 20) + 2
    assert timeline.windows == 190
    assert timeline.window_start(3) == 1780563680
    assert TAIL == 8  # the defaults: ceil((20 + 60 + 40) / 20) + 2
    other = DetectionSettings(
        window_seconds=30, gap_tolerance_seconds=100, allowed_lateness_seconds=0
    )
    assert plan_timeline(other, 1, 0).tail_windows == 8  # ceil(160 / 30) + 2


def test_one_report_per_badge_per_window_and_all_verify(run: list[WindowOutput]) -> None:
    bundles = make_bundles(N)
    checks = verifiers(bundles)
    last_seq: dict[str, int] = defaultdict(int)
    for out in run:
        reporters = []
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            assert message.seq == last_seq[parsed.badge] + 1
            last_seq[parsed.badge] = message.seq
            if isinstance(message, SightingReport):
                assert message.window_start == out.window_start
                reporters.append(message.badge)
        assert sorted(reporters) == [b.badge for b in bundles]
    assert [out.index for out in run] == list(range(len(run)))
    starts = [out.window_start for out in run]
    assert all(b - a == 20 for a, b in zip(starts, starts[1:], strict=False))


def test_ideal_radio_reports_resolve_to_exactly_the_ground_truth(run: list[WindowOutput]) -> None:
    bundles = make_bundles(N)
    keys = {b.badge: bytes.fromhex(b.ephid_key) for b in bundles}
    checks = verifiers(bundles)
    contacts = 0
    for out in run:
        epoch = epoch_of(out.window_start, 900)
        owner = {derive_ephid(k, bundles[0].event, epoch).hex(): b for b, k in keys.items()}
        heard = set()
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            if isinstance(message, SightingReport):
                heard |= {(message.badge, owner[h.ephid]) for h in message.heard}
        truth = set(out.contacts)
        assert heard == truth | {(b, a) for a, b in truth}
        contacts += len(truth)
    assert contacts > 100


def test_ground_truth_pairs_are_ordered_and_unique(run: list[WindowOutput]) -> None:
    for out in run:
        assert all(a < b for a, b in out.contacts)
        assert len(set(out.contacts)) == len(out.contacts)
        assert all(a < b and out.window_start <= t < out.window_start + 20 for t, a, b in out.taps)


def test_tail_windows_have_no_contacts_and_empty_reports(run: list[WindowOutput]) -> None:
    tail = run[-TAIL:]
    checks = verifiers(make_bundles(N))
    for out in tail:
        assert out.contacts == () and out.taps == ()
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            if isinstance(message, SightingReport):
                assert message.heard == []
    assert len(run) == 36 + TAIL


def test_status_every_five_minutes(run: list[WindowOutput]) -> None:
    with_status = [
        out.index
        for out in run
        if any(parse_badge_topic(t).channel is BadgeChannel.STATUS for t, _ in out.messages)
    ]
    assert with_status == list(range(0, 36 + TAIL, 15))
    checks = verifiers(make_bundles(N))
    for topic, payload in run[15].messages:
        parsed = parse_badge_topic(topic)
        message = open_envelope(parsed, payload, checks[parsed.badge])
        if isinstance(message, BadgeStatus):
            assert message.t == run[15].window_start and 0 <= message.battery <= 100


def test_taps_come_in_matching_halves_and_are_in_the_ground_truth() -> None:
    bundles = make_bundles(60)
    checks = verifiers(bundles)
    halves: dict[tuple[str, str, int], list[TapHalf]] = defaultdict(list)
    truth: set[tuple[int, str, str]] = set()
    for out in simulate(bundles, _settings(minutes=40.0, seed=1)):
        truth.update(out.taps)
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            if parsed.channel is BadgeChannel.TAPS:
                half = open_envelope(parsed, payload, checks[parsed.badge])
                assert isinstance(half, TapHalf)
                tr = half.transcript
                halves[(tr.badge_a, tr.badge_b, tr.t)].append(half)
    assert truth, "40 minutes of 60 badges should produce some taps"
    assert set(halves) == {(a, b, t) for t, a, b in truth}
    for (a, b, _), pair in halves.items():
        assert sorted(h.badge for h in pair) == [a, b]
        assert pair[0].transcript == pair[1].transcript


def test_taps_can_be_switched_off() -> None:
    outs = list(simulate(make_bundles(60), _settings(minutes=40.0, seed=1, taps=False)))
    assert all(out.taps == () for out in outs)
    assert not any(
        parse_badge_topic(t).channel is BadgeChannel.TAPS for out in outs for t, _ in out.messages
    )


def test_same_seed_same_bytes_different_seed_different_event() -> None:
    bundles = make_bundles(N)
    first = list(simulate(bundles, _settings(minutes=5.0)))
    again = list(simulate(bundles, _settings(minutes=5.0)))
    other = list(simulate(bundles, _settings(minutes=5.0, seed=4)))
    assert first == again
    assert [o.messages for o in first] != [o.messages for o in other]
    assert [o.contacts for o in first] != [o.contacts for o in other]


def test_bundles_of_two_events_are_refused() -> None:
    mixed = make_bundles(3, event="ev-a") + make_bundles(3, event="ev-b", seed=2)
    with pytest.raises(BundleError, match="2 events"):
        next(simulate(mixed, _settings()))


def test_a_badge_with_two_bundles_is_refused() -> None:
    bundles = make_bundles(3)
    with pytest.raises(BundleError, match="two bundles"):
        next(simulate(bundles + bundles[:1], _settings()))


def test_no_bundles_is_refused() -> None:
    with pytest.raises(BundleError, match="no provisioning bundles"):
        next(simulate([], _settings()))


def test_every_badge_checks_in_on_arrival_and_out_on_leaving(run: list[WindowOutput]) -> None:
    bundles = make_bundles(N)
    checks = verifiers(bundles)
    seen: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    nonces: set[str] = set()
    for out in run:
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            if isinstance(message, CheckIn):
                assert out.window_start <= message.t < out.window_start + 20
                assert message.reader == "entrance" and len(message.nonce) == 32
                seen[message.badge].append((message.direction, out.index, message.t))
                nonces.add(message.nonce)
    agenda_end = len(run) - TAIL
    assert sorted(seen) == [b.badge for b in bundles]
    for events in seen.values():
        assert [d for d, _, _ in events] == ["entry", "exit"]
        assert events[0][1] < agenda_end and events[1][1] == agenda_end
    assert len(nonces) == 2 * N


def test_checkins_can_be_switched_off() -> None:
    outputs = simulate(make_bundles(4), _settings(radio="ideal", minutes=2.0, checkins=False))
    assert not any(t.endswith("/checkins") for out in outputs for t, _ in out.messages)


def test_walking_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADGE_WALKING", "true")
    assert SimSettings(bundles_dir=Path(".")).walking
    monkeypatch.delenv("BADGE_WALKING")
    bundles = make_bundles(40)

    def messages(settings: SimSettings, **kwargs: object) -> list[tuple[str, bytes]]:
        return [m for out in simulate(bundles, settings, **kwargs) for m in out.messages]  # type: ignore[arg-type]

    walking = _settings(minutes=30.0, walking=True)
    same = CrowdParams(window_seconds=20, walking=True)
    assert messages(walking) == messages(_settings(minutes=30.0), crowd_params=same)
    assert messages(walking) != messages(_settings(minutes=30.0))  # people walked
