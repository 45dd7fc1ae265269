"""The fidelity bench's scoring rules on an example worked out by hand, and its goal list."""

from __future__ import annotations

from bench.sim_fidelity import Observed, goal, score

WINDOWS = list(range(0, 220, 20))
TRUE_AB = [w for w in WINDOWS if w != 100]  # a and b part for one window at 100


def _observed() -> Observed:
    heard: dict[int, dict[tuple[str, str], int]] = {}
    for w in WINDOWS:
        level = -70 if w in TRUE_AB else -90  # at 100 still in view, but weak
        heard[w] = {("a", "b"): level, ("b", "a"): level, ("a", "c"): -90}
    truth = {w: {("a", "b")} if w in TRUE_AB else set() for w in WINDOWS}
    return Observed({w: {"a", "b", "c"} for w in WINDOWS}, truth, heard)


def test_a_bridged_gap_counts_against_the_headline_but_not_the_verified_view() -> None:
    obs = _observed()
    negatives = len(WINDOWS) + 1  # (a, c) in every window, (a, b) at 100
    bridged = score(obs, -82, 20, 60)
    assert bridged["meeting_sensitivity_60s"] == 1.0 and bridged["true_meetings_60s"] == 2
    assert bridged["meeting_window_specificity"] == 1 - 1 / negatives
    assert bridged["meeting_verified_specificity"] == 1.0
    assert bridged["meeting_verified_precision"] == 1.0
    assert bridged["connection_precision"] == bridged["connection_recall"] == 1.0
    apart = score(obs, -82, 0, 60)
    assert apart["meeting_window_specificity"] == 1.0
    assert apart["meeting_sensitivity_60s"] == 1.0
    # 100 s runs are dropped by a 120 s minimum: no meeting, no connection.
    strict = score(obs, -82, 0, 120)
    assert strict["meeting_sensitivity_60s"] == 0.0 and strict["connection_recall"] == 0.0
    # At -90 dBm the weak window becomes a false contact; (a, c), heard one way, does not.
    loose = score(obs, -90, 0, 20)
    assert loose["window_specificity"] == 1 - 1 / negatives


def _row(rssi: int, sens: float, spec: float) -> dict[str, float]:
    return {
        "rssi": rssi,
        "gap": 20,
        "min": 60,
        "meeting_sensitivity_60s": sens,
        "meeting_window_specificity": spec,
    }


def test_goal_keeps_settings_met_on_every_seed_and_ranks_by_the_smallest_margin() -> None:
    seeds = [
        [_row(-80, 0.99, 0.99), _row(-82, 0.99, 0.98), _row(-84, 0.99, 0.99)],
        [_row(-80, 0.95, 0.99), _row(-82, 0.99, 0.99), _row(-84, 0.89, 0.99)],
    ]
    trace = [_row(-80, 0.91, 0.97), _row(-82, 0.99, 0.97), _row(-84, 0.99, 0.99)]
    result = goal(seeds, trace)
    every = result["on_every_conference_seed"]
    assert isinstance(every, list)
    assert [e["rssi"] for e in every] == [-82, -80]  # -84 misses on seed 2
    assert every[0]["conference_worst_specificity"] == 0.98
    assert every[1]["worst_margin"] == round(0.91 - 0.90, 4)
    also = result["also_on_trace"]
    assert isinstance(also, list) and [e["rssi"] for e in also] == [-82, -80]
    missed = goal(seeds, [_row(-80, 0.99, 0.94), _row(-82, 0.99, 0.97)])["also_on_trace"]
    assert isinstance(missed, list) and [e["rssi"] for e in missed] == [-82]
