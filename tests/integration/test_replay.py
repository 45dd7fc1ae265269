"""``inperson replay`` through a real broker, gateway and server, checked against the trace.

The expectations are computed here from the trace's raw lines, independently of
``firmware_sim.trace`` and ``firmware_sim.fidelity``: with the ideal radio, every pair's
contact seconds, meeting count, first and last time in ``edges.csv`` must be exactly
what design.md's meeting rule makes of the listed windows.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from rich.console import Console

from inperson.replay import ReplayOptions, run_replay
from tests.conftest import DATASETS

pytestmark = pytest.mark.integration

SLICE_SECONDS = 2 * 3600


def _numbers_first(trace_id: str) -> tuple[int, int, str]:
    return (0, int(trace_id), "") if trace_id.isdigit() else (1, 0, trace_id)


def _expected_edges(
    lines: list[str], gap: int, min_meeting: int, window: int = 20
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(i, j) -> (contact_seconds, meetings, first_seen, last_seen) under the meeting rule."""
    ends: dict[tuple[str, str], set[int]] = defaultdict(set)
    for line in lines:
        fields = line.split()
        if len(fields) != 3 or not fields[0].isdigit() or fields[1] == fields[2]:
            continue
        i, j = sorted(fields[1:], key=_numbers_first)
        ends[(i, j)].add(int(fields[0]))
    result: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for pair, times in ends.items():
        runs: list[list[int]] = []
        for t in sorted(times):
            if runs and (t - window) - runs[-1][-1] <= gap:
                runs[-1].append(t)
            else:
                runs.append([t])
        kept = [r for r in runs if r[-1] - (r[0] - window) >= min_meeting]
        if kept:
            result[pair] = (
                sum(len(r) for r in kept) * window,
                len(kept),
                kept[0][0] - window,
                kept[-1][-1],
            )
    return result


def _read_edges(path: Path) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [] or list(rows[0]) == [
        "i",
        "j",
        "contact_seconds",
        "meetings",
        "first_seen",
        "last_seen",
    ]
    return {
        (r["i"], r["j"]): (
            int(r["contact_seconds"]),
            int(r["meetings"]),
            int(r["first_seen"]),
            int(r["last_seen"]),
        )
        for r in rows
    }


def test_a_real_sfhh_slice_replays_exactly_with_the_ideal_radio(tmp_path: Path) -> None:
    """The first two hours of SFHH (generated from the data set at test time)."""
    lines = (DATASETS / "sfhh_2009_tij.dat").read_text().splitlines()
    first = int(lines[0].split()[0])
    part = [line for line in lines if int(line.split()[0]) <= first + SLICE_SECONDS]
    trace = tmp_path / "sfhh-slice.dat"
    trace.write_text("\n".join(part) + "\n")
    out = tmp_path / "out"
    result = run_replay(
        ReplayOptions(trace=trace, out=out, radio="ideal", drain_timeout_s=120),
        Console(quiet=True),
    )
    expected = _expected_edges(part, gap=0, min_meeting=20)
    assert len(part) > 2_000 and len(expected) > 200
    assert _read_edges(out / "edges.csv") == expected
    assert result["edges"]["precision"] == 1.0 and result["edges"]["recall"] == 1.0
    assert result["contact_time"]["error_seconds"] == 0
    assert result["events"]["meetings"] == sum(m for _, m, _, _ in expected.values())
    assert result["events"]["meetings"] == result["events"]["trace_contact_events"]
    assert result["per_window"]["sensitivity"] == 1.0
    assert result["per_window"]["specificity"] == 1.0
    assert result["run"]["rejected"] == {}
    assert json.loads((out / "fidelity.json").read_text()) == result
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 2  # durations, time together per pair
    assert f"{len(expected):,} pairs in both; 0 only in the trace, 0 only detected" in page


def _generated_trace(seed: int) -> list[str]:
    """Random contacts with runs, gaps, long silences, textual ids and a few bad lines."""
    rng = random.Random(seed)
    ids = [str(k) for k in range(1, 16)] + ["alice", "bob-2"]
    t = 1_000 + 20 * rng.randrange(50)
    lines: list[str] = []
    for _ in range(120):
        t += 20 * rng.choice([1, 1, 1, 2, 3, 300])  # mostly consecutive, sometimes hours apart
        for _ in range(rng.randrange(1, 5)):
            i, j = rng.sample(ids, 2)
            lines.append(f"{t} {i} {j}")
            if rng.random() < 0.6:
                lines.append(f"{t + 20} {j} {i}")
    lines.sort(key=lambda line: int(line.split()[0]))
    return _dedupe_pairs(lines)


@pytest.mark.parametrize(
    ("seed", "gap", "min_meeting", "connections"), [(1, 0, 20, 1), (2, 40, 60, 3)]
)
def test_generated_traces_round_trip_through_the_command(
    tmp_path: Path, seed: int, gap: int, min_meeting: int, connections: int
) -> None:
    """One connection (broker keeps the order), and three (acknowledgement barriers)."""
    good = _generated_trace(seed)
    trace = tmp_path / "generated.dat"
    bad = ["# a comment", "20 7 7", "not a line", "33 1 2"]
    trace.write_text("\n".join(bad[:2] + good + bad[2:]) + "\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "inperson",
            "replay",
            str(trace),
            "--out",
            str(out),
            "--gap-tolerance",
            str(gap),
            "--min-meeting",
            str(min_meeting),
            "--connections",
            str(connections),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "line 2: self-contact: 20 7 7" in done.stderr
    last = len(good) + 3
    assert f"line {last}: time is not a non-negative integer: not a line" in done.stderr
    assert f"line {last + 1}: time is off the 20 s grid" in done.stderr
    assert "skipped 3 bad lines" in done.stderr
    expected = _expected_edges(good, gap=gap, min_meeting=min_meeting)
    result = json.loads((out / "fidelity.json").read_text())
    assert _read_edges(out / "edges.csv") == expected, (result["run"], done.stderr[-2000:])
    assert result["trace"]["bad_lines"] == 3
    assert result["run"]["settings"]["gap_tolerance_seconds"] == gap
    assert result["events"]["meetings"] == sum(m for _, m, _, _ in expected.values())


def _dedupe_pairs(lines: list[str]) -> list[str]:
    """Drop a line repeating a (t, pair) already listed in the other order, as the parser does."""
    seen: set[tuple[str, frozenset[str]]] = set()
    kept = []
    for line in lines:
        t, i, j = line.split()
        key = (t, frozenset((i, j)))
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept
