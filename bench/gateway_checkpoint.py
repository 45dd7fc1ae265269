"""What the checkpoint path costs, in CPU per message and by thread (issue 4, items 2 and 5).

Three parts, each reported as medians of ``--repeats`` (docs/performance.md, "Checkpoint
path"):

- **throughput**: the bench's (c) run (``bench.gateway_rates``: the whole gateway,
  asyncio client, draining the queued stream of ``--badges`` badges, one core), with the
  process's CPU split by thread: the event loop (main thread), the journal thread (every
  journal and check-in journal call: TinyDB writes, log appends, fsyncs), the other
  threads (next to nothing: the metrics endpoint is off); and inside the event loop what
  the checkpoints take there (snapshot, change records, contact copy) and the MQTT
  acknowledgements; fsyncs per checkpoint. All in µs per message of the stream. The
  medians are per figure, so they need not add up.
- **contact base** at ``--active`` badges in facing pairs (3 windows): what a contact base
  costs the event loop: the whole dump (before) or a copy (now), and the dump of the copy
  (now in the journal thread).
- **readers** with ``--taps`` remembered tap ids: a checkpoint's snapshot of the readers
  on the loop and the state write in the journal thread, when the readers did not change
  since the last checkpoint (now: the same snapshot, not encoded again) and when they did.

    .venv/bin/python -m bench.gateway_checkpoint [--repeats 5 --active 10000 --taps 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from bench.gateway_stream import EVENT, Message, bundles_for, registry_of, stream_of
from firmware_sim.badge import Badge
from gateway.clock import SystemClock
from gateway.journal import TinyDBJournal
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.processor import Processor
from gateway.reader_nonces import NoncePolicy
from gateway.reader_state import MAX_SEEN
from gateway.readers import ReaderConfig, Readers
from gateway.registry import BadgeRegistry
from gateway.replay import ReplayMemory
from inperson.broker import Broker
from protocol.api import Registry
from protocol.messages import CheckIn, Heard
from protocol.topics import badge_subscription

LOOP_PARTS = (
    (Processor, "snapshot"),
    (Processor, "take_meetings"),
    (Processor, "take_checkins"),
    (Processor, "take_contact_changes"),
    (Processor, "dump_contacts"),
    (Processor, "freeze_contacts"),
    (ReplayMemory, "take_changes"),
    (ReplayMemory, "dump"),
)
"""What ``Checkpointer.checkpoint`` calls on the event loop (those that exist in the code run)."""


@contextmanager
def timed(parts: list[tuple[type, str]], cpu: dict[str, float]) -> Iterator[None]:
    """Add each call's thread CPU time to ``cpu[name]`` while inside (then undo)."""
    saved = [(cls, name, cls.__dict__[name]) for cls, name in parts if name in cls.__dict__]

    def wrap(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                cpu[name] = cpu.get(name, 0.0) + time.thread_time() - start

        return timed_call

    for cls, name, call in saved:
        setattr(cls, name, wrap(f"{cls.__name__}.{name}", call))
    try:
        yield
    finally:
        for cls, name, call in saved:
            setattr(cls, name, call)


class ThreadJournal(TimedJournal):
    """The bench's journal, also noting the journal thread's CPU after each checkpoint."""

    thread_cpu = 0.0

    def checkpoint(self, meetings: Any, state: Any) -> None:
        super().checkpoint(meetings, state)
        self.thread_cpu = time.thread_time()  # the whole thread's, so far


def throughput_cpu(broker: Broker, registry: Registry, messages: list[Message]) -> dict[str, float]:
    """One (c) run of the whole gateway; CPU µs per message by thread and part."""
    loop_cpu: dict[str, float] = {}
    fsyncs = 0
    real_fsync = os.fsync

    def counting_fsync(fd: Any) -> None:
        nonlocal fsyncs
        fsyncs += 1
        real_fsync(fd)

    with tempfile.TemporaryDirectory() as tmp:
        settings = gateway_settings(Path(tmp), broker, mqtt_client="asyncio")
        create_session(broker, settings.client_id, badge_subscription(EVENT))
        publish(broker, messages)
        journal = ThreadJournal(Path(tmp))
        parts = [*LOOP_PARTS, (AsyncioMqttClient, "ack")]
        os.fsync = counting_fsync
        try:
            with timed(parts, loop_cpu):
                process, main = time.process_time(), time.thread_time()
                asyncio.run(
                    drive_gateway(broker, registry, journal, settings, lambda: None, len(messages))
                )
                process, main = time.process_time() - process, time.thread_time() - main
        finally:
            os.fsync = real_fsync
        drop_session(broker, settings.client_id)
    n = len(messages) / 1e6
    acks = loop_cpu.pop("AsyncioMqttClient.ack", 0.0)
    return {
        "process_us": process / n,
        "event_loop_us": main / n,
        "journal_thread_us": journal.thread_cpu / n,
        "other_threads_us": (process - main - journal.thread_cpu) / n,
        "checkpoint_on_loop_us": sum(loop_cpu.values()) / n,
        "mqtt_acks_us": acks / n,
        "checkpoints": len(journal.work),
        "fsyncs_per_checkpoint": fsyncs / max(1, len(journal.work)),
    }


def contact_base(active: int, repeats: int) -> dict[str, float]:
    """A contact base at ``active`` badges in facing pairs: loop and thread CPU, ms."""
    bundles = bundles_for(active, "bench-base")
    badges = BadgeRegistry(registry_of(bundles))
    start = 1_780_563_600
    sims = [Badge.from_bundle(b, start_time=start) for b in bundles]
    processor = Processor(badges, SystemClock())
    for w in range(3):
        ephids = [s.ephid(start + 20 * w).hex() for s in sims]
        for i, sim in enumerate(sims):
            out = sim.report(start + 20 * w, [Heard(ephids[i ^ 1], -55, -50, 9)])
            processor.handle(out.topic, out.payload)
    processor.take_contact_changes()
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        began = time.thread_time()
        processor.dump_contacts()
        times.setdefault("dump_on_loop_ms", []).append(time.thread_time() - began)
        if hasattr(processor, "freeze_contacts"):
            began = time.thread_time()
            dump = processor.freeze_contacts()
            copied = time.thread_time()
            dump()
            times.setdefault("copy_on_loop_ms", []).append(copied - began)
            times.setdefault("dump_of_copy_in_thread_ms", []).append(time.thread_time() - copied)
    return {
        "active_badges": active,
        "base_mb": len(processor.dump_contacts()) / 1e6,
        **{name: 1000 * statistics.median(values) for name, values in times.items()},
    }


def readers_checkpoint(taps: int, repeats: int) -> dict[str, float]:
    """Checkpoints of a readers state remembering ``taps`` tap ids: loop and thread CPU, ms."""
    clock = SystemClock()
    policy = NoncePolicy(interval_s=15.0, valid_s=60, memory_s=600.0)
    readers = Readers(
        EVENT,
        "gw-bench",
        [ReaderConfig("entrance", "lobby")],
        clock,
        random.Random(1).randbytes,
        policy,
        Counter(),
    )
    [nonce] = readers.rotate()
    for i in range(min(taps, MAX_SEEN)):
        t = int(clock.now())
        tap = CheckIn(
            event=EVENT,
            badge=f"b{i:05d}",
            seq=1,
            reader="entrance",
            nonce=nonce.nonce,
            t=t,
            direction="entry",
        )
        readers.accept(tap)
    readers.take_records()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        journal = TinyDBJournal(Path(tmp))
        journal.open()
        for _ in range(repeats):
            for kind in ("unchanged", "changed"):
                if kind == "changed":  # what every checkpoint did before
                    readers.restore(readers.snapshot())
                began = time.thread_time()
                state = {"version": 2, "event": EVENT, "readers": readers.snapshot()}
                built = time.thread_time()
                journal.checkpoint([], state)
                done = time.thread_time()
                times.setdefault(f"{kind}_snapshot_on_loop_ms", []).append(built - began)
                times.setdefault(f"{kind}_state_write_ms", []).append(done - built)
        state_kb = (Path(tmp) / "state.json").stat().st_size / 1e3
        journal.close()
    return {
        "tap_ids": min(taps, MAX_SEEN),
        "state_file_kb": state_kb,
        **{name: 1000 * statistics.median(values) for name, values in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--active", type=int, default=10_000, help="0: skip the contact base")
    parser.add_argument("--taps", type=int, default=10_000, help="0: skip the readers part")
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    bundles = bundles_for(args.badges)
    registry = registry_of(bundles)
    messages = stream_of(bundles, args.minutes, 7)
    results: dict[str, Any] = {"messages": len(messages), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp, Broker(Path(tmp) / "broker") as broker:
        runs = [throughput_cpu(broker, registry, messages) for _ in range(args.repeats)]
    results["throughput_runs"] = runs
    results["throughput_median"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    if args.active:
        results["contact_base"] = contact_base(args.active, args.repeats)
    if args.taps:
        results["readers"] = readers_checkpoint(args.taps, args.repeats)
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))  # noqa: T201 - a benchmark reports on stdout


if __name__ == "__main__":
    main()
