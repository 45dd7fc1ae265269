"""Gateway throughput, latency and memory (issue 4, item 5). Results: docs/performance.md.

Pinned to one core (``os.sched_setaffinity``; Mosquitto is a separate process, not pinned).
The same stream of signed messages (the crowd simulator's, ``--badges`` badges) is used by:

(a) paho:   a paho subscriber that does nothing, draining the stream queued for its session;
(b) verify: ``split_payload`` + Ed25519 verification of every message, nothing else;
(c) gateway: the whole gateway (``gateway.service.Gateway``: MQTT client, verification,
    pairing, aggregation, TinyDB checkpoints, MQTT acks, forwarding to an in-process server
    stub) draining the same stream queued for its session, once with each MQTT client
    (``GATEWAY_MQTT_CLIENT``: ``asyncio``, the default, and ``paho``);
(d) receive: the gateway's default MQTT client (``gateway.mqtt_asyncio``) receiving the
    same queued stream and doing nothing but acknowledging each batch in one write.

Each is repeated ``--repeats`` times in one run; medians and the ratios c / min(a, b) are
printed (goal >= 0.7), in wall-clock time and per CPU second of this process (the latter
is less sensitive to other load on the machine). (c) is measured between the first and
the last status poll that saw messages processed; a client may have received (and paid
for) messages before the first, so (c) is also given per CPU second of its whole run
(``_cpu_whole``: from creating the gateway to all processed, start-up included).
Then: publish-to-journal latency with a publisher paced at ``--rate`` reports/s (goal
p99 < 100 ms; the default client) for each of
``--checkpoint-intervals`` (group commit; the default is 0.02 s), with the journal
thread's own time per checkpoint; and, with ``--active`` badges (goal: 10,000), the
memory of the processing state, a real checkpoint's cost (the whole contact state vs only
its changes) and a full replay memory; then a long run (``--long-windows``) of as many
badges in changing pairs, checkpointed: journal file sizes and memory as history grows.

    .venv/bin/python -m bench.gateway_throughput [--badges 200 --windows 30 --repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.badge import Badge
from firmware_sim.config import SimSettings
from firmware_sim.simulation import CHECKIN_READER, simulate
from gateway.changelog import MIN_COMPACT_BYTES
from gateway.clock import SystemClock
from gateway.config import GatewaySettings
from gateway.journal import TinyDBJournal
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import ClientKind
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from gateway.replay import DIGEST_LEN, ReplayMemory
from gateway.replay import WINDOW as REPLAY_WINDOW
from gateway.service import Gateway
from gateway.uplink import Uplink
from inperson.broker import Broker
from protocol.api import (
    DetectionSettings,
    IngestResult,
    Meeting,
    ProvisioningBundle,
    Registry,
    RegistryBadge,
)
from protocol.encoding import encode_json, split_payload
from protocol.messages import Heard
from protocol.signing import BadgeKey
from protocol.topics import badge_subscription, parse_badge_topic

logger = logging.getLogger("bench.gateway_throughput")

EVENT = "bench"
GATEWAY = "gw-bench"
HANG_GUARD_S = 300.0
POLL_S = 0.01
"""How often the bench reads the gateway's counters (it runs in the gateway's event loop)."""
Message = tuple[str, bytes]
BENCH_NONCE = hashlib.sha256(b"bench reader nonce").digest()[:16]
"""The nonce the bench's reader issues, and the one the simulated badges quote when they
tap it: the stream is made before the gateway runs, so the badges cannot read the
gateway's announced nonces (``firmware_sim.readers``); with the same fixed nonce on both
sides their check-ins are decided like real taps (accepted, already inside ...)."""


class FixedNonce:
    """The badges' side of ``BENCH_NONCE``: every reader's nonce is it."""

    def nonce_for(self, reader: str) -> str | None:
        return BENCH_NONCE.hex()


def bench_nonce_bytes(n: int) -> bytes:
    """The gateway's side of ``BENCH_NONCE`` (its reader's nonce source)."""
    return BENCH_NONCE[:n]


def bundles_for(n: int, event: str = EVENT) -> list[ProvisioningBundle]:
    def hexseed(kind: str, i: int) -> str:
        return hashlib.sha256(f"{kind}/{event}/{i}".encode()).hexdigest()

    return [
        ProvisioningBundle(
            event=event,
            badge=f"b{i:05d}",
            signing_seed=hexseed("sign", i),
            ephid_key=hexseed("ephid", i),
            settings=DetectionSettings(),
        )
        for i in range(n)
    ]


def registry_of(bundles: Sequence[ProvisioningBundle]) -> Registry:
    return Registry(
        event=bundles[0].event,
        gateway=GATEWAY,
        zone="Bench",
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


def stream_of(bundles: Sequence[ProvisioningBundle], minutes: float, seed: int) -> list[Message]:
    settings = SimSettings(bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic")
    windows = simulate(bundles, settings, nonces=FixedNonce())
    return [(m.topic, m.payload) for w in windows for m in w.messages]


def publish(broker: Broker, messages: Sequence[Message], rate: float = 0.0) -> list[float]:
    """Publish at QoS 1 (paced at ``rate`` msg/s if > 0); return each message's send time."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    sent: list[float] = []
    try:
        start = time.perf_counter()
        infos = []
        for i, (topic, payload) in enumerate(messages):
            if rate > 0:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent.append(time.perf_counter())
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(120)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


def create_session(broker: Broker, client_id: str, subscription: str) -> None:
    """Register a persistent QoS 1 subscription, so the broker queues what follows for it."""
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_subscribe = lambda *args: done.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(subscription, qos=1)
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def drop_session(broker: Broker, client_id: str) -> None:
    """Remove a persistent session, so later runs' messages are not queued for it too."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(broker.host, broker.port)
    client.disconnect()


Rate = tuple[float, float]
"""(messages per wall-clock second, messages per CPU second of this process)."""
GatewayRate = tuple[float, float, float]
"""A Rate, and messages per CPU second of the whole run (gateway start to all processed)."""


def run_paho(broker: Broker, messages: Sequence[Message]) -> Rate:
    """(a) messages/s of a do-nothing paho subscriber draining its queued session."""
    client_id = f"paho-{uuid.uuid4().hex[:8]}"
    create_session(broker, client_id, badge_subscription(EVENT))
    publish(broker, messages)
    times: list[float] = []
    cpu: list[float] = []
    finished = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        times.append(time.perf_counter())
        cpu.append(time.process_time())
        if len(times) == len(messages):
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    finished.wait(HANG_GUARD_S)
    client.disconnect()
    client.loop_stop()
    drop_session(broker, client_id)
    n = len(times) - 1
    return n / (times[-1] - times[0]), n / (cpu[-1] - cpu[0])


def run_receive(broker: Broker, messages: Sequence[Message]) -> Rate:
    """(d) messages/s of the asyncio client draining its queued session, acknowledging batches."""
    client_id = f"recv-{uuid.uuid4().hex[:8]}"
    create_session(broker, client_id, badge_subscription(EVENT))
    publish(broker, messages)

    async def drain() -> Rate:
        client = AsyncioMqttClient(
            host=broker.host,
            port=broker.port,
            client_id=client_id,
            subscription=badge_subscription(EVENT),
            will_topic=f"inperson/v1/{EVENT}/gateways/recv/status",
            will_payload=b"offline",
            queue_size=10_000,
        )
        await client.start()
        await client.get()
        # count from the first message, like (a)
        first = time.perf_counter(), time.process_time()
        got = 1
        deadline = first[0] + HANG_GUARD_S
        while got < len(messages) and time.perf_counter() < deadline:
            batch = [await client.get()]
            while (item := client.get_nowait()) is not None:
                batch.append(item)
            got += len(batch)
            client.ack(batch)
            await asyncio.sleep(0)
        end = time.perf_counter(), time.process_time()
        await client.stop()
        n = got - 1
        return n / (end[0] - first[0]), n / (end[1] - first[1])

    rate = asyncio.run(drain())
    drop_session(broker, client_id)
    return rate


def run_verify(registry: Registry, messages: Sequence[Message]) -> Rate:
    """(b) messages/s of splitting and verifying every signature."""
    badges = BadgeRegistry(registry)
    start, start_cpu = time.perf_counter(), time.process_time()
    for topic, payload in messages:
        parsed = parse_badge_topic(topic)
        signature, body = split_payload(payload, parsed.channel)
        entry = badges.lookup(parsed.badge)
        assert entry is not None
        entry.verifier.verify(topic, body, signature)
    n = len(messages)
    return n / (time.perf_counter() - start), n / (time.process_time() - start_cpu)


def server_stub(registry: Registry) -> httpx2.AsyncClient:
    """An in-process server: the registry, and 'all accepted' for every batch (not measured)."""

    async def handle(request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(200, content=encode_json(registry))
        # {"meetings": [...]} or {"checkins": [...]}
        batch = msgspec.json.decode(await request.aread())
        accepted = sum(len(items) for items in batch.values())
        return httpx2.Response(
            200, content=encode_json(IngestResult(accepted=accepted, duplicates=0))
        )

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handle))


class TimedJournal(TinyDBJournal):
    """The real journal, recording when each checkpoint became durable and what it covers."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.durable: list[tuple[float, int]] = []
        self.work: list[float] = []
        self._started = 0.0

    def save_replay(self, changes: bytes, base: bytes | None = None) -> None:
        self._started = time.perf_counter()  # the journal thread's part of a checkpoint begins
        super().save_replay(changes, base)

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        super().checkpoint(meetings, state)
        done = time.perf_counter()
        self.durable.append((done, int(state["counters"].get("received", 0))))
        self.work.append(done - self._started)


async def _drive_gateway(
    broker: Broker,
    registry: Registry,
    journal: TimedJournal,
    settings: GatewaySettings,
    feed: Callable[[], Any],
    total: int,
) -> tuple[Gateway, list[tuple[float, float, int]]]:
    """Run a Gateway until ``total`` messages were processed and checkpointed.

    Returns the gateway and (time, messages processed) at the first poll that saw any
    processed and at the poll that saw all.
    """
    http = server_stub(registry)
    uplink = Uplink(http, "http://stub", "token")
    gateway = Gateway(
        settings,
        registry,
        uplink,
        clock=SystemClock(),
        rng=random.Random(1),
        journal=journal,
        nonce_bytes=bench_nonce_bytes,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    marks: list[tuple[float, float, int]] = []
    deadline = time.perf_counter() + HANG_GUARD_S
    # feed only once the gateway listens, so its start-up is not counted as latency
    while not gateway.status("online").gauges["mqtt_subscribed"]:
        if time.perf_counter() > deadline:
            raise RuntimeError("the gateway did not subscribe")
        await asyncio.sleep(0.01)
    feeding = asyncio.create_task(asyncio.to_thread(feed))
    while time.perf_counter() < deadline:
        received = gateway.status("online").counters.get("received", 0)
        if received and not marks:
            # the consumer processes up to 200 queued messages between two yields: count
            # from what was already processed at the first poll that saw any
            marks.append((time.perf_counter(), time.process_time(), received))
        if received >= total:
            # durable at the next checkpoint
            marks.append((time.perf_counter(), time.process_time(), received))
            break
        await asyncio.sleep(POLL_S)
    else:
        raise RuntimeError(f"the gateway did not process {total} messages in {HANG_GUARD_S} s")
    while gateway.status("online").gauges["unacknowledged"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    await feeding
    stop.set()
    await task
    await http.aclose()
    return gateway, marks


def gateway_settings(journal: Path, broker: Broker, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "token": "bench-token",
        "broker_host": broker.host,
        "broker_port": broker.port,
        "client_id": f"gw-{uuid.uuid4().hex[:8]}",
        "journal_dir": journal,
        "status_interval_s": 1.0,
        "log_level": "WARNING",
        "readers": CHECKIN_READER,  # the reader the simulated badges tap
        **overrides,
    }
    return GatewaySettings(**values)


def run_gateway(
    broker: Broker, registry: Registry, messages: Sequence[Message], client: ClientKind
) -> GatewayRate:
    """(c) messages/s of the whole gateway (with MQTT client ``client``) draining its session."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = gateway_settings(Path(tmp), broker, mqtt_client=client)
        create_session(broker, settings.client_id, badge_subscription(EVENT))
        publish(broker, messages)
        journal = TimedJournal(Path(tmp))
        start = time.process_time()
        _, marks = asyncio.run(
            _drive_gateway(broker, registry, journal, settings, lambda: None, len(messages))
        )
        drop_session(broker, settings.client_id)
    (t0, cpu0, n0), (t1, cpu1, n1) = marks
    whole = len(messages) / (cpu1 - start)
    return (n1 - n0) / (t1 - t0), (n1 - n0) / (cpu1 - cpu0), whole


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
            _drive_gateway(broker, registry, journal, settings, feed, len(messages))
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


def pairs_stream(bundles: Sequence[ProvisioningBundle], windows: int) -> list[Message]:
    """``windows`` windows of reports of every badge, each facing one partner (i ^ 1)."""
    start = 1_780_563_600
    sims = [Badge.from_bundle(b, start_time=start) for b in bundles]
    messages: list[Message] = []
    for w in range(windows):
        ws = start + 20 * w
        ephids = [s.ephid(ws).hex() for s in sims]
        for i, sim in enumerate(sims):
            out = sim.report(ws, [Heard(ephids[(i ^ 1) % len(sims)], -55, -50, 9)])
            messages.append((out.topic, out.payload))
    return messages


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


def profile_pipeline(
    badges: int = 200, minutes: float = 10.0, repeats: int = 3, top: int = 0
) -> dict[str, float]:
    """The pipeline without MQTT: CPU µs per message of (b) and of ``Gateway._handle``.

    The stream goes as ``Received`` objects through a real (not running) ``Gateway``'s
    ``_handle`` (Processor with the check-in readers, as configured by the bench), taking
    the state for a checkpoint every 200 messages the way ``_checkpoint`` does on the
    loop (no journal, no MQTT). Interleaved repeats, medians. ``top`` > 0 also prints a
    cProfile (CPU time) of one run, sorted by own time. For profiling, not in ``main``:

        .venv/bin/python -c "from bench.gateway_throughput import profile_pipeline as p; \
            print(p(top=25))"
    """
    import cProfile
    import pstats

    from gateway.mqtt_client import Received

    bundles = bundles_for(badges)
    registry = registry_of(bundles)
    messages = stream_of(bundles, minutes, 7)
    items = [Received(topic, payload, i, 1, 0) for i, (topic, payload) in enumerate(messages)]
    handle_us: list[float] = []
    verify_us: list[float] = []

    def one(profile: cProfile.Profile | None = None) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            settings = gateway_settings(Path(tmp), _NO_BROKER)  # type: ignore[arg-type]
            gateway = Gateway(
                settings,
                registry,
                Uplink(server_stub(registry), "http://stub", "token"),
                clock=SystemClock(),
                rng=random.Random(1),
                journal=TinyDBJournal(Path(tmp)),
                nonce_bytes=bench_nonce_bytes,
            )
            processor = gateway._processor
            assert processor.readers is not None
            processor.readers.rotate()
            start = time.process_time()
            if profile is not None:
                profile.enable()
            for n, item in enumerate(items, 1):
                gateway._handle(item)
                if n % 200 == 0:  # what _checkpoint takes on the loop
                    processor.take_meetings()
                    processor.snapshot()
                    processor.replay.take_changes()
                    changes, _ = gateway._take_contacts()
                    processor.take_checkins()
                    # as if that checkpoint succeeded (a contact base only at the first)
                    del gateway._contacts_unsaved[: len(changes)]
                    gateway._contacts_base_due = False
                    gateway._pending.clear()
            if profile is not None:
                profile.disable()
            return (time.process_time() - start) / len(items) * 1e6

    for _ in range(repeats):
        handle_us.append(one())
        verify_us.append(1e6 / run_verify(registry, messages)[1])
    if top:
        profile = cProfile.Profile(time.process_time)
        one(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(top)
    handle, verify = statistics.median(handle_us), statistics.median(verify_us)
    return {
        "messages": len(items),
        "handle_us": handle,
        "verify_us": verify,
        "beyond_b_us": handle - verify,
    }


class _NoBroker:
    host = "127.0.0.1"
    port = 1  # never connected: the gateway is not run


_NO_BROKER = _NoBroker()


def resident_mb() -> float:
    """This process's resident memory (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e3
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--checkpoint-intervals", type=float, nargs="+", default=[1.0, 0.05, 0.02])
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--memory-windows", type=int, default=3)
    parser.add_argument("--long-windows", type=int, default=40, help="0: skip the long run")
    parser.add_argument(
        "--active-latency-windows", type=int, default=3, help="0: skip the latency at --active"
    )
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Write the results here too.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the broker is stopped too
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.sched_setaffinity(0, {args.core})
    bundles = bundles_for(args.badges)
    registry = registry_of(bundles)
    messages = stream_of(bundles, args.minutes, 7)
    results: dict[str, Any] = {"messages": len(messages), "badges": args.badges, "core": args.core}
    with tempfile.TemporaryDirectory() as tmp, Broker(Path(tmp) / "broker") as broker:
        rates: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            measured: dict[str, Rate | GatewayRate] = {
                "paho": run_paho(broker, messages),
                "verify": run_verify(registry, messages),
                "gateway_asyncio": run_gateway(broker, registry, messages, "asyncio"),
                "gateway_paho": run_gateway(broker, registry, messages, "paho"),
                "receive_asyncio": run_receive(broker, messages),
            }
            for name, (wall, cpu, *whole) in measured.items():
                rates.setdefault(name, []).append(wall)
                rates.setdefault(f"{name}_cpu", []).append(cpu)
                if whole:
                    rates.setdefault(f"{name}_cpu_whole", []).append(whole[0])
        medians = {k: statistics.median(v) for k, v in rates.items()}
        results["runs_msg_per_s"] = rates
        results["median_msg_per_s"] = medians
        results["default_client"] = GatewaySettings.model_fields["mqtt_client"].default
        # the ratios in CPU time of the measuring process are less sensitive to other load
        # on the machine (a's and d's CPU is the client's only, not the broker's)
        for client in ("asyncio", "paho"):
            for unit, base in (("", ""), ("_cpu", "_cpu"), ("_cpu_whole", "_cpu")):
                results[f"ratio_c_over_min_ab{unit}_{client}"] = medians[
                    f"gateway_{client}{unit}"
                ] / min(medians[f"paho{base}"], medians[f"verify{base}"])
        results["load_average"] = os.getloadavg()
        print(json.dumps(results, indent=2))  # noqa: T201 - a benchmark reports on stdout
        paced = messages[: int(args.rate * args.latency_seconds)]
        results["latency"] = [
            run_latency(broker, registry, paced, args.rate, interval)
            for interval in args.checkpoint_intervals
        ]
        print(json.dumps(results["latency"], indent=2))  # noqa: T201
    results["memory"] = run_memory(args.active, args.memory_windows)
    print(json.dumps(results["memory"], indent=2))  # noqa: T201
    if args.active_latency_windows:
        results["latency_active"] = run_active_latency(
            args.active, args.active_latency_windows, args.rate
        )
        print(json.dumps(results["latency_active"], indent=2))  # noqa: T201
    if args.long_windows:
        results["long_run"] = run_long(args.active, args.long_windows)
        print(json.dumps(results["long_run"], indent=2))  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
