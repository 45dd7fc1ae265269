"""Simulator speed at 10,000 badges: reports generated, signed (and published) per second.

The rate is reported as a ratio to the bare Ed25519 signing rate (PyNaCl) measured in
the same run, so machines of different speed give comparable figures; the goal of
issue 3 is >= 0.8. Each measurement is repeated and the median is quoted.

    .venv/bin/python -m bench.sim_speed [--badges 10000 --minutes 5 --repeat 3]
        [--publish none|broker] [--connections 8] [--mode all|single|worker|signer|worker+signer]

``--mode`` picks how the simulation runs: ``single`` is one process (crowd, radio,
reports and signing on one core, like the baseline); ``worker`` steps the crowd and the
radio in a worker process (``simulate(world_process=True)``, ``BADGE_WORLD_PROCESS``)
while this one builds and signs the reports; ``signer`` signs each window's
messages in a signer process (``simulate(signer_process=True)``,
``BADGE_SIGNER_PROCESS``); ``worker+signer`` does both (three processes); ``all``
(default) measures every mode, alternating.

Each run reports three ratios: wall-clock; CPU of the busiest process (what a core per
process would give); and CPU on two cores (the busiest process or half the total CPU,
whichever is larger: what two free cores would give with perfect overlap).

``--publish broker`` starts a managed Mosquitto and publishes at QoS 1 over
``--connections`` MQTT connections (bridge mode); ``none`` only generates and signs.
A conference day is ``--minutes 480`` (slow: see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import nacl.bindings
import nacl.signing

from protocol.api import DetectionSettings, ProvisioningBundle

if TYPE_CHECKING:  # imported where used: the spawned workers import this module too
    from rich.progress import Progress

    from firmware_sim.publisher import MqttPublisher

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
        worker_cpu_seconds: CPU seconds of the worker processes (world worker, signer), all.
        busiest_worker_seconds: CPU seconds of the busiest worker process (0 without one).
    """

    messages: int
    size: int
    seconds: float
    cpu_seconds: float
    worker_cpu_seconds: float
    busiest_worker_seconds: float

    @property
    def busiest_seconds(self) -> float:
        """CPU seconds of the busiest process."""
        return max(self.cpu_seconds, self.busiest_worker_seconds)

    @property
    def two_core_seconds(self) -> float:
        """Least wall time two free cores need: the busiest process or half of all CPU."""
        return max(self.busiest_seconds, (self.cpu_seconds + self.worker_cpu_seconds) / 2)


@dataclass(frozen=True)
class Mode:
    """How the simulation is split over processes."""

    world_process: bool
    signer_process: bool

    @property
    def label(self) -> str:
        """For the log."""
        if self.world_process and self.signer_process:
            return "world worker + signer (3 processes)"
        if self.world_process:
            return "world worker (2 processes)"
        if self.signer_process:
            return "signer (2 processes)"
        return "1 process"


MODES = {
    "single": Mode(False, False),
    "worker": Mode(True, False),
    "signer": Mode(False, True),
    "worker+signer": Mode(True, True),
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _live_children_cpu() -> dict[int, float]:
    """CPU seconds so far of each live ``multiprocessing`` child (Linux ``/proc``; else {})."""
    tick = os.sysconf("SC_CLK_TCK")
    result: dict[int, float] = {}
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        result[child.pid or 0] = (int(fields[11]) + int(fields[12])) / tick
    return result


def simulate_once(
    bundles: list[ProvisioningBundle],
    minutes: float,
    seed: int,
    publisher: MqttPublisher | None,
    progress: Progress,
    mode: Mode = MODES["single"],
) -> Run:
    """One run over the agenda (not the empty tail)."""
    from firmware_sim.config import SimSettings
    from firmware_sim.simulation import plan_timeline, simulate
    from firmware_sim.window_output import WindowOutput

    settings = SimSettings(bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic")
    windows = plan_timeline(bundles[0].settings, minutes, settings.start_time).agenda_windows
    task = progress.add_task(f"seed {seed}, {mode.label}", total=windows)
    messages = size = 0
    per_child: dict[int, float] = {}
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    # simulate() is a generator: close it explicitly so the workers are reaped here.
    outputs = cast(
        Generator[WindowOutput, None, None],
        simulate(
            bundles,
            settings,
            world_process=mode.world_process,
            signer_process=mode.signer_process,
        ),
    )
    try:
        for out in outputs:
            if out.index >= windows - 1:  # the workers' CPU, while they still run
                per_child = _live_children_cpu()
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
            if out.index >= windows - 1:
                # Stop before the empty tail: not even its first window is computed (it
                # drafts and signs every badge's status and exit check-in, not counted).
                break
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
        max(per_child.values(), default=_children_cpu() - children),
    )


def main() -> None:
    """Measure and log the medians."""
    # Here, not at the top: the world worker and the signer are spawned, so they import
    # this module again, and need none of this (about 0.3 s of CPU each).
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from firmware_sim.publisher import MqttPublisher
    from inperson.broker import Broker

    parser = argparse.ArgumentParser(description="simulator speed against the signing rate")
    parser.add_argument("--badges", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--publish", choices=["none", "broker"], default="none")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--mode",
        choices=["all", *MODES],
        default="all",
        help="single: one process; worker: crowd and radio in a worker process; signer: "
        "the signing in a signer process; worker+signer: both",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    bundles = _bundles(args.badges)
    names = list(MODES) if args.mode == "all" else [args.mode]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    two: dict[str, list[float]] = {name: [] for name in names}
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
                for name in names:
                    mode = MODES[name]
                    # The baseline is measured next to each run: both see the same load.
                    sign_wall, sign_cpu = signing_rates()
                    publisher = None
                    if broker is not None:
                        publisher = MqttPublisher(broker.host, broker.port, args.connections)
                        publisher.start()
                    run_ = simulate_once(
                        bundles, args.minutes, 7 + run, publisher, progress, mode=mode
                    )
                    if publisher is not None:
                        publisher.close(60)
                    wall[name].append(run_.messages / run_.seconds / sign_wall)
                    cpu[name].append(run_.messages / run_.busiest_seconds / sign_cpu)
                    two[name].append(run_.messages / run_.two_core_seconds / sign_cpu)
                    sizes.append(run_.size / run_.messages)
                    logger.info(
                        "run %d %s: %d messages (mean %.0f bytes) in %.1f s wall = %.0f/s; "
                        "CPU %.1f s main + %.1f s workers (busiest worker %.1f s); signing "
                        "%.0f/s wall, %.0f/s CPU: ratio %.2f wall, %.2f CPU busiest process, "
                        "%.2f CPU on 2 cores; load %.1f",
                        run,
                        mode.label,
                        run_.messages,
                        run_.size / run_.messages,
                        run_.seconds,
                        run_.messages / run_.seconds,
                        run_.cpu_seconds,
                        run_.worker_cpu_seconds,
                        run_.busiest_worker_seconds,
                        sign_wall,
                        sign_cpu,
                        wall[name][-1],
                        cpu[name][-1],
                        two[name][-1],
                        os.getloadavg()[0],
                    )
        finally:
            if broker is not None:
                broker.stop()
    logger.info("load average after: %.1f %.1f %.1f (2 cores)", *os.getloadavg())
    for name in names:
        logger.info(
            "badges=%d minutes=%.0f publish=%s %s: median ratio to bare Ed25519 signing "
            "(PyNaCl SigningKey.sign, 600 B, one core, measured before each run): %.2f "
            "wall-clock, %.2f CPU of the busiest process, %.2f CPU on 2 cores (goal 0.8)",
            args.badges,
            args.minutes,
            args.publish,
            MODES[name].label,
            statistics.median(wall[name]),
            statistics.median(cpu[name]),
            statistics.median(two[name]),
        )
    mean_size = round(statistics.median(sizes))
    at_size = statistics.median(
        signing_rates(size=mean_size)[1] / signing_rates()[1] for _ in range(3)
    )
    low_level = statistics.median(raw_signing_rate() / signing_rates()[1] for _ in range(3))
    logger.info(
        "context: the messages average %d bytes; bare signing of that size runs at %.2f of "
        "the 600-byte rate (CPU time): the ceiling of one process that only signed them. "
        "The simulator signs with nacl.bindings.crypto_sign (no SignedMessage wrapper), "
        "which signs 600 B at %.2f of the baseline rate",
        mean_size,
        at_size,
        low_level,
    )


def raw_signing_rate(messages: int = 20_000, size: int = 600) -> float:
    """Signatures per CPU second with ``nacl.bindings.crypto_sign``, as the simulator signs."""
    secret = nacl.bindings.crypto_sign_seed_keypair(bytes(range(32)))[1]
    payload = bytes(size)
    cpu = time.process_time()
    for k in range(messages):
        nacl.bindings.crypto_sign(payload + k.to_bytes(4, "big"), secret)[:64]
    return messages / (time.process_time() - cpu)


if __name__ == "__main__":
    main()
