"""MQTT receive cost of the candidate clients (issue 4, item 5). Results: docs/performance.md.

One process pinned to one core drains the same queued QoS 1 stream as
``bench.gateway_throughput`` (the crowd simulator's signed messages) with each client,
doing nothing with the messages but acknowledging them; rates are messages per wall-clock
second and per CPU second of this process (Mosquitto is a separate, unpinned process):

- paho:    paho-mqtt's network thread, on_message does nothing (paho acknowledges);
- asyncio: ``gateway.mqtt_asyncio.AsyncioMqttClient`` (the consumer takes everything
           queued, acknowledges it in one write per batch, yields);
- gmqtt:   gmqtt's asyncio client, on_message does nothing (only if gmqtt is importable:
           it is not a dependency; ``pip install --target DIR gmqtt`` and PYTHONPATH=DIR).
           Over MQTT 3.1.1 gmqtt acknowledges before on_message (it forces "optimistic
           acknowledgement" below MQTT 5), which the gateway cannot use; this is its best case.

    .venv/bin/python -m bench.mqtt_receive [--badges 200 --minutes 10 --repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.gateway_driver import HANG_GUARD_S, create_session, drop_session, publish
from bench.gateway_rates import Rate, run_paho, run_receive
from bench.gateway_stream import EVENT, Message, bundles_for, stream_of
from inperson.broker import Broker
from protocol.topics import badge_subscription


def queued(broker: Broker, messages: Sequence[Message]) -> str:
    """A fresh persistent session with ``messages`` queued for it; return its client id."""
    client_id = f"recv-{uuid.uuid4().hex[:8]}"
    create_session(broker, client_id, badge_subscription(EVENT))
    publish(broker, messages)
    return client_id


def run_gmqtt(broker: Broker, messages: Sequence[Message]) -> Rate:
    """Drain the queued stream with gmqtt (MQTT 3.1.1, persistent session, QoS 1)."""
    import gmqtt  # type: ignore[import-not-found,unused-ignore]  # optional, see docstring

    client_id = queued(broker, messages)
    marks: list[tuple[float, float]] = []
    total = len(messages)

    async def drain() -> None:
        done = asyncio.Event()
        count = 0

        def on_message(client: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
            nonlocal count
            count += 1
            if count == 1 or count == total:
                marks.append((time.perf_counter(), time.process_time()))
            if count == total:
                done.set()
            return 0

        client = gmqtt.Client(client_id, clean_session=False)
        client.on_message = on_message
        client.on_connect = lambda c, *a: c.subscribe(badge_subscription(EVENT), qos=1)
        await client.connect(broker.host, broker.port, version=gmqtt.constants.MQTTv311)
        await asyncio.wait_for(done.wait(), HANG_GUARD_S)
        await client.disconnect()

    asyncio.run(drain())
    drop_session(broker, client_id)
    (t0, c0), (t1, c1) = marks
    return (total - 1) / (t1 - t0), (total - 1) / (c1 - c0)


def run_gmqtt_deferred(broker: Broker, messages: Sequence[Message]) -> Rate:
    """gmqtt over MQTT 5 with acknowledgement after on_message's coroutine returns.

    The only way gmqtt defers a PUBACK: each message becomes a task that waits until the
    consumer's batch is done (here: the next turn of the drain loop), then PUBACKs one by one.
    """
    import gmqtt  # optional, see the module docstring

    client_id = queued(broker, messages)
    marks: list[tuple[float, float]] = []
    total = len(messages)

    async def drain() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        waiting: list[asyncio.Future[None]] = []
        count = 0

        async def on_message(client: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
            nonlocal count
            count += 1
            if count == 1 or count == total:
                marks.append((time.perf_counter(), time.process_time()))
            if count == total:
                done.set()
            durable: asyncio.Future[None] = loop.create_future()
            waiting.append(durable)
            await durable
            return 0

        client = gmqtt.Client(client_id, clean_session=False, optimistic_acknowledgement=False)
        client.on_message = on_message
        client.on_connect = lambda c, *a: c.subscribe(badge_subscription(EVENT), qos=1)
        await client.connect(broker.host, broker.port, version=gmqtt.constants.MQTTv50)
        deadline = time.perf_counter() + HANG_GUARD_S
        while not done.is_set() and time.perf_counter() < deadline:
            batch, waiting[:] = list(waiting), []
            for durable in batch:
                durable.set_result(None)
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)
        for durable in waiting:
            durable.set_result(None)
        await client.disconnect()

    asyncio.run(drain())
    drop_session(broker, client_id)
    (t0, c0), (t1, c1) = marks
    return (total - 1) / (t1 - t0), (total - 1) / (c1 - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--badges", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.sched_setaffinity(0, {args.core})
    messages = stream_of(bundles_for(args.badges), args.minutes, 7)
    candidates: dict[str, Callable[[Broker, Sequence[Message]], Rate]] = {
        "paho": run_paho,
        "asyncio": run_receive,
    }
    if importlib.util.find_spec("gmqtt") is not None:
        candidates["gmqtt"] = run_gmqtt
        candidates["gmqtt_v5_deferred"] = run_gmqtt_deferred
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, Broker(Path(tmp) / "broker") as broker:
        for _ in range(args.repeats):
            for name, run in candidates.items():
                wall, cpu = run(broker, messages)
                rates.setdefault(name, []).append(wall)
                rates.setdefault(f"{name}_cpu", []).append(cpu)
    medians = {k: statistics.median(v) for k, v in rates.items()}
    results = {
        "messages": len(messages),
        "runs_msg_per_s": rates,
        "median_msg_per_s": medians,
        "cpu_rate_over_paho": {
            name: medians[f"{name}_cpu"] / medians["paho_cpu"] for name in candidates
        },
        "load_average": os.getloadavg(),
    }
    print(json.dumps(results, indent=2))  # noqa: T201 - a benchmark reports on stdout


if __name__ == "__main__":
    main()
