"""Badge clock drift through the real gateway processing stage: resync keeps pairing exact."""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.sim_clock import ClockRun, make_bundles, run_through_gateway
from firmware_sim.config import SimSettings
from firmware_sim.simulation import simulate
from protocol.encoding import decode_body, split_payload
from protocol.messages import SightingReport
from protocol.topics import parse_badge_topic

BUNDLES = make_bundles(30, event="ev-drift")


def _settings(**overrides: object) -> SimSettings:
    base: dict[str, object] = {"minutes": 20, "seed": 5, "radio": "ideal", "taps": False}
    return SimSettings(bundles_dir=Path("."), **(base | overrides))  # type: ignore[arg-type]


PERFECT = _settings(clock_drift_ppm=0, clock_boot_offset_s=0, clock_resync="none")


@functools.cache
def _perfect() -> ClockRun:
    return run_through_gateway(BUNDLES, PERFECT)


def _messages(s: SimSettings) -> list[tuple[str, bytes]]:
    return [m for out in simulate(BUNDLES, s) for m in out.messages]


def test_resynchronised_badges_publish_exactly_what_perfect_clocks_would() -> None:
    drifting = _settings(clock_drift_ppm=50, clock_boot_offset_s=120, clock_resync="periodic")
    assert _messages(drifting) == _messages(PERFECT)


def test_without_resync_a_two_minute_boot_offset_loses_most_meetings_to_staleness() -> None:
    perfect = _perfect()
    lost = run_through_gateway(
        BUNDLES, _settings(clock_drift_ppm=50, clock_boot_offset_s=120, clock_resync="none")
    )
    assert perfect.rejected == {} and perfect.precision == 1.0
    # ideal radio, perfect clocks: only pairs whose contact came in pieces shorter than the
    # minimum meeting (more than the gap tolerance apart) are not linked (1 of 37 here)
    assert perfect.recall >= 0.95
    # Badges running ahead carry the watermark; the ones behind arrive stale.
    assert lost.rejected.get("stale", 0) > lost.reports // 4
    assert lost.recall < 0.75 * perfect.recall
    assert lost.contact_seconds < 0.75 * perfect.contact_seconds


def test_half_a_minute_of_offset_misaligns_windows_without_staleness_and_resync_repairs_it() -> (
    None
):
    perfect = _perfect()
    skewed = _settings(clock_drift_ppm=50, clock_boot_offset_s=30, clock_resync="none")
    shifted = run_through_gateway(BUNDLES, skewed)
    repaired = run_through_gateway(BUNDLES, skewed.model_copy(update={"clock_resync": "connect"}))
    assert shifted.rejected.get("stale", 0) == 0
    # Windows filed under different labels by the two badges no longer pair.
    assert shifted.contact_seconds < perfect.contact_seconds
    assert repaired == perfect


@given(
    boot=st.floats(0, 200),
    drift=st.floats(0, 200),
    resync=st.sampled_from(["none", "connect", "periodic"]),
    outage=st.sampled_from([0.0, 0.05]),
)
@settings(max_examples=6, deadline=None)
def test_each_badge_reports_windows_on_the_grid_in_strictly_increasing_order(
    boot: float, drift: float, resync: str, outage: float
) -> None:
    s = _settings(
        clock_drift_ppm=drift,
        clock_boot_offset_s=boot,
        clock_resync=resync,
        minutes=6,
        outage_rate=outage,
    )
    starts: dict[str, list[int]] = defaultdict(list)
    seqs: dict[str, list[int]] = defaultdict(list)
    for topic, payload in _messages(s):
        channel = parse_badge_topic(topic).channel
        message = decode_body(split_payload(payload, channel)[1], channel)
        seqs[message.badge].append(message.seq)
        if isinstance(message, SightingReport):
            starts[message.badge].append(message.window_start)
    assert len(starts) == len(BUNDLES)
    for badge, labels in starts.items():
        assert all(t % 20 == 0 for t in labels)
        assert labels == sorted(set(labels)), badge  # a clock set back never repeats one
        assert seqs[badge] == list(range(1, len(seqs[badge]) + 1))


def test_after_outages_resynced_badges_pair_as_well_as_perfect_clocks() -> None:
    # "connect" is the weaker policy: "periodic" resyncs at least as often.
    outages = {"outage_rate": 0.02, "outage_mean_windows": 2}
    s = _settings(clock_drift_ppm=50, clock_boot_offset_s=120, clock_resync="connect", **outages)
    run = run_through_gateway(BUNDLES, s)
    baseline = run_through_gateway(BUNDLES, PERFECT.model_copy(update=outages))
    # A badge offline at power-on buffers reports on its unsynchronised clock and,
    # when the resync sets its clock back, skips the windows it already filed: that
    # badge can lose a connection; everyone else is exact.
    assert run.rejected.get("stale", 0) <= baseline.rejected.get("stale", 0) + 10
    assert run.reports >= baseline.reports - 10
    assert run.contact_seconds >= 0.95 * baseline.contact_seconds
    assert run.precision == baseline.precision
    assert run.connections >= baseline.connections - 2
