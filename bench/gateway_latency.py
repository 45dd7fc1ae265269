"""The gateway bench's latency runs: publish-to-journal latency at a paced publishing rate.

``run_latency`` on the bench's stream (a small crowd), ``run_active_latency`` while the
open state grows to many badges in pairs (as at a large venue).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.gateway_driver import (
    TimedJournal,
    create_session,
    drive_gateway,
    drop_session,
    gateway_settings,
    publish,
)
from bench.gateway_stream import EVENT, Message, bundles_for, pairs_stream, registry_of
from inperson.broker import Broker
from protocol.api import Registry
from protocol.topics import badge_subscription


def run_latency(
    broker: Broker, registry: Registry, messages: Sequence[Message], rate: float, interval: float
) -> dict[str, Any]:
    """Publish at ``rate`` msg/s; latency from publish to the checkpoint that made it durable."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = gateway_settings(Path(tmp), broker, checkpoint_interval_s=interval)
        create_session(broker, settings.client_id, badge_subscription(EVENT))
        journal = TimedJournal(Path(tmp))
        sent: list[float] = []

        def feed() -> None:
            sent.extend(publish(broker, messages, rate))

        gateway, _ = asyncio.run(
            drive_gateway(broker, registry, journal, settings, feed, len(messages))
        )
        drop_session(broker, settings.client_id)
    latencies: list[float] = []
    k = 0
    for i, t_sent in enumerate(sent):
        while journal.durable[k][1] <= i:
            k += 1
        latencies.append(journal.durable[k][0] - t_sent)
    latencies.sort()
    work = sorted(journal.work)
    return {
        "checkpoint_interval_s": interval,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "max_ms": 1000 * latencies[-1],
        # the journal thread's own time per checkpoint (files, fsyncs), without the wait
        # for the thread and the hand-offs around it
        "checkpoints": len(work),
        "checkpoint_work_p50_ms": 1000 * work[len(work) // 2],
        "checkpoint_work_p99_ms": 1000 * work[int(len(work) * 0.99)],
        # how the stream's check-ins were decided (all taps at the bench's reader)
        "checkins": {
            name: count
            for name, count in gateway.status("offline").counters.items()
            if name.startswith("checkins.") and count
        },
    }


def run_active_latency(active: int, windows: int, rate: float) -> dict[str, Any]:
    """Publish-to-journal latency while the open state grows to ``active`` badges in pairs.

    ``windows`` windows of reports of ``active`` badges (``pairs_stream``) at ``rate``/s,
    default checkpoint interval: the checkpoints' cost grows with the open pairs, as at
    a large venue, unlike the small crowd of ``run_latency``.
    """
    bundles = bundles_for(active)
    messages = pairs_stream(bundles, windows)
    with tempfile.TemporaryDirectory() as tmp, Broker(Path(tmp) / "broker") as broker:
        result = run_latency(broker, registry_of(bundles), messages, rate, 0.02)
    return {"active_badges": active, "messages": len(messages), **result}
