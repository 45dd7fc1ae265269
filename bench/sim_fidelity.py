"""Detection fidelity with the realistic radio: per-window and per-meeting sensitivity/specificity.

Two sources of truth, both run through the real badge code (signed, encoded reports,
decoded and EphID-resolved here as a gateway would):

* the simulated conference (``firmware_sim.simulation.simulate``), ground truth =
  face-to-face within 1.5 m and 60 degrees;
* a SocioPatterns trace replayed with ``TraceRealisticRadio`` (default: SFHH).

The gateway's rules (mutual hearing at or above the RSSI threshold, runs with gaps up
to the tolerance bridged, runs shorter than the minimum dropped) are applied for a grid
of settings, so the defaults can be tuned without a broker. ``inperson replay`` checks
one setting through the whole system.

Per window: negatives are the pairs *in radio view* (at least one sample received in
either direction, at any RSSI) that are not in contact, like the pairs in a camera's
view in a video validation; pairs out of range would make any detector look perfect.
Sensitivity = detected true contact windows / true windows; specificity = 1 - false
contact windows / negatives. Per meeting: true meetings are runs of consecutive true windows lasting
at least 60 s; sensitivity = share of them overlapped by a detected meeting of the
pair; specificity = share of the true negatives, at the meeting level, i.e. pair-windows
outside every true contact that no detected meeting covers (detected meetings' spans,
gaps included, count as positive). A second view, ``meeting_verified_specificity``,
counts only a meeting's verified windows (mutual windows at or above the threshold, the
ones its ``contact_seconds`` counts) and not its bridged gaps; the headline stays the
first. ``goal`` lists the settings that reach sensitivity >= 0.90 at (headline)
specificity >= 0.95 on every conference seed, and those of them that also do on the trace.

The trace replay places bystanders (``firmware_sim.trace.bystanders``) with
``--presence-gap`` seconds (default ``PRESENCE_GAP_S``; 0 = only people in contact).

    .venv/bin/python -m bench.sim_fidelity [--badges 200 --minutes 60 --seeds 7 8 9]
        [--trace ../shared/datasets/sfhh_2009_tij.dat --trace-hours 32 --presence-gap 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.config import SimSettings
from firmware_sim.radio import (
    CALIBRATED_RSSI_THRESHOLD_DBM,
    FREE_SPACE_PARAMS,
    HERALD_PARAMS,
    RadioParams,
    RealisticRadio,
)
from firmware_sim.replay import (
    PRESENCE_GAP_S,
    TraceRealisticRadio,
    plan_replay,
    replay_windows,
)
from firmware_sim.simulation import simulate
from firmware_sim.trace import load_trace, parse_trace
from firmware_sim.window_output import WindowOutput
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import decode_body, split_payload
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import SightingReport
from protocol.topics import BadgeChannel, parse_badge_topic

logger = logging.getLogger("bench.sim_fidelity")

Pair = tuple[str, str]
WINDOW = 20
LONG_MEETING_S = 60
LINK_S = DetectionSettings().link_threshold_seconds
THRESHOLDS = tuple(range(-92, -63, 2))
GAPS = (0, 20, 40, 60, 80)
MINIMA = (20, 40, 60)
GOAL_SENSITIVITY = 0.90
GOAL_SPECIFICITY = 0.95


def make_bundles(n: int, settings: DetectionSettings, seed: int = 1) -> list[ProvisioningBundle]:
    """``n`` bundles with keys from a seeded RNG (no server needed)."""
    import random

    rng = random.Random(seed)
    return [
        ProvisioningBundle(
            event="bench",
            badge=f"b{k:05d}",
            signing_seed=rng.randbytes(32).hex(),
            ephid_key=rng.randbytes(32).hex(),
            settings=settings,
        )
        for k in range(n)
    ]


@dataclass
class Observed:
    """Per window: who reported, the true pairs, and every directed hearing's median RSSI."""

    reporters: dict[int, set[str]]
    truth: dict[int, set[Pair]]
    heard: dict[int, dict[tuple[str, str], int]]


def observe(outputs: Iterable[WindowOutput], bundles: list[ProvisioningBundle]) -> Observed:
    """Decode every report and resolve its EphIDs like a gateway."""
    tables: dict[int, dict[str, str]] = {}
    obs = Observed({}, {}, {})
    for out in outputs:
        epoch = epoch_of(out.window_start, 900)
        table = tables.get(epoch)
        if table is None:
            table = {
                derive_ephid(bytes.fromhex(b.ephid_key), b.event, epoch).hex(): b.badge
                for b in bundles
            }
            tables = {epoch: table}
        reporters: set[str] = set()
        heard: dict[tuple[str, str], int] = {}
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            if parsed.channel is not BadgeChannel.REPORTS:
                continue
            report = decode_body(split_payload(payload, parsed.channel)[1], parsed.channel)
            assert isinstance(report, SightingReport)
            reporters.add(report.badge)
            for h in report.heard:
                other = table.get(h.ephid)
                if other is not None and other != report.badge:
                    key = (report.badge, other)
                    heard[key] = max(h.rssi_median, heard.get(key, -999))
        w = out.window_start
        obs.reporters[w] = reporters
        obs.truth[w] = set(out.contacts)
        obs.heard[w] = heard
    return obs


def _runs(starts: list[int], gap: int) -> Iterator[list[int]]:
    run: list[int] = []
    for s in starts:
        if run and s - (run[-1] + WINDOW) > gap:
            yield run
            run = []
        run.append(s)
    if run:
        yield run


def score(obs: Observed, threshold: int, gap: int, minimum: int) -> dict[str, float]:
    """Per-window and per-meeting sensitivity and specificity for one setting."""
    mutual: dict[int, set[Pair]] = {}
    for w, heard in obs.heard.items():
        mutual[w] = {
            (a, b)
            for (a, b), rssi in heard.items()
            if a < b and rssi >= threshold and heard.get((b, a), -999) >= threshold
        }
    # Negatives: pairs in radio view (any sample received, either direction) not in contact.
    negatives = sum(
        len({(a, b) if a < b else (b, a) for a, b in heard} - obs.truth[w])
        for w, heard in obs.heard.items()
    )
    positives = sum(len(t) for t in obs.truth.values())
    tp = sum(len(mutual[w] & obs.truth[w]) for w in obs.heard)
    fp = sum(len(mutual[w] - obs.truth[w]) for w in obs.heard)
    # Meetings from mutual windows under the gateway's rule.
    by_pair: dict[Pair, list[int]] = defaultdict(list)
    for w in sorted(mutual):
        for p in mutual[w]:
            by_pair[p].append(w)
    covered: set[tuple[int, Pair]] = set()
    verified: set[tuple[int, Pair]] = set()
    spans: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
    for p, starts in by_pair.items():
        for run in _runs(starts, gap):
            if run[-1] + WINDOW - run[0] >= minimum:
                spans[p].append((run[0], run[-1] + WINDOW))
                covered.update((s, p) for s in range(run[0], run[-1] + WINDOW, WINDOW))
                verified.update((s, p) for s in run)
    true_by_pair: dict[Pair, list[int]] = defaultdict(list)
    for w in sorted(obs.truth):
        for p in obs.truth[w]:
            true_by_pair[p].append(w)
    long_true = found = 0
    for p, starts in true_by_pair.items():
        for run in _runs(starts, 0):
            begin, end = run[0], run[-1] + WINDOW
            if end - begin < LONG_MEETING_S:
                continue
            long_true += 1
            if any(a < end and begin < b for a, b in spans.get(p, [])):
                found += 1
    truth_set = {(w, p) for w, ps in obs.truth.items() for p in ps}
    # Connections: pairs whose verified (or true) contact time reaches the link threshold.
    true_links = {p for p, starts in true_by_pair.items() if len(starts) * WINDOW >= LINK_S}
    seconds: dict[Pair, int] = defaultdict(int)
    for _, p in verified:
        seconds[p] += WINDOW
    links = {p for p, total in seconds.items() if total >= LINK_S}
    covered_false = len(covered - truth_set)
    verified_false = len(verified - truth_set)
    return {
        "window_sensitivity": tp / positives if positives else 1.0,
        "window_specificity": 1 - fp / negatives if negatives else 1.0,
        "window_precision": tp / (tp + fp) if tp + fp else 1.0,
        "meeting_sensitivity_60s": found / long_true if long_true else 1.0,
        "meeting_window_specificity": 1 - covered_false / negatives if negatives else 1.0,
        "meeting_window_precision": 1 - covered_false / len(covered) if covered else 1.0,
        "meeting_verified_specificity": 1 - verified_false / negatives if negatives else 1.0,
        "meeting_verified_precision": 1 - verified_false / len(verified) if verified else 1.0,
        "true_meetings_60s": long_true,
        "connection_precision": len(links & true_links) / len(links) if links else 1.0,
        "connection_recall": len(links & true_links) / len(true_links) if true_links else 1.0,
    }


def sweep(obs: Observed) -> list[dict[str, float]]:
    """Every (threshold, gap, minimum) of the grid."""
    rows = []
    for threshold, gap, minimum in itertools.product(THRESHOLDS, GAPS, MINIMA):
        row: dict[str, float] = {"rssi": threshold, "gap": gap, "min": minimum}
        row.update(score(obs, threshold, gap, minimum))
        rows.append(row)
    return rows


def conference(badges: int, minutes: float, seed: int, params: RadioParams) -> Observed:
    """Simulate a conference with the realistic radio and observe it."""
    bundles = make_bundles(badges, DetectionSettings())
    settings = SimSettings(
        bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic", taps=False
    )
    radio = RealisticRadio.create(badges, np.random.default_rng(seed), params)
    return observe(simulate(bundles, settings, radio=radio), bundles)


def trace_replay(
    path: Path, hours: float, seed: int, params: RadioParams, presence_gap: int = PRESENCE_GAP_S
) -> Observed:
    """Replay (the first ``hours`` of) a trace with the realistic radio and observe it."""
    trace = load_trace(path)
    first = min(trace.windows)
    if hours:
        lines = [
            f"{t} {i} {j}"
            for t, pairs in trace.windows.items()
            if t <= first + hours * 3600
            for i, j in pairs
        ]
        trace = parse_trace(lines)
    settings = DetectionSettings()
    bundles = make_bundles(len(trace.ids), settings)
    by_id = dict(zip(trace.ids, bundles, strict=True))
    plan = plan_replay(trace, settings, 1_780_563_600)
    radio = TraceRealisticRadio.create(len(trace.ids), seed, params, presence_gap)
    outputs = replay_windows(trace, by_id, plan, radio)
    return observe((o for o in outputs if o.contacts), bundles)


def _calibrated(rows: list[dict[str, float]]) -> dict[str, float]:
    """The row of the threshold tuned for the default radio, gap and minimum 60 s."""
    wanted = (CALIBRATED_RSSI_THRESHOLD_DBM, 60, 60)
    return next(r for r in rows if (r["rssi"], r["gap"], r["min"]) == wanted)


def _best(rows: list[dict[str, float]]) -> dict[str, float] | None:
    """Highest meeting sensitivity at meeting-level specificity >= 0.95.

    Sensitivity saturates near 1.0 for many settings: ties (to 3 decimals) go to the
    higher precision.
    """
    ok = [r for r in rows if r["meeting_window_specificity"] >= 0.95]
    return max(
        ok,
        key=lambda r: (round(r["meeting_sensitivity_60s"], 3), r["meeting_window_precision"]),
        default=None,
    )


def _meets_goal(row: dict[str, float]) -> bool:
    return (
        row["meeting_sensitivity_60s"] >= GOAL_SENSITIVITY
        and row["meeting_window_specificity"] >= GOAL_SPECIFICITY
    )


def goal(
    conferences: list[list[dict[str, float]]], trace: list[dict[str, float]] | None
) -> dict[str, object]:
    """Settings meeting the goal on every conference seed, and those also meeting it on the trace.

    Each setting comes with its worst sensitivity and specificity over the seeds (and
    the trace's figures); the list is ordered by the worst of the two margins over the
    goal, best first.
    """

    def key(row: dict[str, float]) -> tuple[float, float, float]:
        return (row["rssi"], row["gap"], row["min"])

    worst: dict[tuple[float, float, float], dict[str, float]] = {}
    for rows in conferences:
        for seed_row in rows:
            k = key(seed_row)
            w = worst.setdefault(k, {"sens": 1.0, "spec": 1.0, "ok": 1.0})
            w["sens"] = min(w["sens"], seed_row["meeting_sensitivity_60s"])
            w["spec"] = min(w["spec"], seed_row["meeting_window_specificity"])
            w["ok"] = min(w["ok"], 1.0 if _meets_goal(seed_row) else 0.0)
    on_trace = {key(r): r for r in trace or []}
    chosen: list[tuple[float, dict[str, object]]] = []
    for k, w in worst.items():
        if not w["ok"]:
            continue
        entry: dict[str, object] = {
            "rssi": k[0],
            "gap": k[1],
            "min": k[2],
            "conference_worst_sensitivity": round(w["sens"], 4),
            "conference_worst_specificity": round(w["spec"], 4),
        }
        margin = min(w["sens"] - GOAL_SENSITIVITY, w["spec"] - GOAL_SPECIFICITY)
        row = on_trace.get(k)
        if row is not None:
            entry["trace_sensitivity"] = round(row["meeting_sensitivity_60s"], 4)
            entry["trace_specificity"] = round(row["meeting_window_specificity"], 4)
            entry["trace_meets_goal"] = _meets_goal(row)
            margin = min(
                margin,
                row["meeting_sensitivity_60s"] - GOAL_SENSITIVITY,
                row["meeting_window_specificity"] - GOAL_SPECIFICITY,
            )
        entry["worst_margin"] = round(margin, 4)
        chosen.append((margin, entry))
    chosen.sort(key=lambda c: -c[0])
    ranked = [e for _, e in chosen]
    both = [e for e in ranked if e.get("trace_meets_goal")]
    return {"on_every_conference_seed": ranked, "also_on_trace": both}


def main() -> None:
    """Measure, sweep and print JSON."""
    parser = argparse.ArgumentParser(description="detection fidelity with the realistic radio")
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument(
        "--trace-only", action="store_true", help="skip the conference (first seed: the trace's)"
    )
    parser.add_argument("--trace", type=Path, default=None)
    parser.add_argument("--trace-hours", type=float, default=0.0, help="0 = the whole trace")
    parser.add_argument(
        "--presence-gap",
        type=int,
        default=PRESENCE_GAP_S,
        help="trace replay: silence (s) between one's contacts still counted as present",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument(
        "--preset",
        choices=["default", "herald", "free-space"],
        default="default",
        help="radio parameters: default (= herald, calibrated) or free-space (n = 2)",
    )
    args = parser.parse_args()
    params = {"herald": HERALD_PARAMS, "free-space": FREE_SPACE_PARAMS}.get(
        args.preset, RadioParams()
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report: dict[str, object] = {"preset": {"name": args.preset, **asdict(params)}}
    conference_rows: list[list[dict[str, float]]] = []
    trace_rows: list[dict[str, float]] | None = None
    for seed in [] if args.trace_only else args.seeds:
        started = time.monotonic()
        obs = conference(args.badges, args.minutes, seed, params)
        rows = sweep(obs)
        conference_rows.append(rows)
        default = next(r for r in rows if (r["rssi"], r["gap"], r["min"]) == (-72, 60, 60))
        report[f"conference_seed_{seed}"] = {
            "default": default,
            "calibrated": _calibrated(rows),
            "best_at_specificity_0.95": _best(rows),
            "grid": rows,
        }
        logger.info(
            "conference seed=%d default %s (%.0f s)", seed, default, time.monotonic() - started
        )
    if args.trace is not None:
        started = time.monotonic()
        obs = trace_replay(args.trace, args.trace_hours, args.seeds[0], params, args.presence_gap)
        rows = trace_rows = sweep(obs)
        default = next(r for r in rows if (r["rssi"], r["gap"], r["min"]) == (-72, 60, 60))
        report["trace"] = {
            "path": str(args.trace),
            "hours": args.trace_hours or "all",
            "presence_gap_seconds": args.presence_gap,
            "default": default,
            "calibrated": _calibrated(rows),
            "best_at_specificity_0.95": _best(rows),
            "grid": rows,
        }
        logger.info("trace default %s (%.0f s)", default, time.monotonic() - started)
    report["goal"] = goal(conference_rows, trace_rows)
    text = json.dumps(report, indent=1)
    if args.out is not None:
        args.out.write_text(text + "\n")
    for name, part in report.items():
        assert isinstance(part, dict)
        if name in ("preset", "goal"):
            continue
        logger.info("%s best at specificity >= 0.95: %s", name, part["best_at_specificity_0.95"])


if __name__ == "__main__":
    main()
