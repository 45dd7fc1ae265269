"""The replay's report page (``inperson.replay_page``) from a fidelity object and edges."""

from __future__ import annotations

from pathlib import Path

from firmware_sim.fidelity import Edge
from inperson.replay_page import render_replay, write_replay_page

_BINS = ("1-20", "21-40", "41-60")


def _result(**per_meeting: object) -> dict[str, object]:
    return {
        "edges": {"precision": 0.5, "recall": 1.0},
        "contact_time": {"relative_error": None},
        "events": {
            "meetings": 3,
            "trace_contact_events": 4,
            "trace_durations": {"histogram": dict.fromkeys(_BINS, 2)},
            "meeting_durations": {"histogram": {"41-60": 3}},
        },
        "per_meeting": per_meeting or None,
        "per_window": None,
        "run": {"trace": "<t>.dat", "radio": "ideal", "settings": {"gap_tolerance_seconds": 0}},
    }


def test_page_compares_durations_and_pairs(tmp_path: Path) -> None:
    truth = [Edge("1", "2", 60, 1, 0, 60), Edge("1", "3", 20, 1, 0, 20)]
    found = [Edge("1", "2", 40, 1, 0, 60), Edge("2", "3", 20, 1, 0, 20)]
    result = _result(min_event_seconds=60, sensitivity=1.0, precision=0.5)
    path = write_replay_page(tmp_path / "report.html", result, truth, found)
    page = path.read_text()
    assert page.count("<svg") == 2
    assert "1 pairs in both; 1 only in the trace, 1 only detected" in page
    assert "sensitivity, meetings &gt;= 60 s" in page and "n/a" in page  # no relative error
    assert "&lt;t&gt;.dat" in page and "<t>" not in page


def test_page_without_common_pairs_or_meeting_scores() -> None:
    page = render_replay(_result(), [Edge("1", "2", 20, 1, 0, 20)], [])
    assert "No pair in common" in page and page.count("<svg") == 1
    assert "meeting precision" not in page
