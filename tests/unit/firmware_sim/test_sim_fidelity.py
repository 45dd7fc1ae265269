"""Fidelity of detected meetings against a trace, on an example worked out by hand."""

from __future__ import annotations

from firmware_sim.fidelity import (
    DetectedMeeting,
    detected_edges,
    duration_summary,
    fidelity,
    meeting_scores,
    trace_edges,
    window_scores,
)
from firmware_sim.trace import contact_events, parse_trace

TRACE = parse_trace(["20 1 2", "40 1 2", "80 1 2", "40 2 3", "40 1 3"])
DETECTED = [
    DetectedMeeting("2", "1", 0, 40, 40),  # either order of the pair
    DetectedMeeting("1", "2", 60, 80, 20),
    DetectedMeeting("2", "3", 20, 40, 20),
    DetectedMeeting("1", "4", 60, 80, 20),  # 4 never appears in the trace
]


def test_trace_edges_sum_each_pairs_windows() -> None:
    edges = [
        (e.i, e.j, e.contact_seconds, e.meetings, e.first_seen, e.last_seen)
        for e in trace_edges(TRACE)
    ]
    assert edges == [("1", "2", 60, 2, 0, 80), ("1", "3", 20, 1, 20, 40), ("2", "3", 20, 1, 20, 40)]


def test_detected_edges_aggregate_meetings_per_unordered_pair() -> None:
    edges = [(e.i, e.j, e.contact_seconds, e.meetings) for e in detected_edges(DETECTED)]
    assert edges == [("1", "2", 60, 2), ("1", "4", 20, 1), ("2", "3", 20, 1)]


def test_edge_scores_and_contact_time() -> None:
    result = fidelity(TRACE, DETECTED, 0)
    assert result["edges"] == {
        "true_positives": 2,
        "false_positives": 1,
        "false_negatives": 1,
        "precision": round(2 / 3, 6),
        "recall": round(2 / 3, 6),
        "contact_seconds_equal": 2,
    }
    assert result["contact_time"] == {
        "error_seconds": 0,
        "relative_error": 0.0,
        "absolute_error_seconds_summed_over_edges": 40,
    }
    assert result["events"]["trace_contact_events"] == 4
    assert result["events"]["meetings"] == 4
    assert result["trace"]["contact_seconds"] == 100


def test_window_scores() -> None:
    scores = window_scores(TRACE, DETECTED)
    assert scores == {
        "true_positives": 4,
        "false_positives": 1,
        "false_positives_outside_universe": 1,
        "false_negatives": 1,
        "true_negatives": 0,
        "sensitivity": 0.8,
        "specificity": 0.0,
    }
    bridged = [DetectedMeeting("1", "2", 0, 80, 60)]  # a gap bridged: windows unknown
    assert window_scores(TRACE, bridged) is None


def test_bystanders_widen_the_window_universe() -> None:
    # 4 stood in the hall at t = 80: pairs (1, 4) and (2, 4) join the universe, and the
    # detected (1, 4) becomes a false positive inside it.
    scores = window_scores(TRACE, DETECTED, {80: ("4",)})
    assert scores is not None
    assert scores["false_positives_outside_universe"] == 0
    assert scores["true_negatives"] == 1
    assert scores["specificity"] == 0.5
    assert fidelity(TRACE, DETECTED, 0, {80: ("4",)})["per_window"] == scores


def test_meeting_scores() -> None:
    scores = meeting_scores(contact_events(TRACE), DETECTED, 20)
    assert scores["true_events"] == 4
    assert scores["true_events_detected"] == 3
    assert scores["precision"] == 0.75
    assert meeting_scores(contact_events(TRACE), DETECTED, 60)["true_events"] == 0


def test_duration_summary() -> None:
    summary = duration_summary([20, 20, 40, 100, 5000])
    assert summary["count"] == 5 and summary["median"] == 40 and summary["max"] == 5000
    assert summary["histogram"]["1-20"] == 2
    assert summary["histogram"][">3600"] == 1
    assert duration_summary([]) == {"count": 0}
