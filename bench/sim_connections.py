"""One MQTT connection per badge at scale: connect time and publish rate against bridge mode.

Starts a managed Mosquitto, then, repeated ``--repeat`` times: publishes ``--rounds``
600-byte messages per badge at QoS 1 over ``--connections`` shared connections
(bridge mode, ``MqttPublisher``: the baseline), and the same messages over one
connection per badge (``FleetPublisher``), every badge connected at once. Reports
the medians of the connect time, of both publish rates and of their ratio.

    .venv/bin/python -m bench.sim_connections [--badges 10000 --rounds 3 --repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from firmware_sim.fleet import FleetPublisher
from firmware_sim.publisher import MqttPublisher, Publisher
from inperson.broker import Broker

logger = logging.getLogger("bench.sim_connections")


def publish_all(
    publisher: Publisher, badges: list[str], rounds: int, progress: Progress, label: str
) -> float:
    """Publish ``rounds`` messages per badge and wait for every PUBACK; returns messages/s."""
    task = progress.add_task(label, total=rounds * len(badges))
    payload = bytes(600)
    started = time.perf_counter()
    for r in range(rounds):
        for badge in badges:
            publisher.publish(f"inperson/v1/bench/badges/{badge}/reports", payload)
        progress.update(task, completed=(r + 1) * len(badges))
    if not publisher.wait_acked(600):
        raise RuntimeError("the broker did not acknowledge everything within 600 s")
    return rounds * len(badges) / (time.perf_counter() - started)


def main() -> None:
    """Measure and log the medians."""
    parser = argparse.ArgumentParser(description="per-badge MQTT connections at scale")
    parser.add_argument("--badges", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="bridge-mode baseline")
    parser.add_argument("--shards", type=int, default=2, help="selector threads of the fleet")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    badges = [f"b{k:05d}" for k in range(args.badges)]
    connect: list[float] = []
    bridge_rates: list[float] = []
    fleet_rates: list[float] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns) as progress:
        with Broker(Path(tmp), persistence=False) as broker:
            for run in range(args.repeat):
                bridge = MqttPublisher(broker.host, broker.port, args.connections)
                bridge.start()
                bridge_rates.append(publish_all(bridge, badges, args.rounds, progress, "bridge"))
                bridge.close(60)
                fleet = FleetPublisher(broker.host, broker.port, badges, shards=args.shards)
                started = time.perf_counter()
                fleet.start()
                connect.append(time.perf_counter() - started)
                fleet_rates.append(publish_all(fleet, badges, args.rounds, progress, "per-badge"))
                stats = fleet.close(60)
                if stats.failures:
                    raise RuntimeError(f"{stats.failures} messages failed in per-badge mode")
                logger.info(
                    "run %d: %d connections up in %.1f s; bridge %.0f/s, per-badge %.0f/s",
                    run,
                    len(badges),
                    connect[-1],
                    bridge_rates[-1],
                    fleet_rates[-1],
                )
    ratios = [f / b for f, b in zip(fleet_rates, bridge_rates, strict=True)]
    logger.info(
        "badges=%d rounds=%d: connect median %.1f s; publish median bridge(%d) %.0f/s, "
        "per-badge %.0f/s; ratio per-badge/bridge median %.2f",
        args.badges,
        args.rounds,
        statistics.median(connect),
        args.connections,
        statistics.median(bridge_rates),
        statistics.median(fleet_rates),
        statistics.median(ratios),
    )


if __name__ == "__main__":
    main()
