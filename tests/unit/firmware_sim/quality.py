"""How well the simulated radio lets a gateway see the ground truth, measured from the messages.

Decodes every sighting report ``simulate`` yields, resolves the EphIDs as a gateway
would, and compares per-window *mutual hearing* (both directions at or above the
RSSI threshold) with the ground-truth face-to-face pairs. It also estimates the
connection scores the demo is judged on, applying the gateway's meeting rules
(gap tolerance, minimum meeting length, link threshold) to the mutual windows.

Run the demo-sized check with:  .venv/bin/python -m tests.unit.firmware_sim.quality
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.config import SimSettings
from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from firmware_sim.simulation import simulate
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import decode_body, split_payload
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import SightingReport
from protocol.topics import BadgeChannel, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles

logger = logging.getLogger(__name__)

Pair = tuple[str, str]


@dataclass(frozen=True)
class Quality:
    """Per-window and per-connection agreement between mutual hearing and the ground truth."""

    truth_windows: int
    mutual_windows: int
    matched_windows: int
    true_connections: int
    detected_connections: int
    matched_connections: int
    taps: int

    @property
    def sensitivity(self) -> float:
        """Share of face-to-face pair-windows that were heard mutually above threshold."""
        return self.matched_windows / self.truth_windows if self.truth_windows else 1.0

    @property
    def window_precision(self) -> float:
        """Share of mutual pair-windows that were face-to-face."""
        return self.matched_windows / self.mutual_windows if self.mutual_windows else 1.0

    @property
    def precision(self) -> float:
        """Share of estimated detected connections that are true connections."""
        if not self.detected_connections:
            return 1.0
        return self.matched_connections / self.detected_connections

    @property
    def recall(self) -> float:
        """Share of true connections that the estimate detects."""
        return self.matched_connections / self.true_connections if self.true_connections else 1.0


class _Resolver:
    """EphID -> badge per epoch, built like a gateway's table."""

    def __init__(self, bundles: list[ProvisioningBundle]) -> None:
        self._bundles = bundles
        self._tables: dict[int, dict[str, str]] = {}

    def resolve(self, ephid: str, t: int) -> str | None:
        epoch = epoch_of(t, self._bundles[0].settings.ephid_rotation_seconds)
        table = self._tables.get(epoch)
        if table is None:
            table = {
                derive_ephid(bytes.fromhex(b.ephid_key), b.event, epoch).hex(): b.badge
                for b in self._bundles
            }
            self._tables[epoch] = table
        return table.get(ephid)


def _linked_seconds(windows: list[int], detection: DetectionSettings) -> int:
    """Contact seconds a gateway would count for one pair: runs of windows, gaps bridged,
    runs shorter than the minimum meeting dropped."""
    w = detection.window_seconds
    total = 0
    run: list[int] = []

    def close(run: list[int]) -> int:
        if run and run[-1] + w - run[0] >= detection.min_meeting_seconds:
            return len(run) * w
        return 0

    for start in sorted(windows):
        if run and start - (run[-1] + w) > detection.gap_tolerance_seconds:
            total += close(run)
            run = []
        run.append(start)
    return total + close(run)


def measure(bundles: list[ProvisioningBundle], settings: SimSettings) -> Quality:
    """Simulate and compare mutual hearing with the ground truth."""
    detection = bundles[0].settings
    resolver = _Resolver(bundles)
    truth_count: dict[Pair, int] = defaultdict(int)
    mutual_windows: dict[Pair, list[int]] = defaultdict(list)
    tapped: set[Pair] = set()
    matched = mutual_total = truth_total = 0
    for out in simulate(bundles, settings):
        above: set[Pair] = set()
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            if parsed.channel is not BadgeChannel.REPORTS:
                continue
            report = decode_body(split_payload(payload, parsed.channel)[1], parsed.channel)
            assert isinstance(report, SightingReport)
            for heard in report.heard:
                other = resolver.resolve(heard.ephid, report.window_start)
                if other is not None and heard.rssi_median >= detection.rssi_threshold_dbm:
                    above.add((parsed.badge, other))
        mutual = {(a, b) for a, b in above if a < b and (b, a) in above}
        truth = set(out.contacts)
        matched += len(mutual & truth)
        mutual_total += len(mutual)
        truth_total += len(truth)
        for p in truth:
            truth_count[p] += 1
        for p in mutual:
            mutual_windows[p].append(out.window_start)
        tapped.update((a, b) for _, a, b in out.taps)
    need = detection.link_threshold_seconds
    true = {p for p, n in truth_count.items() if n * detection.window_seconds >= need} | tapped
    detected = {p for p, ws in mutual_windows.items() if _linked_seconds(ws, detection) >= need}
    detected |= tapped
    return Quality(
        truth_windows=truth_total,
        mutual_windows=mutual_total,
        matched_windows=matched,
        true_connections=len(true),
        detected_connections=len(detected),
        matched_connections=len(true & detected),
        taps=len(tapped),
    )


def main() -> None:
    """Measure a demo-sized event (200 badges, 60 minutes) and log the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--radio", choices=["realistic", "ideal"], default="realistic")
    parser.add_argument(
        "--rssi-threshold",
        type=int,
        default=CALIBRATED_RSSI_THRESHOLD_DBM,
        help="the event's RSSI threshold (default: the one tuned for the default radio)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = SimSettings(
        bundles_dir=Path("."), minutes=args.minutes, seed=args.seed, radio=args.radio
    )
    detection = DetectionSettings(rssi_threshold_dbm=args.rssi_threshold)
    q = measure(make_bundles(args.badges, settings=detection), settings)
    logger.info(
        "badges=%d minutes=%.0f seed=%d radio=%s rssi_threshold=%d",
        args.badges,
        args.minutes,
        args.seed,
        args.radio,
        args.rssi_threshold,
    )
    logger.info(
        "per window: face-to-face=%d mutual=%d sensitivity=%.3f precision=%.3f false=%d",
        q.truth_windows,
        q.mutual_windows,
        q.sensitivity,
        q.window_precision,
        q.mutual_windows - q.matched_windows,
    )
    logger.info(
        "connections (estimate): true=%d detected=%d precision=%.3f recall=%.3f taps=%d",
        q.true_connections,
        q.detected_connections,
        q.precision,
        q.recall,
        q.taps,
    )


if __name__ == "__main__":
    main()
