"""What badge clock drift does to pairing, and what resynchronisation buys back.

Simulates an event (crowd, radio, badges on drifting clocks) and feeds every message,
in publishing order, to the real gateway processing stage (``gateway.processor``:
verify, pair, aggregate; event-time watermark, no broker), then scores the meetings
against the ground truth: verified contact seconds, connections (link threshold or
tap) precision and recall, and the reports the gateway rejected (``stale`` when a
badge's clock lags the watermark by more than the allowed lateness).

    .venv/bin/python -m bench.sim_clock [--badges 200 --minutes 60 --seeds 7 8 9]
        [--drift-ppm 50 --boot-offset 120] [--radio realistic]

Scenarios: perfect clocks; drifting clocks that never resync; that resync on
connecting only; that also resync every 300 s (the default).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from firmware_sim.config import SimSettings
from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from firmware_sim.simulation import simulate
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from inperson.evaluation import pair, score, true_connections
from protocol.api import DetectionSettings, ProvisioningBundle, Registry, RegistryBadge
from protocol.signing import BadgeKey

logger = logging.getLogger("bench.sim_clock")

Resync = Literal["periodic", "connect", "none"]


class _EventClock:
    """The gateway's wall clock; unused (no live-mode freshness check), but required."""

    def now(self) -> float:
        return 0.0


@dataclass(frozen=True)
class ClockRun:
    """One simulated event scored through the gateway's processing stage."""

    scenario: str
    reports: int
    accepted: int
    rejected: dict[str, int]
    meetings: int
    contact_seconds: int
    truth_contact_seconds: int
    connections: int
    true_connections: int
    precision: float
    recall: float

    @property
    def contact_time_ratio(self) -> float:
        """Verified contact seconds / true face-to-face seconds."""
        return (
            self.contact_seconds / self.truth_contact_seconds if self.truth_contact_seconds else 1
        )


def make_bundles(n: int, event: str = "ev-clock", seed: int = 1) -> list[ProvisioningBundle]:
    """``n`` bundles with random keys; detection settings tuned for the default radio."""
    rng = random.Random(seed)
    detection = DetectionSettings(rssi_threshold_dbm=CALIBRATED_RSSI_THRESHOLD_DBM)
    return [
        ProvisioningBundle(
            event=event,
            badge=f"b{k:04d}",
            signing_seed=rng.randbytes(32).hex(),
            ephid_key=rng.randbytes(32).hex(),
            settings=detection,
        )
        for k in range(n)
    ]


def registry_of(bundles: Sequence[ProvisioningBundle]) -> Registry:
    """The registry a gateway would fetch for these badges."""
    return Registry(
        event=bundles[0].event,
        gateway="gw-bench",
        zone="",
        settings=bundles[0].settings,
        badges=[
            RegistryBadge(
                badge=b.badge,
                public_key=BadgeKey(bytes.fromhex(b.signing_seed)).public_key.hex(),
                ephid_key=b.ephid_key,
            )
            for b in bundles
        ],
    )


def run_through_gateway(
    bundles: Sequence[ProvisioningBundle], settings: SimSettings, scenario: str = ""
) -> ClockRun:
    """Simulate, process every message like a gateway, and score against the truth."""
    processor = Processor(BadgeRegistry(registry_of(bundles)), _EventClock())
    detection = bundles[0].settings
    contacts: list[tuple[int, str, str]] = []
    taps: list[tuple[int, str, str]] = []
    reports = 0
    for out in simulate(bundles, settings):
        for topic, payload in out.messages:
            reports += topic.endswith("/reports")
            processor.handle(topic, payload)
        contacts.extend((out.window_start, a, b) for a, b in out.contacts)
        taps.extend(out.taps)
    meetings = processor.take_meetings() + processor.flush()
    seconds: dict[tuple[str, str], int] = defaultdict(int)
    detected: set[tuple[str, str]] = set()
    for m in meetings:
        key = pair(m.badge_a, m.badge_b)
        if m.kind == "tap":
            detected.add(key)
        else:
            seconds[key] += m.contact_seconds
    detected.update(p for p, s in seconds.items() if s >= detection.link_threshold_seconds)
    truth = true_connections(
        contacts, taps, detection.window_seconds, detection.link_threshold_seconds
    )
    result = score(detected, truth)
    counters = processor.counters
    return ClockRun(
        scenario=scenario,
        reports=reports,
        accepted=counters["accepted"],
        rejected={
            k.removeprefix("rejected."): v
            for k, v in sorted(counters.items())
            if k.startswith("rejected.") and v
        },
        meetings=sum(1 for m in meetings if m.kind != "tap"),
        contact_seconds=sum(seconds.values()),
        truth_contact_seconds=len(contacts) * detection.window_seconds,
        connections=len(detected),
        true_connections=len(truth),
        precision=round(result.precision, 4),
        recall=round(result.recall, 4),
    )


SCENARIOS: dict[str, tuple[bool, Resync]] = {
    "perfect clocks": (False, "none"),
    "drift, no resync": (True, "none"),
    "drift, resync on connect": (True, "connect"),
    "drift, resync every 300 s": (True, "periodic"),
}


def scenario_settings(
    base: SimSettings, drifting: bool, resync: Resync, drift_ppm: float, boot_offset_s: float
) -> SimSettings:
    """``base`` with the clock model of one scenario."""
    return base.model_copy(
        update={
            "clock_drift_ppm": drift_ppm if drifting else 0.0,
            "clock_boot_offset_s": boot_offset_s if drifting else 0.0,
            "clock_resync": resync,
        }
    )


def main() -> None:
    """Run every scenario for every seed and log a table (optionally JSON)."""
    parser = argparse.ArgumentParser(description="badge clock drift against gateway pairing")
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--drift-ppm", type=float, default=50.0)
    parser.add_argument("--boot-offset", type=float, default=120.0)
    parser.add_argument("--radio", choices=["realistic", "ideal"], default="realistic")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    logging.getLogger("gateway").setLevel(logging.ERROR)  # rejected reports are expected here
    bundles = make_bundles(args.badges)
    runs: list[ClockRun] = []
    for seed in args.seeds:
        base = SimSettings(bundles_dir=Path("."), minutes=args.minutes, seed=seed, radio=args.radio)
        for name, (drifting, resync) in SCENARIOS.items():
            settings = scenario_settings(base, drifting, resync, args.drift_ppm, args.boot_offset)
            run = run_through_gateway(bundles, settings, f"{name} (seed {seed})")
            runs.append(run)
            logger.info(
                "%-40s accepted %6d/%6d rejected %-22s meetings %5d contact time %.3f "
                "connections %4d/%4d precision %.3f recall %.3f",
                run.scenario,
                run.accepted,
                run.reports,
                json.dumps(run.rejected),
                run.meetings,
                run.contact_time_ratio,
                run.connections,
                run.true_connections,
                run.precision,
                run.recall,
            )
    for name in SCENARIOS:
        mine = [r for r in runs if r.scenario.startswith(name + " ")]
        logger.info(
            "%-28s median recall %.3f precision %.3f contact time %.3f stale %s",
            name,
            statistics.median(r.recall for r in mine),
            statistics.median(r.precision for r in mine),
            statistics.median(r.contact_time_ratio for r in mine),
            dict(Counter(r.rejected.get("stale", 0) for r in mine)),
        )
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in runs], indent=1))


if __name__ == "__main__":
    main()
