"""Detection fidelity of a replay: detected meetings against the trace they replayed.

Pure. Meetings come in trace time and trace ids (the caller maps badges and event
time back). Edges are unordered pairs; an edge's contact seconds are the sum of its
meetings' verified contact windows times the window length.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from firmware_sim.trace import ContactEvent, Pair, Trace, contact_events, id_key, ordered

DURATION_BINS = (20, 40, 60, 120, 300, 600, 1200, 3600)
"""Upper bounds (inclusive, seconds) of the duration histogram; a last bin takes the rest."""


@dataclass(frozen=True)
class DetectedMeeting:
    """One proximity meeting as the server stored it, in trace ids and trace time.

    Attributes:
        i: one trace id.
        j: the other.
        first_seen: trace time the first contact window starts.
        last_seen: trace time the last contact window ends.
        contact_seconds: verified contact windows times the window length.
    """

    i: str
    j: str
    first_seen: int
    last_seen: int
    contact_seconds: int


@dataclass(frozen=True)
class Edge:
    """One row of ``edges.csv``: a pair and what was detected between them."""

    i: str
    j: str
    contact_seconds: int
    meetings: int
    first_seen: int
    last_seen: int


EDGE_COLUMNS = ("i", "j", "contact_seconds", "meetings", "first_seen", "last_seen")


def detected_edges(meetings: Iterable[DetectedMeeting]) -> list[Edge]:
    """Aggregate meetings per pair, sorted by the pair's ids."""
    rows: dict[Pair, list[DetectedMeeting]] = defaultdict(list)
    for m in meetings:
        rows[ordered(m.i, m.j)].append(m)
    edges = [
        Edge(
            i=p[0],
            j=p[1],
            contact_seconds=sum(m.contact_seconds for m in ms),
            meetings=len(ms),
            first_seen=min(m.first_seen for m in ms),
            last_seen=max(m.last_seen for m in ms),
        )
        for p, ms in rows.items()
    ]
    edges.sort(key=lambda e: (id_key(e.i), id_key(e.j)))
    return edges


def trace_edges(trace: Trace) -> list[Edge]:
    """The trace's own edges, as ``edges.csv`` would list them for a perfect detector."""
    meetings = [
        DetectedMeeting(e.pair[0], e.pair[1], e.start, e.end, e.seconds)
        for e in contact_events(trace)
    ]
    return detected_edges(meetings)


def duration_summary(durations: Sequence[int]) -> dict[str, Any]:
    """Count, mean, median, 90th percentile, max and a histogram of durations (seconds)."""
    if not durations:
        return {"count": 0}
    ranked = sorted(durations)
    histogram: dict[str, int] = {}
    low = 0
    for high in DURATION_BINS:
        histogram[f"{low + 1}-{high}"] = sum(1 for d in ranked if low < d <= high)
        low = high
    histogram[f">{low}"] = sum(1 for d in ranked if d > low)
    return {
        "count": len(ranked),
        "mean": round(statistics.fmean(ranked), 2),
        "median": statistics.median(ranked),
        "p90": ranked[min(len(ranked) - 1, int(0.9 * len(ranked)))],
        "max": ranked[-1],
        "histogram": histogram,
    }


def window_scores(
    trace: Trace,
    meetings: Sequence[DetectedMeeting],
    bystanders: Mapping[int, Iterable[str]] | None = None,
) -> dict[str, Any] | None:
    """Per-window sensitivity and specificity of the detected contact windows.

    The universe of a window is every pair of the ids present in it (those the trace
    lists in contact then, and the replay's ``bystanders`` of the window: only they
    report). A meeting's windows are only known when it has no bridged gap (contact
    seconds = its span); otherwise this returns None.
    """
    w = trace.window_seconds
    detected: set[tuple[int, Pair]] = set()
    for m in meetings:
        if m.last_seen - m.first_seen != m.contact_seconds:
            return None
        pair = ordered(m.i, m.j)
        detected.update((t, pair) for t in range(m.first_seen + w, m.last_seen + 1, w))
    truth = {(t, p) for t, pairs in trace.windows.items() for p in pairs}
    present = {t: {x for p in pairs for x in p} for t, pairs in trace.windows.items()}
    for t, ids in (bystanders or {}).items():
        present.setdefault(t, set()).update(ids)
    universe = sum(len(ids) * (len(ids) - 1) // 2 for ids in present.values())
    tp = len(detected & truth)
    fp = len(detected - truth)
    outside = sum(1 for t, p in detected - truth if not set(p) <= present.get(t, set()))
    fn = len(truth - detected)
    tn = universe - tp - fn - (fp - outside)
    return {
        "true_positives": tp,
        "false_positives": fp,
        "false_positives_outside_universe": outside,
        "false_negatives": fn,
        "true_negatives": tn,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }


def meeting_scores(
    events: Sequence[ContactEvent], meetings: Sequence[DetectedMeeting], min_seconds: int
) -> dict[str, Any]:
    """Per-meeting sensitivity and precision.

    Sensitivity: share of true events lasting at least ``min_seconds`` that a meeting of
    the same pair overlaps. Precision: share of meetings overlapping a true event of
    their pair.
    """
    by_pair: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
    for m in meetings:
        by_pair[ordered(m.i, m.j)].append((m.first_seen, m.last_seen))
    truth_by_pair: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
    for e in events:
        truth_by_pair[e.pair].append((e.start, e.end))

    def overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
        return any(a < span[1] and span[0] < b for a, b in others)

    long_events = [e for e in events if e.seconds >= min_seconds]
    found = sum(1 for e in long_events if overlaps((e.start, e.end), by_pair.get(e.pair, [])))
    true_meetings = sum(
        1
        for m in meetings
        if overlaps((m.first_seen, m.last_seen), truth_by_pair.get(ordered(m.i, m.j), []))
    )
    return {
        "min_event_seconds": min_seconds,
        "true_events": len(long_events),
        "true_events_detected": found,
        "sensitivity": _ratio(found, len(long_events)),
        "meetings": len(meetings),
        "meetings_overlapping_a_true_event": true_meetings,
        "precision": _ratio(true_meetings, len(meetings)),
    }


def _seconds(edges: dict[Pair, Edge], pair: Pair) -> int:
    edge = edges.get(pair)
    return edge.contact_seconds if edge is not None else 0


def _ratio(num: int, den: int) -> float:
    return round(num / den, 6) if den else 1.0


def fidelity(
    trace: Trace,
    meetings: Sequence[DetectedMeeting],
    gap_tolerance_seconds: int,
    bystanders: Mapping[int, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Compare detected meetings with the trace.

    ``bystanders`` (trace time -> ids present but not in contact, as the replay placed
    them) widen the per-window universe.

    Returns:
        A JSON-ready object: trace and detection sizes, edge precision and recall,
        contact-time error (total, and summed per edge), contact events of the trace
        (with the detection's gap tolerance applied, and strict SocioPatterns events)
        against meetings, and both duration distributions.
    """
    truth = {(e.i, e.j): e for e in trace_edges(trace)}
    found = {(e.i, e.j): e for e in detected_edges(meetings)}
    hits = truth.keys() & found.keys()
    true_seconds = sum(e.contact_seconds for e in truth.values())
    found_seconds = sum(e.contact_seconds for e in found.values())
    per_edge_error = sum(
        abs(_seconds(found, p) - _seconds(truth, p)) for p in truth.keys() | found.keys()
    )
    equal = sum(1 for p in hits if found[p].contact_seconds == truth[p].contact_seconds)
    events: list[ContactEvent] = contact_events(trace)
    bridged = contact_events(trace, gap_tolerance_seconds)
    return {
        "trace": {
            "lines": trace.lines,
            "bad_lines": trace.bad_lines,
            "ids": len(trace.ids),
            "windows": len(trace.windows),
            "contacts": trace.contacts,
            "edges": len(truth),
            "contact_events": len(events),
            "contact_seconds": true_seconds,
        },
        "detected": {
            "edges": len(found),
            "meetings": len(meetings),
            "contact_seconds": found_seconds,
        },
        "edges": {
            "true_positives": len(hits),
            "false_positives": len(found.keys() - truth.keys()),
            "false_negatives": len(truth.keys() - found.keys()),
            "precision": _ratio(len(hits), len(found)),
            "recall": _ratio(len(hits), len(truth)),
            "contact_seconds_equal": equal,
        },
        "contact_time": {
            "error_seconds": found_seconds - true_seconds,
            "relative_error": round((found_seconds - true_seconds) / true_seconds, 6)
            if true_seconds
            else 0.0,
            "absolute_error_seconds_summed_over_edges": per_edge_error,
        },
        "events": {
            "trace_contact_events": len(events),
            "trace_events_with_gap_tolerance": len(bridged),
            "meetings": len(meetings),
            "trace_durations": duration_summary([e.seconds for e in events]),
            "meeting_durations": duration_summary([m.last_seen - m.first_seen for m in meetings]),
        },
        "per_window": window_scores(trace, meetings, bystanders),
        "per_meeting": meeting_scores(bridged, meetings, 60),
    }
