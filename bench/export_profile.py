"""One attendee's "people I met" export, step by step, and old code against new (issue 5, item 8).

Needs a kept database holding ``bench.server_bench``'s event (first fill, a few minutes):

    .venv/bin/python -m bench.server_bench --database-url sqlite:////tmp/sx.sqlite3 --batches 0

Steps (default): for ``--exports`` attendees drawn like ``bench.server_bench`` draws them,
each step of an export is timed in this thread, wall clock and thread CPU, medians in
milliseconds: the attendee's badges, the meetings query (SQLite computes rows while they
are fetched, so execute and fetch are one step), the fold per person met, the one query
for the people met and their consent, consent and entries, then rendering each format
(through the HTTP layer's chunking, to bytes), and the whole route through Starlette's
TestClient as ``bench.server_bench`` measures it (wall clock; CPU of the process).

    .venv/bin/python -m bench.export_profile --database-url sqlite:////tmp/sx.sqlite3

Compare (``--compare OLD_ROOT``, e.g. ``git archive HEAD`` unpacked there): the database
is copied twice, and the export route is timed through TestClient by worker processes
running the old code (``PYTHONPATH=OLD_ROOT``) and this tree alternately, round by round,
on the same attendees; the bodies' SHA-256 must be equal for every attendee and format.

    .venv/bin/python -m bench.export_profile --database-url sqlite:////tmp/sx.sqlite3 \\
        --compare /tmp/old
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from starlette.testclient import TestClient

from server.config import ServerSettings
from server.main import create_app

TOKEN = "bench-organizer-token"  # bench.server_bench's
ORG = {"Authorization": f"Bearer {TOKEN}"}
EVENT = "bench"
FORMATS = ("json", "csv", "vcf")
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def _client(url: str) -> TestClient:
    settings = ServerSettings(
        database_url=url, organizer_token=TOKEN, log_level="WARNING", retention_interval_s=0
    )
    return TestClient(create_app(settings))


def attendee_sample(client: TestClient, n: int) -> list[int]:
    """Return ``n`` attendee ids of the bench event, drawn as ``bench.server_bench`` does."""
    listed = client.get(f"/api/v1/events/{EVENT}/attendees", params={"limit": 10_000}, headers=ORG)
    assert listed.status_code == 200, "no bench event here: fill it with bench.server_bench"
    ids = [a["id"] for a in listed.json()]
    rng = random.Random(5)
    return [rng.choice(ids) for _ in range(n)]


def http_export(client: TestClient, attendee: int, fmt: str) -> tuple[float, float, bytes]:
    """Return wall ms, process CPU ms and body of one export through the route."""
    path = f"/api/v1/events/{EVENT}/attendees/{attendee}/export.{fmt}"
    cpu = time.process_time()
    began = time.perf_counter()
    response = client.get(path, headers=ORG)
    wall = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, response.text
    return wall, (time.process_time() - cpu) * 1000, response.content


def worker(url: str, attendees: list[int], formats: list[str]) -> dict[str, Any]:
    """Time the route for each attendee and format (after one untimed export of each)."""
    wall: dict[str, list[float]] = {f: [] for f in formats}
    cpu: dict[str, list[float]] = {f: [] for f in formats}
    digests: dict[str, str] = {}
    with _client(url) as client:
        for fmt in formats:
            http_export(client, attendees[0], fmt)
        for attendee in attendees:
            for fmt in formats:
                ms, cpu_ms, body = http_export(client, attendee, fmt)
                wall[fmt].append(ms)
                cpu[fmt].append(cpu_ms)
                digests[f"{attendee}.{fmt}"] = hashlib.sha256(body).hexdigest()
    return {"wall": wall, "cpu": cpu, "sha256": digests}


def _copy_database(path: Path, to: Path) -> None:
    """Copy a SQLite database consistently (the backup API folds in its WAL)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(to)
    with target:
        source.backup(target)
    source.close()
    target.close()


def compare(url: str, old_root: Path, exports: int, rounds: int, formats: list[str]) -> None:
    """Time old and new code alternately on copies of the database; check equal bodies.

    The source database is only read (copied with SQLite's backup API).
    """
    source = Path(url.removeprefix("sqlite:///"))
    per_round = -(-exports // rounds)
    results: dict[str, dict[str, dict[str, list[float]]]] = {
        side: {"wall": {f: [] for f in formats}, "cpu": {f: [] for f in formats}}
        for side in ("old", "new")
    }
    digests: dict[str, dict[str, str]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory(dir=source.parent) as tmp:
        copies = {side: Path(tmp) / f"{side}.sqlite3" for side in ("old", "new")}
        for copy in copies.values():
            _copy_database(source, copy)
        # drawn on the new side's copy: this tree may migrate a database, the old code not
        with _client(f"sqlite:///{copies['new']}") as client:
            attendees = attendee_sample(client, exports)
        roots = {"old": old_root, "new": ROOT}
        for index in range(rounds):
            chunk = attendees[index * per_round : (index + 1) * per_round]
            order = ("old", "new") if index % 2 == 0 else ("new", "old")
            for side in order:
                command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
                command += ["--database-url", f"sqlite:///{copies[side]}"]
                command += ["--formats", ",".join(formats), "--ids", ",".join(map(str, chunk))]
                env = os.environ | {"PYTHONPATH": str(roots[side])}
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                found = json.loads(done.stdout)
                for kind in ("wall", "cpu"):
                    for fmt in formats:
                        results[side][kind][fmt] += found[kind][fmt]
                digests[side] |= found["sha256"]
    report: dict[str, Any] = {"exports_per_format": exports, "load": os.getloadavg()}
    for fmt in formats:
        medians = {
            f"{side}_{kind}_ms": statistics.median(results[side][kind][fmt])
            for side in ("old", "new")
            for kind in ("wall", "cpu")
        }
        medians["wall_ratio_new_to_old"] = medians["new_wall_ms"] / medians["old_wall_ms"]
        medians["cpu_ratio_new_to_old"] = medians["new_cpu_ms"] / medians["old_cpu_ms"]
        report[fmt] = medians
    report["identical_bodies"] = digests["old"] == digests["new"]
    report["bodies_compared"] = len(digests["new"])
    print(json.dumps(report, indent=2))  # noqa: T201 - benchmark output
    if not report["identical_bodies"]:
        raise SystemExit("old and new exports differ")


def _timed(
    times: dict[str, list[tuple[float, float]]], step: str, call: Callable[..., T], *args: Any
) -> T:
    cpu = time.thread_time()
    began = time.perf_counter()
    result = call(*args)
    elapsed = (time.perf_counter() - began) * 1000, (time.thread_time() - cpu) * 1000
    times.setdefault(step, []).append(elapsed)
    return result


def _all(scalars: Callable[[Any], Any], query: Any) -> list[Any]:
    return list(scalars(query).all())


def _drain(pieces: Iterable[str]) -> int:
    from server.api.export_responses import chunked

    return sum(len(chunk) for chunk in chunked(pieces))


def steps(url: str, exports: int, formats: list[str]) -> dict[str, dict[str, float]]:
    """Return the median wall and thread-CPU milliseconds of each step of an export."""
    from sqlalchemy import select

    from server.models import Attendee, Badge, Event
    from server.services import exports as ex
    from server.services import linking
    from server.services.events import detection_settings_of

    times: dict[str, list[tuple[float, float]]] = {}
    app_client = _client(url)
    with app_client as client:
        attendees = attendee_sample(client, exports)
        database = client.app.state.database  # type: ignore[attr-defined]
        for attendee_id in [attendees[0], *attendees]:
            with database.session() as session:
                event = session.get(Event, EVENT)
                viewer = session.get(Attendee, attendee_id)
                assert event is not None and viewer is not None
                threshold = detection_settings_of(event).link_threshold_seconds
                query = select(Badge.id).where(Badge.attendee_id == attendee_id)
                own = list(_timed(times, "badges", _all, session.scalars, query))
                rows = _timed(times, "meetings", linking.meeting_rows_of, session, EVENT, own)
                fold = linking.fold_meeting_rows
                totals = _timed(times, "fold", fold, rows, attendee_id, threshold)
                met = _timed(times, "people", ex.people, session, totals)
                entries = _timed(times, "consent_entries", ex.entries_of, totals, met)
                renders = {
                    "json": ex.render_json(entries, event, viewer),
                    "csv": ex.render_csv(ex.export_row(e) for e in entries),
                    "vcf": ex.render_vcards(entries, event),
                }
                for fmt in formats:  # generators: nothing is rendered before _drain
                    _timed(times, f"render_{fmt}", _drain, renders[fmt])
            for fmt in formats:
                wall, cpu, _ = http_export(client, attendee_id, fmt)
                times.setdefault(f"http_{fmt}", []).append((wall, cpu))
    return {
        step: {
            "wall_ms": statistics.median(w for w, _ in samples[1:]),
            "cpu_ms": statistics.median(c for _, c in samples[1:]),
        }
        for step, samples in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a kept bench.server_bench database")
    parser.add_argument("--exports", type=int, default=30, help="exports per format")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--compare", type=Path, help="root of the old code to compare with")
    parser.add_argument("--rounds", type=int, default=6, help="alternations in --compare")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ids", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    formats = args.formats.split(",")
    if args.worker:
        ids = [int(i) for i in args.ids.split(",")]
        print(json.dumps(worker(args.database_url, ids, formats)))  # noqa: T201
    elif args.compare:
        compare(args.database_url, args.compare, args.exports, args.rounds, formats)
    else:
        found = steps(args.database_url, args.exports, formats)
        print(f"load average {os.getloadavg()}")  # noqa: T201 - benchmark output
        print(json.dumps(found, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
