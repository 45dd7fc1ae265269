"""Simulator speed at 10,000 badges: reports generated, signed (and published) per second.

The rate is reported as a ratio to the bare Ed25519 signing rate (PyNaCl) measured in
the same run, so machines of different speed give comparable figures; the goal of
issue 3 is >= 0.8. Each measurement is repeated and the median is quoted.

    .venv/bin/python -m bench.sim_speed [--badges 10000 --minutes 5 --repeat 3]
        [--publish none|broker] [--connections 8]

``--publish broker`` starts a managed Mosquitto and publishes at QoS 1 over
``--connections`` MQTT connections (bridge mode); ``none`` only generates and signs.
A conference day is ``--minutes 480`` (slow: see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

import nacl.signing
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from firmware_sim.config import SimSettings
from firmware_sim.publisher import MqttPublisher
from firmware_sim.simulation import plan_timeline, simulate
from inperson.broker import Broker
from protocol.api import DetectionSettings, ProvisioningBundle

logger = logging.getLogger("bench.sim_speed")


def signing_rate(messages: int = 20_000, size: int = 600) -> float:
    """Bare Ed25519 signatures per second over ``size``-byte messages (one key)."""
    key = nacl.signing.SigningKey(bytes(range(32)))
    payload = bytes(size)
    started = time.perf_counter()
    for k in range(messages):
        key.sign(payload + k.to_bytes(4, "big"))
    return messages / (time.perf_counter() - started)


def _bundles(n: int) -> list[ProvisioningBundle]:
    rng = random.Random(1)
    return [
        ProvisioningBundle(
            event="bench",
            badge=f"b{k:05d}",
            signing_seed=rng.randbytes(32).hex(),
            ephid_key=rng.randbytes(32).hex(),
            settings=DetectionSettings(),
        )
        for k in range(n)
    ]


def simulate_once(
    bundles: list[ProvisioningBundle],
    minutes: float,
    seed: int,
    publisher: MqttPublisher | None,
    progress: Progress,
) -> tuple[int, float]:
    """One run over the agenda (not the empty tail): (messages, seconds)."""
    settings = SimSettings(bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic")
    windows = plan_timeline(bundles[0].settings, minutes, settings.start_time).agenda_windows
    task = progress.add_task(f"seed {seed}", total=windows)
    messages = 0
    started = time.perf_counter()
    for out in simulate(bundles, settings):
        if out.index >= windows:  # the empty tail is not part of the measurement
            break
        if publisher is not None:
            for topic, payload in out.messages:
                publisher.publish(topic, payload)
        messages += len(out.messages)
        progress.update(task, completed=out.index + 1)
    if publisher is not None and not publisher.wait_acked(600):
        raise RuntimeError("the broker did not acknowledge everything within 600 s")
    return messages, time.perf_counter() - started


def main() -> None:
    """Measure and log the medians."""
    parser = argparse.ArgumentParser(description="simulator speed against the signing rate")
    parser.add_argument("--badges", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--publish", choices=["none", "broker"], default="none")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    bundles = _bundles(args.badges)
    sign = statistics.median(signing_rate() for _ in range(5))
    rates: list[float] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns) as progress:
        broker = Broker(Path(tmp)) if args.publish == "broker" else None
        if broker is not None:
            broker.start()
        try:
            for run in range(args.repeat):
                publisher = None
                if broker is not None:
                    publisher = MqttPublisher(broker.host, broker.port, args.connections)
                    publisher.start()
                messages, seconds = simulate_once(
                    bundles, args.minutes, 7 + run, publisher, progress
                )
                if publisher is not None:
                    publisher.close(60)
                rates.append(messages / seconds)
                logger.info(
                    "run %d: %d messages in %.1f s = %.0f/s", run, messages, seconds, rates[-1]
                )
        finally:
            if broker is not None:
                broker.stop()
    rate = statistics.median(rates)
    logger.info(
        "badges=%d minutes=%.0f publish=%s: median %.0f messages/s; bare Ed25519 signing %.0f/s; "
        "ratio %.2f (goal 0.8)",
        args.badges,
        args.minutes,
        args.publish,
        rate,
        sign,
        rate / sign,
    )


if __name__ == "__main__":
    main()
