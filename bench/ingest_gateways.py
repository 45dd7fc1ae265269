"""The ingest ratio with several gateways posting at once (issue 5, item 8; docs/performance.md).

A real event has one gateway per hall, each posting its batches as they are ready. Here
``--gateways`` N gateways of ``bench.server_bench``'s event (``gw1`` ... ``gwN``, created
or given a fresh token) each post their share of the same bodies from their own client
thread, all at once, first to the parse-and-discard route and then to
``/api/v1/gateway/meetings`` (the order alternates between runs): same bodies, same
concurrency, same transport (one in-process ``TestClient``, whose requests run
concurrently on the app's event loop and thread pool, as in one server process).
An untimed warm-up round (both routes) comes first. A run's ratio is ingest's meetings/s
over discard's, each from the wall time from the first request to the last answer;
``cpu_ratio`` is the same in process CPU time.

    .venv/bin/python -m bench.ingest_gateways --database-url sqlite:////tmp/bench.sqlite3 \\
        --gateways 4 --seed 30
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bench.server_bench import (
    EVENT,
    ORG,
    T0,
    bench_app,
    existing_event,
    random_meetings,
    setup_event,
)
from protocol.api import MeetingBatch
from protocol.encoding import encode_json


def gateway_tokens(client: TestClient, n: int) -> list[str]:
    """Return a fresh token of each of the bench event's gateways ``gw1`` ... ``gwN``."""
    tokens = []
    for k in range(1, n + 1):
        response = client.post(
            f"/api/v1/events/{EVENT}/gateways",
            json={"id": f"gw{k}", "name": f"GW {k}", "zone": "hall"},
            headers=ORG,
        )
        if response.status_code != 201:
            response = client.post(f"/api/v1/events/{EVENT}/gateways/gw{k}/token", headers=ORG)
        assert response.is_success, response.text
        tokens.append(response.json()["token"])
    return tokens


Work = list[list[tuple[bytes, dict[str, str]]]]
"""Per client thread: the bodies it posts, with their headers."""


def _post_all(client: TestClient, path: str, work: Work) -> float:
    """Post each thread's bodies in order, all threads at once; return the wall seconds."""
    barrier = threading.Barrier(len(work) + 1)
    failures: list[str] = []

    def run(items: list[tuple[bytes, dict[str, str]]]) -> None:
        barrier.wait()
        for body, headers in items:
            response = client.post(path, content=body, headers=headers)
            if response.status_code != 200 or response.json()["rejected"]:
                failures.append(response.text)

    threads = [threading.Thread(target=run, args=(items,)) for items in work]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    assert not failures, failures[0]
    return elapsed


def bench_concurrent(
    client: TestClient,
    tokens: list[str],
    badges: list[str],
    batch: int,
    batches: int,
    seed: int,
    *,
    warmup: bool = False,
) -> dict[str, float]:
    """Return meetings/s of discard and of ingest, ``batches`` bodies over the gateways.

    ``warmup``: meetings of another time range (an untimed first round: thread pool,
    caches), so a later run's seed never finds them stored.
    """
    rng = random.Random(seed)
    start = T0 + (6 if warmup else 5) * 10**10 + seed * 10**8
    work: Work = [[] for _ in tokens]
    for i in range(batches):
        k = i % len(tokens)
        meetings = random_meetings(badges, batch, rng, start + i * 10**6, gateway=f"gw{k + 1}")
        headers = {"Authorization": f"Bearer {tokens[k]}", "Content-Type": "application/json"}
        work[k].append((encode_json(MeetingBatch(meetings=meetings)), headers))
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    order = ("discard", "ingest") if seed % 2 == 0 else ("ingest", "discard")
    for side in order:
        path = "/bench/discard" if side == "discard" else "/api/v1/gateway/meetings"
        began = time.process_time()
        seconds[side] = _post_all(client, path, work)
        cpu[side] = time.process_time() - began
    discard = batch * batches / seconds["discard"]
    ingest = batch * batches / seconds["ingest"]
    return {
        "discard_per_s": discard,
        "ingest_per_s": ingest,
        "ratio": ingest / discard,
        "cpu_ratio": cpu["discard"] / cpu["ingest"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a fresh temporary SQLite")
    parser.add_argument("--attendees", type=int, default=2000)
    parser.add_argument("--gateways", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="a rerun on a kept database: new")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = bench_app(url)
        with TestClient(app) as client:
            _, badges, _ = existing_event(client) or setup_event(client, args.attendees)
            tokens = gateway_tokens(client, args.gateways)
            bench_concurrent(
                client, tokens, badges, args.batch, 2 * args.gateways, args.seed, warmup=True
            )
            runs = [
                bench_concurrent(client, tokens, badges, args.batch, args.batches, seed)
                for seed in range(args.seed, args.seed + args.repeats)
            ]
    result: dict[str, Any] = {
        "gateways": args.gateways,
        "runs": runs,
        "median_ratio": statistics.median(r["ratio"] for r in runs),
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in runs),
        "median_discard_per_s": statistics.median(r["discard_per_s"] for r in runs),
        "median_ingest_per_s": statistics.median(r["ingest_per_s"] for r in runs),
    }
    print(json.dumps(result, indent=2))  # noqa: T201 - benchmark output


if __name__ == "__main__":
    main()
