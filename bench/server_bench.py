"""Server speed (issue 5, item 8). Results: docs/performance.md.

Three measurements, each repeated ``--repeats`` times, medians reported:

1. ingest: meeting batches of ``--batch`` meetings POSTed to ``/api/v1/gateway/meetings``
   (decode, validate, idempotent insert, commit) as a ratio to the rate at which *the same
   app* parses the same batches at a bench-only route and discards them (goal >= 0.5);
   each body goes to both routes alternately, so both see the same machine load;
   measured on a fresh event and again once it holds ``--meetings`` meetings;
2. attendee export: one attendee's "people I met" (CSV and JSON) with ``--meetings``
   meetings stored in the event (goal < 50 ms median on SQLite);
3. network export: rows per second of ``network.csv`` and lines per second of the
   SocioPatterns ``contacts.tij`` over the same stored meetings.

Requests go through Starlette's TestClient (in-process ASGI, no sockets), so both sides
of the ingest ratio pay the same HTTP overhead. SQLite by default; ``--database-url``
runs it against another database (e.g. a PostgreSQL started by ``tests.postgres``).

    .venv/bin/python -m bench.server_bench [--meetings 1000000 --attendees 2000 --repeats 5]
    .venv/bin/python -m bench.server_bench --ingest-only   # the ingest ratio alone, ~15 s
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Response
from sqlalchemy import insert, text
from starlette.testclient import TestClient

from protocol.api import IngestResult, Meeting, MeetingBatch
from protocol.encoding import decode_json, encode_json
from protocol.ids import meeting_id
from server.api.body import batch_body
from server.config import ServerSettings
from server.main import create_app
from server.models import Meeting as MeetingRow
from server.services.generations import GENERATION_ROWS

TOKEN = "bench-organizer-token"
ORG = {"Authorization": f"Bearer {TOKEN}"}
EVENT = "bench"
T0 = 1_780_563_600
WINDOW = 20


def add_discard_route(app: FastAPI) -> None:
    """The baseline: parse a batch exactly like ingest does (raw body, msgspec), store nothing."""

    @app.post("/bench/discard")
    def discard(body: Annotated[bytes, Depends(batch_body)]) -> Response:
        batch = decode_json(body, MeetingBatch)
        result = IngestResult(accepted=len(batch.meetings), duplicates=0, rejected=[])
        return Response(encode_json(result), media_type="application/json")


def bench_app(database_url: str) -> FastAPI:
    """The server app on ``database_url`` with the bench's organizer token and the discard route."""
    settings = ServerSettings(
        database_url=database_url,
        organizer_token=TOKEN,
        log_level="WARNING",
        retention_interval_s=0,
    )
    app = create_app(settings)
    add_discard_route(app)
    return app


def existing_event(client: TestClient) -> tuple[list[int], list[str], str] | None:
    """Return ids, badges and a fresh gateway token of a bench event already stored."""
    if client.get(f"/api/v1/events/{EVENT}", headers=ORG).status_code != 200:
        return None
    listed = client.get(
        f"/api/v1/events/{EVENT}/attendees", params={"limit": 10_000}, headers=ORG
    ).json()
    token = client.post(f"/api/v1/events/{EVENT}/gateways/gw1/token", headers=ORG).json()
    return [a["id"] for a in listed], [a["badge"] for a in listed], token["token"]


def setup_event(client: TestClient, attendees: int) -> tuple[list[int], list[str], str]:
    """Create the event, attendees, badges and a gateway (through the API); return ids."""
    response = client.post(
        "/api/v1/events",
        json={"id": EVENT, "name": "Bench", "settings": {"link_threshold_seconds": 60}},
        headers=ORG,
    )
    assert response.status_code == 201, response.text
    rows = [
        {
            "name": f"Person {i}",
            "company": f"Company {i % 97}",
            "email": f"p{i}@example.org",
            "share_level": "full",
        }
        for i in range(attendees)
    ]
    assert client.post(f"/api/v1/events/{EVENT}/attendees", json=rows, headers=ORG).is_success
    listed = client.get(
        f"/api/v1/events/{EVENT}/attendees", params={"limit": 10_000}, headers=ORG
    ).json()
    ids = [a["id"] for a in listed]
    bundles = client.post(
        f"/api/v1/events/{EVENT}/badges", json={"all_unbadged": True}, headers=ORG
    ).json()
    by_attendee = {
        a["id"]: a["badge"]
        for a in client.get(
            f"/api/v1/events/{EVENT}/attendees", params={"limit": 10_000}, headers=ORG
        ).json()
    }
    assert len(bundles) == attendees
    token = client.post(
        f"/api/v1/events/{EVENT}/gateways",
        json={"id": "gw1", "name": "GW", "zone": "hall"},
        headers=ORG,
    ).json()["token"]
    return ids, [by_attendee[i] for i in ids], token


def random_meetings(
    badges: list[str], n: int, rng: random.Random, start: int, gateway: str = "gw1"
) -> list[Meeting]:
    """``n`` proximity meetings between random pairs, each 3-30 windows long, from ``gateway``."""
    meetings = []
    for k in range(n):
        a, b = rng.sample(badges, 2)
        first = start + k * 7 + rng.randrange(0, 3600)
        windows = rng.randint(3, 30)
        meetings.append(
            Meeting(
                id=meeting_id("proximity", EVENT, a, b, first),
                event=EVENT,
                kind="proximity",
                badge_a=a,
                badge_b=b,
                first_seen=first,
                last_seen=first + windows * WINDOW,
                contact_seconds=windows * WINDOW,
                windows=windows,
                gateway=gateway,
                zone=rng.choice(("hall", "stage", "lobby")),
                rssi_median_dbm=-60,
            )
        )
    return meetings


def bench_ingest(
    client: TestClient, token: str, badges: list[str], batch: int, batches: int, seed: int
) -> dict[str, float]:
    """Return meetings/s of the discard baseline and of real ingest over the same bodies.

    Each body is POSTed to the discard route, then ingested, alternately, so both sides
    see the same machine load (a shared machine's load drifts over seconds). Rates from
    the total time of each side (``*_per_s``, ``ratio``) and from the median time per
    batch (``median_*``, robust to another process's burst); ``cpu_ratio`` is the same
    ratio in process CPU time (client and server, all threads), steadier under load
    than wall-clock time but not the goal's measure.
    """
    rng = random.Random(seed)
    start = T0 + seed * 10_000_000
    bodies = [
        encode_json(MeetingBatch(meetings=random_meetings(badges, batch, rng, start + i * 10**6)))
        for i in range(batches)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    discard_s: list[float] = []
    ingest_s: list[float] = []
    cpu_s: dict[str, float] = {"discard": 0.0, "ingest": 0.0}
    for body in bodies:
        began, cpu = time.perf_counter(), time.process_time()
        assert client.post("/bench/discard", content=body, headers=headers).status_code == 200
        discard_s.append(time.perf_counter() - began)
        cpu_s["discard"] += time.process_time() - cpu
        began, cpu = time.perf_counter(), time.process_time()
        response = client.post("/api/v1/gateway/meetings", content=body, headers=headers)
        ingest_s.append(time.perf_counter() - began)
        cpu_s["ingest"] += time.process_time() - cpu
        assert response.status_code == 200 and response.json()["rejected"] == [], response.text
        assert response.json()["accepted"] == batch, response.text
    discard = batch * batches / sum(discard_s)
    ingest = batch * batches / sum(ingest_s)
    median_discard = batch / statistics.median(discard_s)
    median_ingest = batch / statistics.median(ingest_s)
    return {
        "discard_per_s": discard,
        "ingest_per_s": ingest,
        "ratio": ingest / discard,
        "median_discard_per_s": median_discard,
        "median_ingest_per_s": median_ingest,
        "median_ratio": median_ingest / median_discard,
        "cpu_ratio": cpu_s["discard"] / cpu_s["ingest"],
    }


def fill(app: FastAPI, badges: list[str], total: int, rng: random.Random) -> None:
    """Store meetings in bulk (Core inserts of 10,000 rows) until the event holds ``total``.

    Each row gets the ingest generation ingest would give it; PostgreSQL is analyzed after.
    """
    database = app.state.database
    now = datetime.now(UTC)
    with database.session() as session:
        stored = session.query(MeetingRow).count()
        start = T0 + 10**9
        while stored < total:
            chunk = min(10_000, total - stored)
            rows = [
                {
                    "id": m.id,
                    "event_id": EVENT,
                    "kind": "proximity",
                    "badge_a": m.badge_a,
                    "badge_b": m.badge_b,
                    "first_seen": m.first_seen,
                    "last_seen": m.last_seen,
                    "contact_seconds": m.contact_seconds,
                    "windows": m.windows,
                    "gateway_id": "gw1",
                    "zone": m.zone,
                    "rssi_median_dbm": -60,
                    "received_at": now,
                    # the generation ingest would give it (server.services.generations)
                    "ingest_gen": (stored + i) // GENERATION_ROWS,
                }
                for i, m in enumerate(random_meetings(badges, chunk, rng, start + stored * 7))
            ]
            session.execute(insert(MeetingRow.metadata.tables["meetings"]), rows)
            session.commit()
            stored += chunk
        if database.engine.dialect.name == "postgresql":
            # what autovacuum would do after such a bulk load: without statistics the
            # planner scans an event's whole badge index instead of seeking generations
            session.execute(text("ANALYZE meetings"))
            session.commit()


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Return the runs and the medians of their rates and ratios (empty: no runs)."""
    if not runs:
        return {}
    return {
        "runs": runs,
        "median_discard_per_s": statistics.median(r["discard_per_s"] for r in runs),
        "median_ingest_per_s": statistics.median(r["ingest_per_s"] for r in runs),
        "median_ratio": statistics.median(r["ratio"] for r in runs),
        "median_ratio_of_batch_medians": statistics.median(r["median_ratio"] for r in runs),
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in runs),
    }


def timed_get(client: TestClient, path: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    response = client.get(path, headers=ORG)
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, response.text
    return elapsed, response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument("--attendees", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=40, help="0: skip the ingest ratio")
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the ingest ratio on a fresh event (no fill, no exports; ~15 s)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="first seed of the ingest runs (a rerun on a kept database needs unused ones)",
    )
    parser.add_argument("--exports", type=int, default=30, help="attendee exports timed")
    parser.add_argument(
        "--database-url",
        default="",
        help="keep the database here (a second run reuses the stored meetings)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = bench_app(url)
        results: dict[str, Any] = {
            "database": url.split(":")[0],
            "args": vars(args) | {"json": None},
        }
        with TestClient(app) as client:
            ids, badges, token = existing_event(client) or setup_event(client, args.attendees)
            runs = [
                bench_ingest(client, token, badges, args.batch, args.batches, seed)
                for seed in range(args.seed, args.seed + (args.repeats if args.batches else 0))
            ]
            results["ingest"] = summary(runs)
            print(json.dumps(results["ingest"], indent=2))  # noqa: T201 - benchmark output
            if not args.ingest_only:
                began = time.perf_counter()
                fill(app, badges, args.meetings, random.Random(99))
                results["fill_seconds"] = time.perf_counter() - began
                # the same measurement once the event holds --meetings meetings (bigger indexes)
                runs = [
                    bench_ingest(client, token, badges, args.batch, args.batches, 1000 + seed)
                    for seed in range(args.seed, args.seed + (args.repeats if args.batches else 0))
                ]
                results["ingest_after_fill"] = summary(runs)
                print(json.dumps(results["ingest_after_fill"], indent=2))  # noqa: T201
                rng = random.Random(5)
                exports: dict[str, list[float]] = {"csv": [], "json": []}
                connections = []
                for _ in range(args.exports):
                    attendee = rng.choice(ids)
                    for fmt in exports:
                        path = f"/api/v1/events/{EVENT}/attendees/{attendee}/export.{fmt}"
                        elapsed, body = timed_get(client, path)
                        exports[fmt].append(elapsed * 1000)
                        if fmt == "json":
                            connections.append(len(json.loads(body)["connections"]))
                results["attendee_export_ms"] = {
                    fmt: {"median": statistics.median(v), "max": max(v)}
                    for fmt, v in exports.items()
                }
                results["attendee_connections_median"] = statistics.median(connections)
                print(json.dumps(results["attendee_export_ms"], indent=2))  # noqa: T201
                network: dict[str, list[float]] = {"csv": [], "tij": []}
                sizes = {}
                for _ in range(args.repeats):
                    for name, path in (("csv", "network.csv"), ("tij", "contacts.tij")):
                        elapsed, body = timed_get(client, f"/api/v1/events/{EVENT}/{path}")
                        lines = body.count(b"\n") - (1 if name == "csv" else 0)
                        sizes[name] = lines
                        network[name].append(lines / elapsed)
                results["network"] = {
                    name: {"lines": sizes[name], "median_lines_per_s": statistics.median(v)}
                    for name, v in network.items()
                }
                print(json.dumps(results["network"], indent=2))  # noqa: T201
    print(  # noqa: T201
        json.dumps({k: v for k, v in results.items() if not k.startswith("ingest")}, indent=2)
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
