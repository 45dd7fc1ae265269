"""The replay's result as a page: ``OUT/report.html`` next to ``edges.csv`` and ``fidelity.json``.

What a reader wants to see of a replay: how the detected meetings compare with the
trace's contact events (durations, side by side), how each pair's detected time together
compares with the trace's (one point per pair, the line y = x is perfect), and the
headline figures of ``fidelity.json`` as tiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from firmware_sim.fidelity import Edge
from inperson import charts
from inperson.report import duration, escape, html_page, section, tiles

_MAX_POINTS = 20_000
"""Pairs drawn in the scatter at most (the largest by trace time; a page stays small)."""


def _figure(value: object, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(str(value)):.{digits}f}"


def _headline(result: Mapping[str, Any]) -> str:
    edges, events = result["edges"], result["events"]
    error = result["contact_time"].get("relative_error")
    pairs = [
        ("edge precision", _figure(edges["precision"])),
        ("edge recall", _figure(edges["recall"])),
        ("meetings", f"{events['meetings']:,}"),
        ("trace contact events", f"{events['trace_contact_events']:,}"),
        ("contact time error", "n/a" if error is None else f"{100 * float(error):+.1f} %"),
    ]
    per_meeting = result.get("per_meeting") or {}
    if per_meeting:
        pairs.append(
            (
                f"sensitivity, meetings >= {per_meeting['min_event_seconds']} s",
                _figure(per_meeting.get("sensitivity")),
            )
        )
        pairs.append(("meeting precision", _figure(per_meeting.get("precision"))))
    per_window = result.get("per_window") or {}
    for key in ("sensitivity", "specificity"):
        if key in per_window:
            pairs.append((f"per-window {key}", _figure(per_window[key])))
    return tiles(pairs)


def _durations(result: Mapping[str, Any]) -> str:
    trace = result["events"]["trace_durations"]["histogram"]
    found = result["events"]["meeting_durations"]["histogram"]
    labels = list(trace)
    svg = charts.bar_chart(
        labels,
        [int(trace[label]) for label in labels],
        second=[int(found.get(label, 0)) for label in labels],
        legend=("trace contact events", "detected meetings"),
        xlabel="duration (s)",
        ylabel="count",
    )
    return section(
        "Durations",
        svg,
        "Contact events of the trace (consecutive listed windows) and the meetings the "
        "system recorded, by duration.",
    )


def _pairs(truth: Sequence[Edge], found: Sequence[Edge]) -> str:
    listed = {(e.i, e.j): e.contact_seconds for e in truth}
    detected = {(e.i, e.j): e.contact_seconds for e in found}
    both = sorted(listed.keys() & detected.keys(), key=lambda p: -listed[p])[:_MAX_POINTS]
    if not both:
        return section("Time together per pair", "<p class='empty'>No pair in common.</p>")
    svg = charts.scatter_log(
        [listed[p] for p in both],
        [detected[p] for p in both],
        xlabel="trace contact seconds",
        ylabel="detected contact seconds",
    )
    only_trace = len(listed.keys() - detected.keys())
    only_found = len(detected.keys() - listed.keys())
    total = sum(listed.values())
    return section(
        "Time together per pair",
        svg,
        f"{len(both):,} pairs in both; {only_trace:,} only in the trace, {only_found:,} only "
        f"detected. The trace lists {duration(total)} of contact in all.",
    )


def render_replay(result: Mapping[str, Any], truth: Sequence[Edge], found: Sequence[Edge]) -> str:
    """Return the page for a replay's ``fidelity.json`` object and its edges."""
    run = result.get("run", {})
    settings = run.get("settings", {})
    subtitle = (
        f"{run.get('trace', 'trace')} · {run.get('radio', '?')} radio · gap tolerance "
        f"{settings.get('gap_tolerance_seconds', '?')} s · minimum meeting "
        f"{settings.get('min_meeting_seconds', '?')} s · RSSI threshold "
        f"{settings.get('rssi_threshold_dbm', '?')} dBm"
    )
    parts = [
        "<h1>Trace replay</h1>",
        f'<p class="sub">{escape(subtitle)}</p>',
        _headline(result),
        _durations(result),
        _pairs(truth, found),
    ]
    return html_page("inperson trace replay", parts)


def write_replay_page(
    path: Path, result: Mapping[str, Any], truth: Sequence[Edge], found: Sequence[Edge]
) -> Path:
    """Write the page to ``path`` and return it."""
    path.write_text(render_replay(result, truth, found), encoding="utf-8")
    return path
