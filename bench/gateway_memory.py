"""The gateway bench's memory runs: the processing state at many active badges, over time.

``run_memory``: the heap and state sizes with ``active`` badges in pairs, a real
checkpoint's cost, a full replay memory; ``run_long``: journal files and memory as
history grows.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import msgspec

from bench.gateway_stream import bundles_for, registry_of
from firmware_sim.badge import Badge
from gateway.changelog import MIN_COMPACT_BYTES
from gateway.clock import SystemClock
from gateway.journal import TinyDBJournal
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from gateway.replay import DIGEST_LEN, ReplayMemory
from gateway.replay import WINDOW as REPLAY_WINDOW
from protocol.messages import Heard


def run_memory(active: int, windows: int) -> dict[str, float]:
    """Processing state with ``active`` badges in pairs, reporting for ``windows`` windows.

    The heap growth is measured with tracemalloc from after the registry (keys, verifiers)
    is built: it is what the gateway keeps for the traffic, not for the badge list.
    """
    bundles = bundles_for(active, "bench-mem")
    registry = registry_of(bundles)
    badges = BadgeRegistry(registry)
    start = 1_780_563_600
    sims = [Badge.from_bundle(b, start_time=start) for b in bundles]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    processor = Processor(badges, SystemClock())
    for w in range(windows):
        ws = start + 20 * w
        ephids = [s.ephid(ws).hex() for s in sims]
        processor.take_contact_changes()  # keep the last window's contact changes
        for i, sim in enumerate(sims):
            partner = i ^ 1
            out = sim.report(ws, [Heard(ephids[partner], -55, -50, 9)])
            processor.handle(out.topic, out.payload)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    contact_changes = processor.take_contact_changes()
    state = len(msgspec.json.encode(processor.snapshot()))
    old_state = len(msgspec.json.encode(full_snapshot(processor)))
    contact_base = len(processor.dump_contacts())
    per_message = len(contact_changes) / active
    return {
        "active_badges": active,
        "windows": windows,
        "open_pairs": processor.gauges()["open_pairs"],
        "python_heap_mb": grown / 1e6,
        "state_json_mb": state / 1e6,
        "old_full_state_json_mb": old_state / 1e6,
        "contact_base_mb": contact_base / 1e6,
        "contact_log_bytes_per_message": per_message,
        # a new contact base once the log outgrows the base (and 1 MiB)
        "messages_per_contact_base": max(contact_base, MIN_COMPACT_BYTES) / per_message,
        "replay_base_mb": len(processor.replay.dump()) / 1e6,
        **checkpoint_cost(
            processor, repeats=7, contact_changes=contact_changes[: int(per_message * 1000)]
        ),
        **full_replay_memory(active),
    }


def full_snapshot(processor: Processor) -> dict[str, Any]:
    """The state document as checkpoints wrote it before the contact log (state version 1)."""
    return {**processor.snapshot(), "version": 1, **processor.contact_snapshot()}


def checkpoint_cost(processor: Processor, repeats: int, contact_changes: bytes) -> dict[str, float]:
    """Median times of real journal checkpoints (TinyDB, fsync) of this processing state.

    Each checkpoint carries the replay and contact changes of 1,000 accepted messages (what
    2 s of reports from 10,000 badges bring) and no meetings, as between windows. Three
    kinds, interleaved in one run: ``full`` writes the whole contact state into the state
    document (as before the contact log), ``incremental`` appends the contact changes, and
    ``base`` writes a new contact base (what one checkpoint in
    ``messages_per_contact_base`` messages does). ``loop`` is the part taken on the event
    loop (snapshot, dump); the rest is the journal thread's file work.
    """
    changes = replay_changes(1000)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        journal = TinyDBJournal(Path(tmp))
        journal.open()
        journal.save_replay(b"", processor.replay.dump())
        journal.save_contacts(b"", processor.dump_contacts())
        journal.checkpoint([], processor.snapshot())
        for _ in range(repeats):
            for kind in ("full", "incremental", "base"):
                start = time.perf_counter()
                if kind == "full":
                    state, contacts, base = full_snapshot(processor), b"", None
                else:
                    state, contacts = processor.snapshot(), contact_changes
                    base = processor.dump_contacts() if kind == "base" else None
                loop = time.perf_counter()
                journal.save_replay(changes)
                journal.save_contacts(contacts, base)
                journal.checkpoint([], state)
                done = time.perf_counter()
                times.setdefault(f"checkpoint_{kind}_ms_median", []).append(done - start)
                times.setdefault(f"checkpoint_{kind}_loop_ms_median", []).append(loop - start)
        journal.close()
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def replay_changes(n: int) -> bytes:
    """The replay-log bytes of ``n`` accepted messages (badge ids like the bench's)."""
    memory = ReplayMemory()
    for i in range(n):
        memory.record(f"b{i:05d}", 1_000 + i, i.to_bytes(DIGEST_LEN, "big"))
    return memory.take_changes()


def full_replay_memory(active: int) -> dict[str, float]:
    """Replay memory with every badge's window full (after 256+ messages per badge).

    What the verifier keeps per badge once an event has run long enough (85 min of
    20 s windows); measured directly, without signing 2.5 M messages.
    """
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    memory = ReplayMemory()
    for badge in range(active):
        name = f"b{badge:05d}"
        for seq in range(REPLAY_WINDOW + 10):
            memory.record(name, seq, seq.to_bytes(DIGEST_LEN, "big"))
        memory.take_changes()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    start = time.perf_counter()
    base = memory.dump()
    dump_s = time.perf_counter() - start
    return {
        "full_replay_heap_mb": grown / 1e6,
        "full_replay_base_mb": len(base) / 1e6,
        "full_replay_dump_ms": 1000 * dump_s,
    }


def run_long(active: int, windows: int, every: int = 1000) -> dict[str, Any]:
    """Journal files and memory over a long run of ``active`` badges in changing pairs.

    Partners change every 6 windows, so meetings close and new ones open all along. The
    processor is checkpointed into a real ``TinyDBJournal`` every ``every`` messages the
    way the service does it (changes appended; a new base when a log outgrew its base).
    Sampled every few windows: the contact and replay files on disk, the open state, the
    process's resident memory; and the median checkpoint time (event-loop part included).
    """
    bundles = bundles_for(active, "bench-long")
    badges = BadgeRegistry(registry_of(bundles))
    start = 1_780_563_600
    sims = [Badge.from_bundle(b, start_time=start) for b in bundles]
    processor = Processor(badges, SystemClock())
    samples: list[dict[str, float]] = []
    times: list[float] = []
    bases = {"contacts": 0, "replay": 0}
    with tempfile.TemporaryDirectory() as tmp:
        journal = TinyDBJournal(Path(tmp))
        journal.open()

        def checkpoint(first: bool) -> None:
            began = time.perf_counter()
            processor.take_meetings()
            state = processor.snapshot()
            replay, contacts = processor.replay.take_changes(), processor.take_contact_changes()
            replay_base = first or journal.replay_needs_base()
            contact_base = first or journal.contacts_needs_base()
            journal.save_replay(replay, processor.replay.dump() if replay_base else None)
            journal.save_contacts(contacts, processor.dump_contacts() if contact_base else None)
            journal.checkpoint([], state)
            times.append(time.perf_counter() - began)
            bases["replay"] += replay_base
            bases["contacts"] += contact_base

        checkpoint(first=True)
        for w in range(windows):
            ws = start + 20 * w
            shift = 1 + (w // 6) % 7  # partner i ^ shift stays within blocks of 8 badges
            ephids = [s.ephid(ws).hex() for s in sims]
            for i, sim in enumerate(sims):
                out = sim.report(ws, [Heard(ephids[(i ^ shift) % len(sims)], -55, -50, 9)])
                processor.handle(out.topic, out.payload)
                if (w * len(sims) + i + 1) % every == 0:
                    checkpoint(first=False)
            if (w + 1) % 5 == 0 or w + 1 == windows:
                gauges = processor.gauges()
                samples.append(
                    {
                        "window": w + 1,
                        "meetings_closed": processor.counters["meetings"],
                        "open_pairs": gauges["open_pairs"],
                        "open_windows": gauges["open_windows"],
                        "pending_half_contacts": gauges["pending_half_contacts"],
                        "contact_files_kb": sum(journal.contact_sizes()) / 1e3,
                        "replay_files_kb": sum(journal.replay_sizes()) / 1e3,
                        "state_file_kb": (Path(tmp) / "state.json").stat().st_size / 1e3,
                        "rss_mb": resident_mb(),
                    }
                )
        journal.close()
    return {
        "active_badges": active,
        "windows": windows,
        "checkpoints": len(times),
        "checkpoint_ms_median": 1000 * statistics.median(times),
        "bases_written": bases,
        "samples": samples,
    }


def resident_mb() -> float:
    """This process's resident memory (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e3
    return float("nan")
