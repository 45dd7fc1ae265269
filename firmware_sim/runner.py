"""Running a simulated event: load bundles, simulate, pace, publish, write truth and summary."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_sim.bundle import load_bundles
from firmware_sim.clock import SimClock
from firmware_sim.config import SimSettings
from firmware_sim.errors import PublishError
from firmware_sim.fleet import FleetPublisher
from firmware_sim.publisher import MqttPublisher, Publisher, PublishStats
from firmware_sim.readers import NONCE_WAIT_S, LatestNonces, NonceListener
from firmware_sim.simulation import plan_timeline, simulate
from firmware_sim.truth import GroundTruth
from firmware_sim.window_output import WindowOutput

__all__ = ["SimResult", "WindowOutput", "run_simulation", "simulate", "write_json"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimResult:
    """What a run produced.

    Attributes:
        summary: the summary file's object (badges, windows, *_sent counts of
            broker-acknowledged messages, publish_failures, wall_seconds, bundles_rejected).
        ground_truth: who was face-to-face when, and who tapped.
    """

    summary: dict[str, Any]
    ground_truth: GroundTruth


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON to ``path`` atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _summary(
    badges: int, windows: int, stats: PublishStats, wall: float, rejected: int
) -> dict[str, Any]:
    return {
        "badges": badges,
        "windows": windows,
        "reports_sent": stats.acked.get("reports", 0),
        "taps_sent": stats.acked.get("taps", 0),
        "status_sent": stats.acked.get("status", 0),
        "checkins_sent": stats.acked.get("checkins", 0),
        "messages_sent": stats.acked_total,
        "publish_failures": stats.failures,
        "wall_seconds": round(wall, 3),
        "bundles_rejected": rejected,
    }


def _default_publisher(settings: SimSettings, badges: list[str]) -> Publisher:
    if settings.publish_mode == "per-badge":
        return FleetPublisher(settings.broker_host, settings.broker_port, badges)
    return MqttPublisher(settings.broker_host, settings.broker_port, settings.connections)


def _is_shared_order_lost(settings: SimSettings) -> bool:
    """Whether messages of different badges may overtake each other (several connections)."""
    return settings.publish_mode == "per-badge" or settings.connections > 1


def run_simulation(
    settings: SimSettings,
    publisher: Publisher | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    clock: SimClock | None = None,
    nonces: LatestNonces | None = None,
) -> SimResult:
    """Simulate the event of the bundles in ``settings.bundles_dir`` and publish it.

    Each window's messages are published after the window's end in simulated time,
    paced by the clock (``settings.speed``; 0 = as fast as the publisher allows).

    Args:
        settings: the simulator's settings.
        publisher: where messages go; defaults to an ``MqttPublisher`` on the
            settings' broker (bridge mode) or a ``FleetPublisher`` with one connection
            per badge (``publish_mode="per-badge"``). The run starts and closes it.
        progress: called with (windows done, windows in total) after each window.
        clock: paces the run; defaults to a wall-clock ``SimClock(settings.speed)``.
        nonces: the check-in readers' nonces; with ``checkin_nonces="reader"`` and None,
            a ``NonceListener`` on the settings' broker.

    Returns:
        The summary and the ground truth (also written to the configured paths).

    Raises:
        BundleError: the bundles cannot be used.
        PublishError: the broker cannot be reached.
    """
    started = time.monotonic()
    loaded = load_bundles(settings.bundles_dir)
    first = loaded.bundles[0]
    timeline = plan_timeline(first.settings, settings.minutes, settings.start_time)
    truth = GroundTruth(
        event=first.event,
        window_seconds=timeline.window_seconds,
        start=timeline.start,
        windows=timeline.windows,
        badges=[b.badge for b in loaded.bundles],
    )
    if publisher is None:
        publisher = _default_publisher(settings, [b.badge for b in loaded.bundles])
    clock = clock or SimClock(settings.speed)
    listener: NonceListener | None = None
    if nonces is None and settings.checkins and settings.checkin_nonces == "reader":
        nonces = listener = NonceListener(settings.broker_host, settings.broker_port, first.event)
        listener.start(NONCE_WAIT_S)
    publisher.start()
    try:
        clock.start(timeline.start)
        lateness = first.settings.allowed_lateness_seconds
        barrier: int | None = None
        for out in simulate(
            loaded.bundles,
            settings,
            nonces=nonces,
            world_process=settings.world_process,
            signer_process=settings.signer_process,
        ):
            clock.wait_until(out.window_start + timeline.window_seconds)
            # Badges share connections, so their messages may overtake each other; the
            # gateway drops reports more than the allowed lateness behind event time.
            # Waiting for the broker's acknowledgements once per lateness keeps every
            # report ahead of those that could make it stale (see firmware_sim.replay).
            # One connection keeps the order by itself; one per badge (per-badge mode) does not.
            due = barrier is None or out.window_start - barrier >= lateness
            if _is_shared_order_lost(settings) and due:
                if not publisher.wait_acked(settings.ack_timeout_s):
                    raise PublishError(
                        f"broker did not acknowledge within {settings.ack_timeout_s} s"
                    )
                barrier = out.window_start
            for topic, payload in out.messages:
                publisher.publish(topic, payload)
            truth.add_window(out.window_start, out.contacts, out.taps)
            if progress is not None:
                progress(out.index + 1, timeline.windows)
    finally:
        stats = publisher.close(settings.ack_timeout_s)
        if listener is not None:
            listener.stop()
    summary = _summary(
        len(loaded.bundles), timeline.windows, stats, time.monotonic() - started, loaded.rejected
    )
    summary["checkins_skipped"] = nonces.missing if nonces is not None else 0
    if settings.ground_truth_path is not None:
        write_json(settings.ground_truth_path, truth.to_json())
    if settings.summary_path is not None:
        write_json(settings.summary_path, summary)
    logger.info(
        "simulation done event=%s badges=%d windows=%d sent=%d failures=%d contacts=%d taps=%d",
        first.event,
        len(loaded.bundles),
        timeline.windows,
        stats.acked_total,
        stats.failures,
        len(truth.contacts),
        len(truth.taps),
    )
    return SimResult(summary, truth)
