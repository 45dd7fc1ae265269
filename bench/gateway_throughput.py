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

This module is the command line and the report; the parts: ``bench.gateway_stream`` (the
badges and their messages), ``bench.gateway_driver`` (broker sessions, publisher, server
stub, running a gateway), ``bench.gateway_rates`` (a-d), ``bench.gateway_latency``,
``bench.gateway_memory``, and ``bench.gateway_profile`` (CPU per message without MQTT).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.gateway_latency import run_active_latency, run_latency
from bench.gateway_memory import run_long, run_memory
from bench.gateway_rates import GatewayRate, Rate, run_gateway, run_paho, run_receive, run_verify
from bench.gateway_stream import bundles_for, registry_of, stream_of
from gateway.config import GatewaySettings
from inperson.broker import Broker

logger = logging.getLogger("bench.gateway_throughput")


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
