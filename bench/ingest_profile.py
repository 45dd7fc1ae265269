"""Where one meeting-ingest request spends its time, step by step (issue 5, item 8).

Runs ``bench.server_bench``'s setup (or reuses the event of a kept ``--database-url``,
e.g. one filled with 1,000,000 meetings), then POSTs ``--batches`` bodies of ``--batch``
meetings, each first to the parse-and-discard route and then to
``/api/v1/gateway/meetings``, like the ratio benchmark. Inside this process the server's
steps are wrapped with timers (authentication, body decode, generation,
validation (and within it the badge lookup, when the batch has badges this process has not
seen yet), ``executemany``, commit, response encode, session open and close); the rest of a
request is HTTP, FastAPI's dependency solving and the thread hop. Medians per request
over all but the first 5 batches, in milliseconds. Results: docs/performance.md.

    .venv/bin/python -m bench.ingest_profile --database-url sqlite:////tmp/bench.sqlite3 --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

import server.api.routes.meetings as route
import server.services.badge_cache as badge_cache
import server.services.generations as generations
import server.services.ingest as ingest
from bench.server_bench import (
    T0,
    bench_app,
    existing_event,
    random_meetings,
    setup_event,
)
from protocol.api import MeetingBatch
from protocol.encoding import encode_json
from server.db import Database

WARMUP = 5
STEPS = (
    "authentication",
    "decode",
    "ingest_batch",
    "executemany",
    "commit",
    "generation",
    "validation",
    "badge lookup",
    "encode",
    "session open",
    "session close",
)


class Timers:
    """Wall and thread CPU seconds spent in each wrapped step during the current request."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``function`` timed into ``step``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed, used = time.perf_counter() - began, time.thread_time() - cpu
                self.current[step] = self.current.get(step, 0.0) + elapsed
                self.cpu[step] = self.cpu.get(step, 0.0) + used

        return timed


@contextlib.contextmanager
def patched(timers: Timers) -> Iterator[None]:
    """Wrap the server's ingest steps with ``timers`` (restored afterwards)."""
    targets: list[tuple[Any, str, str]] = [
        (route, "sender_of", "authentication"),
        (route, "decode_json", "decode"),
        (route, "encode_json", "encode"),
        (route, "ingest_batch", "ingest_batch"),
        (ingest, "_insert", "executemany"),
        (badge_cache.cache, "known", "badge lookup"),
        (generations.cache, "generation", "generation"),
        (ingest, "_judge", "validation"),
        (Session, "commit", "commit"),
        (Database, "session", "session open"),
        (Session, "close", "session close"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    try:
        for owner, name, step in targets:
            setattr(owner, name, timers.wrap(step, getattr(owner, name)))
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def profile(client: TestClient, token: str, badges: list[str], args: argparse.Namespace) -> None:
    """POST the bodies and print the median milliseconds of each step."""
    rng = random.Random(args.seed)
    start = T0 + 3 * 10**10 + args.seed * 10**8
    bodies = [
        encode_json(
            MeetingBatch(meetings=random_meetings(badges, args.batch, rng, start + i * 10**6))
        )
        for i in range(args.batches + WARMUP)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timers = Timers()
    steps: dict[str, list[float]] = {step: [] for step in STEPS}
    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    discard: list[float] = []
    total: list[float] = []
    with patched(timers):
        for n, body in enumerate(bodies):
            began = time.perf_counter()
            assert client.post("/bench/discard", content=body, headers=headers).status_code == 200
            discarded = time.perf_counter() - began
            timers.current, timers.cpu = {}, {}
            began = time.perf_counter()
            response = client.post("/api/v1/gateway/meetings", content=body, headers=headers)
            elapsed = time.perf_counter() - began
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == args.batch, response.text
            if n < WARMUP:
                continue
            discard.append(discarded)
            total.append(elapsed)
            for step in STEPS:
                steps[step].append(timers.current.get(step, 0.0))
                cpu[step].append(timers.cpu.get(step, 0.0))
    ms = {step: statistics.median(v) * 1000 for step, v in steps.items()}
    cpu_ms = {step: statistics.median(v) * 1000 for step, v in cpu.items()}
    outside = ("authentication", "decode", "ingest_batch", "encode", "session open")
    rest = statistics.median(total) * 1000 - sum(ms[s] for s in outside + ("session close",))
    lines = [
        f"ingest request {statistics.median(total) * 1000:.2f} ms, "
        f"parse-and-discard request {statistics.median(discard) * 1000:.2f} ms "
        f"(ratio of medians {statistics.median(discard) / statistics.median(total):.3f})",
        f"  {'step':<34}{'wall ms':>8} {'CPU ms':>8}",
        *(f"  {step:<34}{ms[step]:8.3f} {cpu_ms[step]:8.3f}" for step in STEPS),
        f"  {'  of ingest_batch: Python, the rest':<34}"
        f"{ms['ingest_batch'] - sum(ms[s] for s in STEPS[3:7]):8.3f} "
        f"{cpu_ms['ingest_batch'] - sum(cpu_ms[s] for s in STEPS[3:7]):8.3f}",
        f"  {'HTTP, dependencies, thread hop':<34}{rest:8.3f}",
    ]
    print("\n".join(lines))  # noqa: T201 - benchmark output


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a fresh temporary SQLite")
    parser.add_argument("--attendees", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="a rerun on a kept database: new")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = bench_app(url)
        with TestClient(app) as client:
            _, badges, token = existing_event(client) or setup_event(client, args.attendees)
            profile(client, token, badges, args)


if __name__ == "__main__":
    main()
