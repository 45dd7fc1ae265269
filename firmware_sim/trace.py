"""Contact traces in the SocioPatterns ``t i j`` format: parsing, and what a replay is scored on.

A line ``t i j`` says badges ``i`` and ``j`` were in face-to-face contact during the
window ``[t - window, t]``. Bad lines are expected input: each is reported with its
line number and reason, counted, and skipped; only a trace without a single usable
line is an error.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_sim.errors import TraceError

logger = logging.getLogger(__name__)

Pair = tuple[str, str]

MAX_ISSUES_KEPT = 100
"""Bad lines kept with their text; all of them are counted."""
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def id_key(trace_id: str) -> tuple[int, int, str]:
    """Sort key of trace ids: numeric ids in numeric order, before any other id."""
    if trace_id.isdigit():
        return (0, int(trace_id), "")
    return (1, 0, trace_id)


def ordered(i: str, j: str) -> Pair:
    """The pair in ``id_key`` order."""
    return (i, j) if id_key(i) <= id_key(j) else (j, i)


@dataclass(frozen=True)
class TraceIssue:
    """One line of a trace that was skipped.

    Attributes:
        line: 1-based line number.
        reason: why it was skipped.
        text: the line (at most 80 characters of it).
    """

    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class Trace:
    """The usable contacts of a trace, by window.

    Attributes:
        window_seconds: length of a window (the trace's time resolution).
        windows: trace time ``t`` (window end) -> the pairs in contact, each in ``ordered``
            order, sorted; keys ascending.
        ids: every id that appears in a usable line, in ``id_key`` order.
        lines: lines read (including blank and bad ones).
        bad_lines: number of skipped lines (comments and blank lines are not bad).
        issues: the first ``MAX_ISSUES_KEPT`` skipped lines.
    """

    window_seconds: int
    windows: dict[int, tuple[Pair, ...]]
    ids: tuple[str, ...]
    lines: int = 0
    bad_lines: int = 0
    issues: tuple[TraceIssue, ...] = field(default=())

    @property
    def contacts(self) -> int:
        """Number of (window, pair) contacts."""
        return sum(len(pairs) for pairs in self.windows.values())

    def pair_windows(self) -> dict[Pair, list[int]]:
        """Each pair's window ends, ascending."""
        result: dict[Pair, list[int]] = defaultdict(list)
        for t, pairs in self.windows.items():
            for p in pairs:
                result[p].append(t)
        return dict(result)


def _canonical_id(token: str) -> str | None:
    if not _ID.match(token):
        return None
    return str(int(token)) if token.isdigit() else token


def parse_trace(lines: Iterable[str], window_seconds: int = 20) -> Trace:
    """Parse a ``t i j`` trace; bad lines are counted and reported, never fatal.

    Accepted: whitespace- or comma-separated fields, lines in any order, ``#`` comments
    and blank lines. Numeric ids are normalised (``007`` is ``7``). Skipped, with a
    reason: a wrong number of fields, a time that is not a non-negative integer, an id
    that is not 1-64 of ``[A-Za-z0-9_.:-]``, a self-contact, a repeated contact (either
    order of the pair), and a time off the grid ``t0 + k * window`` of the first usable
    line.

    Args:
        lines: the trace's lines.
        window_seconds: the trace's window length.

    Raises:
        ValueError: ``window_seconds`` is not positive.
    """
    if window_seconds < 1:
        raise ValueError("window_seconds must be >= 1")
    seen: dict[int, set[Pair]] = defaultdict(set)
    issues: list[TraceIssue] = []
    bad = 0
    count = 0
    grid: int | None = None

    def skip(number: int, reason: str, text: str) -> None:
        nonlocal bad
        bad += 1
        if len(issues) < MAX_ISSUES_KEPT:
            issues.append(TraceIssue(number, reason, text[:80]))

    for number, raw in enumerate(lines, start=1):
        count = number
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.replace(",", " ").split()
        if len(fields) != 3:
            skip(number, f"expected 3 fields 't i j', got {len(fields)}", text)
            continue
        if not fields[0].isdigit():
            skip(number, "time is not a non-negative integer", text)
            continue
        t = int(fields[0])
        i, j = _canonical_id(fields[1]), _canonical_id(fields[2])
        if i is None or j is None:
            skip(number, "id is not 1-64 characters of [A-Za-z0-9_.:-]", text)
            continue
        if i == j:
            skip(number, "self-contact", text)
            continue
        if grid is None:
            grid = t % window_seconds
        elif t % window_seconds != grid:
            skip(number, f"time is off the {window_seconds} s grid of the first line", text)
            continue
        pair = ordered(i, j)
        if pair in seen[t]:
            skip(number, "repeated contact", text)
            continue
        seen[t].add(pair)
    windows = {
        t: tuple(sorted(pairs, key=lambda p: (id_key(p[0]), id_key(p[1]))))
        for t, pairs in sorted(seen.items())
        if pairs
    }
    ids = sorted({x for pairs in windows.values() for p in pairs for x in p}, key=id_key)
    if bad:
        logger.warning("trace: skipped %d bad lines of %d", bad, count)
    return Trace(window_seconds, windows, tuple(ids), count, bad, tuple(issues))


def load_trace(path: Path, window_seconds: int = 20) -> Trace:
    """Read and parse a trace file.

    Raises:
        TraceError: the file cannot be read, or has no usable line.
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            trace = parse_trace(handle, window_seconds)
    except OSError as exc:
        raise TraceError(f"cannot read trace {path}: {exc}") from exc
    if not trace.windows:
        first = trace.issues[0] if trace.issues else None
        hint = f"; line {first.line}: {first.reason}" if first else ""
        raise TraceError(f"trace {path} has no usable contact line{hint}")
    logger.info(
        "loaded trace %s: %d contacts, %d ids, %d windows, %d bad lines",
        path,
        trace.contacts,
        len(trace.ids),
        len(trace.windows),
        trace.bad_lines,
    )
    return trace


@dataclass(frozen=True)
class ContactEvent:
    """A run of consecutive contact windows of one pair.

    Attributes:
        pair: the two ids, in ``ordered`` order.
        start: trace time the first window starts (its ``t`` minus the window).
        end: trace time the last window ends (its ``t``).
    """

    pair: Pair
    start: int
    end: int

    @property
    def seconds(self) -> int:
        """Duration."""
        return self.end - self.start


def contact_events(trace: Trace, gap_tolerance_seconds: int = 0) -> list[ContactEvent]:
    """The trace's contact events: runs of a pair's windows with gaps up to the tolerance.

    With tolerance 0 these are SocioPatterns contact events (consecutive windows).
    """
    w = trace.window_seconds
    events: list[ContactEvent] = []
    for pair, ends in trace.pair_windows().items():
        start, last = ends[0] - w, ends[0]
        for t in ends[1:]:
            if t - w - last > gap_tolerance_seconds:
                events.append(ContactEvent(pair, start, last))
                start = t - w
            last = t
        events.append(ContactEvent(pair, start, last))
    events.sort(key=lambda e: (e.start, id_key(e.pair[0]), id_key(e.pair[1])))
    return events


def bystanders(trace: Trace, presence_gap_seconds: int) -> dict[int, tuple[str, ...]]:
    """Who is at the venue in a window without being in any listed contact.

    The trace only lists contacts, so presence is inferred: an id is present in a
    window of the trace that lies between two of its own contact windows when its
    silence there (from the end of the one to the start of the other) is at most
    ``presence_gap_seconds``. Longer silences count as away (a session, lunch, gone
    home); 0 makes nobody a bystander.

    Returns:
        Trace time ``t`` of a window in ``trace.windows`` -> the ids present in it but not
        in contact, in ``id_key`` order; windows without any are left out.

    Raises:
        ValueError: ``presence_gap_seconds`` is negative.
    """
    if presence_gap_seconds < 0:
        raise ValueError("presence_gap_seconds must be >= 0")
    w = trace.window_seconds
    times = sorted(trace.windows)
    active: dict[str, list[int]] = defaultdict(list)
    for t, pairs in trace.windows.items():
        for x in {x for p in pairs for x in p}:
            active[x].append(t)
    result: dict[int, list[str]] = defaultdict(list)
    for x in trace.ids:
        ends = active[x]
        for a, b in zip(ends, ends[1:], strict=False):
            if b - a > w and b - a - w <= presence_gap_seconds:
                for k in range(bisect.bisect_right(times, a), bisect.bisect_left(times, b)):
                    result[times[k]].append(x)
    return {t: tuple(result[t]) for t in sorted(result)}


def format_trace(windows: dict[int, Iterable[Pair]]) -> str:
    """Write contacts as trace text, one ``t i j`` line per contact, sorted by time."""
    return "".join(f"{t} {i} {j}\n" for t in sorted(windows) for i, j in windows[t])
