"""Simulator speed at 10,000 badges: reports generated, signed (and published) per second.

The rate is reported as a ratio to the bare Ed25519 signing rate (PyNaCl) measured in
the same run, so machines of different speed give comparable figures; the goal of
issue 3 is >= 0.8. Each measurement is repeated and the median is quoted.

    .venv/bin/python -m bench.sim_speed [--badges 10000 --minutes 5 --repeat 3]
        [--publish none|broker] [--connections 8] [--mode both|single|worker]

``--mode`` picks how the simulation runs: ``single`` is one process (crowd, radio,
reports and signing on one core, like the baseline); ``worker`` steps the crowd and the
radio in a worker process (``simulate(world_process=True)``) while this one builds and
signs the reports, so two cores work; ``both`` (default) measures both, alternating.

``--publish broker`` starts a managed Mosquitto and publishes at QoS 1 over
``--connections`` MQTT connections (bridge mode); ``none`` only generates and signs.
A conference day is ``--minutes 480`` (slow: see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import nacl.signing
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from firmware_sim.config import SimSettings
from firmware_sim.publisher import MqttPublisher
from firmware_sim.simulation import WindowOutput, plan_timeline, simulate
from inperson.broker import Broker
from protocol.api import DetectionSettings, ProvisioningBundle

logger = logging.getLogger("bench.sim_speed")


def signing_rates(messages: int = 20_000, size: int = 600) -> tuple[float, float]:
    """Bare Ed25519 signatures per second over ``size``-byte messages (one key).

    Returns:
        (per wall-clock second, per CPU second of this process).
    """
    key = nacl.signing.SigningKey(bytes(range(32)))
    payload = bytes(size)
    started, cpu = time.perf_counter(), time.process_time()
    for k in range(messages):
        key.sign(payload + k.to_bytes(4, "big"))
    return messages / (time.perf_counter() - started), messages / (time.process_time() - cpu)


def signing_rate(messages: int = 20_000, size: int = 600) -> float:
    """Bare Ed25519 signatures per wall-clock second over ``size``-byte messages (one key)."""
    return signing_rates(messages, size)[0]


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


@dataclass(frozen=True)
class Run:
    """One measured run over the agenda.

    Attributes:
        messages: messages generated (signed).
        size: their payload bytes.
        seconds: wall-clock seconds.
        cpu_seconds: CPU seconds of this (the main) process.
        worker_cpu_seconds: CPU seconds of the world worker (0 without one).
    """

    messages: int
    size: int
    seconds: float
    cpu_seconds: float
    worker_cpu_seconds: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def simulate_once(
    bundles: list[ProvisioningBundle],
    minutes: float,
    seed: int,
    publisher: MqttPublisher | None,
    progress: Progress,
    *,
    world_process: bool = False,
) -> Run:
    """One run over the agenda (not the empty tail)."""
    settings = SimSettings(bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic")
    windows = plan_timeline(bundles[0].settings, minutes, settings.start_time).agenda_windows
    task = progress.add_task(f"seed {seed}, {_label(world_process)}", total=windows)
    messages = size = 0
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    # simulate() is a generator: close it explicitly so the worker is reaped here.
    outputs = cast(
        Generator[WindowOutput, None, None],
        simulate(bundles, settings, world_process=world_process),
    )
    try:
        for out in outputs:
            if out.index >= windows:  # the empty tail is not part of the measurement
                break
            if publisher is not None:
                for topic, payload in out.messages:
                    publisher.publish(topic, payload)
            messages += len(out.messages)
            size += sum(len(payload) for _, payload in out.messages)
            progress.update(task, completed=out.index + 1)
            if not progress.console.is_terminal and (out.index + 1) % max(1, windows // 20) == 0:
                logger.info(  # the bar is not drawn into a file: log every 5 % instead
                    "window %d/%d: %d messages, %.0f s",
                    out.index + 1,
                    windows,
                    messages,
                    time.perf_counter() - started,
                )
    finally:
        outputs.close()  # ends (and reaps) the world worker
    if publisher is not None and not publisher.wait_acked(600):
        raise RuntimeError("the broker did not acknowledge everything within 600 s")
    return Run(
        messages,
        size,
        time.perf_counter() - started,
        time.process_time() - cpu,
        _children_cpu() - children,
    )


def main() -> None:
    """Measure and log the medians."""
    parser = argparse.ArgumentParser(description="simulator speed against the signing rate")
    parser.add_argument("--badges", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--publish", choices=["none", "broker"], default="none")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--mode",
        choices=["both", "single", "worker"],
        default="both",
        help="single: everything in one process; worker: crowd and radio in a worker process",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    bundles = _bundles(args.badges)
    modes = {"both": [False, True], "single": [False], "worker": [True]}[args.mode]
    wall: dict[bool, list[float]] = {mode: [] for mode in modes}
    cpu: dict[bool, list[float]] = {mode: [] for mode in modes}
    signs: list[tuple[float, float]] = []
    sizes: list[float] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    logger.info("load average before: %.1f %.1f %.1f (2 cores)", *os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns) as progress:
        broker = Broker(Path(tmp)) if args.publish == "broker" else None
        if broker is not None:
            broker.start()
        try:
            for run in range(args.repeat):
                for world_process in modes:
                    # The baseline is measured next to each run: both see the same load.
                    signs.append(signing_rates())
                    publisher = None
                    if broker is not None:
                        publisher = MqttPublisher(broker.host, broker.port, args.connections)
                        publisher.start()
                    run_ = simulate_once(
                        bundles,
                        args.minutes,
                        7 + run,
                        publisher,
                        progress,
                        world_process=world_process,
                    )
                    if publisher is not None:
                        publisher.close(60)
                    sign_wall, sign_cpu = signs[-1]
                    busiest = max(run_.cpu_seconds, run_.worker_cpu_seconds)
                    wall[world_process].append(run_.messages / run_.seconds / sign_wall)
                    cpu[world_process].append(run_.messages / busiest / sign_cpu)
                    sizes.append(run_.size / run_.messages)
                    logger.info(
                        "run %d %s: %d messages (mean %.0f bytes) in %.1f s wall = %.0f/s; "
                        "CPU %.1f s main + %.1f s worker; signing %.0f/s wall, %.0f/s CPU: "
                        "ratio %.2f wall, %.2f CPU",
                        run,
                        _label(world_process),
                        run_.messages,
                        run_.size / run_.messages,
                        run_.seconds,
                        run_.messages / run_.seconds,
                        run_.cpu_seconds,
                        run_.worker_cpu_seconds,
                        sign_wall,
                        sign_cpu,
                        wall[world_process][-1],
                        cpu[world_process][-1],
                    )
        finally:
            if broker is not None:
                broker.stop()
    logger.info("load average after: %.1f %.1f %.1f (2 cores)", *os.getloadavg())
    for world_process in modes:
        logger.info(
            "badges=%d minutes=%.0f publish=%s %s: median ratio to bare Ed25519 signing "
            "(600 B, one core): %.2f wall-clock, %.2f CPU (messages per CPU second of the "
            "busiest process; goal 0.8)",
            args.badges,
            args.minutes,
            args.publish,
            _label(world_process),
            statistics.median(wall[world_process]),
            statistics.median(cpu[world_process]),
        )
    mean_size = round(statistics.median(sizes))
    at_size = statistics.median(
        signing_rates(size=mean_size)[1] / signing_rates()[1] for _ in range(3)
    )
    logger.info(
        "context: the messages average %d bytes; bare signing of that size runs at %.2f of "
        "the 600-byte rate (CPU time): the ceiling of one process that only signed them",
        mean_size,
        at_size,
    )


def _label(world_process: bool) -> str:
    return "world worker (2 processes)" if world_process else "1 process"


if __name__ == "__main__":
    main()
