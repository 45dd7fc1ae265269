"""What each key, index and constraint of ``meetings`` costs a 500-meeting insert (SQLite only).

Builds one database per variant of the meetings table: the events, badges and gateways
of ``--source`` (a database kept by ``bench.server_bench --database-url``, e.g. holding
1,000,000 meetings) and its meetings, copied in their original order into a table of the
variant's shape, with its indexes present while inserting (as real ingest builds them).
Then, with the server's connection settings (``server.db``: WAL, synchronous=NORMAL,
cache, mmap, checkpoints), it runs the same batches through every variant in turn, one
``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` plus a commit per batch (new
meetings of recent event time, like a gateway's, 500 each), and reports the medians of
wall and thread CPU time per batch. CPU time is the steadier figure on a shared machine.
Results: docs/performance.md.

    .venv/bin/python -m bench.meeting_index_costs --source /tmp/bench.sqlite3 --dir /tmp/costs
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from server.db import (
    SQLITE_CACHE_KIB,
    SQLITE_MMAP_BYTES,
    SQLITE_WAL_AUTOCHECKPOINT_PAGES,
)
from server.services.generations import GENERATION_ROWS

COLUMNS = (
    "id, event_id, kind, badge_a, badge_b, first_seen, last_seen, contact_seconds, windows, "
    "gateway_id, zone, rssi_median_dbm, received_at, ingest_gen"
)
_BODY = (
    "event_id VARCHAR(64) NOT NULL, kind VARCHAR(16) NOT NULL, "
    "badge_a VARCHAR(64) NOT NULL REFERENCES badges (id), "
    "badge_b VARCHAR(64) NOT NULL REFERENCES badges (id), "
    "first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, contact_seconds BIGINT NOT NULL, "
    "windows BIGINT NOT NULL, gateway_id VARCHAR(64) NOT NULL, zone VARCHAR(200) NOT NULL, "
    "rssi_median_dbm INTEGER, received_at DATETIME NOT NULL, "
    "ingest_gen BIGINT DEFAULT '0' NOT NULL, "
    "FOREIGN KEY(event_id, gateway_id) REFERENCES gateways (event_id, id), "
    "FOREIGN KEY(event_id) REFERENCES events (id)"
)
_GEN_A = "CREATE INDEX ix_a ON meetings (event_id, ingest_gen, badge_a)"
_GEN_B = "CREATE INDEX ix_b ON meetings (event_id, ingest_gen, badge_b)"
_FIRST = "CREATE INDEX ix_f ON meetings (event_id, first_seen)"
_ID_KEY = "id VARCHAR(32) NOT NULL PRIMARY KEY, "
_ID = "id VARCHAR(32) NOT NULL, "
_LOCAL_KEY = ", PRIMARY KEY (event_id, first_seen, id)"


@dataclass(frozen=True)
class Variant:
    """One shape of the meetings table."""

    name: str
    id_column: str = _ID
    key: str = _LOCAL_KEY
    indexes: tuple[str, ...] = (_GEN_A, _GEN_B)
    foreign_keys: bool = True
    blob_id: bool = False
    page_size: int = 4096
    without_rowid: bool = False
    generation_rows: int = GENERATION_ROWS


VARIANTS = (
    Variant("r0005: key (event, first_seen, id) [now]"),
    Variant("r0005, foreign_keys=OFF", foreign_keys=False),
    Variant("r0005 without (event, gen, badge_a)", indexes=(_GEN_B,)),
    Variant("r0005 without (event, gen, badge_b)", indexes=(_GEN_A,)),
    Variant("r0005 as WITHOUT ROWID", without_rowid=True),
    Variant("r0005, page size 8192", page_size=8192),
    Variant("r0005, generations of 2048 meetings", generation_rows=2048),
    Variant("r0005, generations of 1024 meetings", generation_rows=1024),
    Variant("r0004: key id, + (event, first_seen)", _ID_KEY, "", (_GEN_A, _GEN_B, _FIRST)),
    Variant("r0004 without the id key", _ID, "", (_GEN_A, _GEN_B, _FIRST)),
    Variant("r0004 without (event, first_seen)", _ID_KEY, "", (_GEN_A, _GEN_B)),
    Variant(
        "r0004, id as a 16-byte BLOB",
        "id BLOB NOT NULL PRIMARY KEY, ",
        "",
        (_GEN_A, _GEN_B, _FIRST),
        blob_id=True,
    ),
    Variant("table alone (no key, no index)", _ID, "", ()),
)


def _configure(connection: sqlite3.Connection, foreign_keys: bool) -> None:
    for pragma in (
        f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"cache_size=-{SQLITE_CACHE_KIB}",
        f"mmap_size={SQLITE_MMAP_BYTES}",
        f"wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}",
    ):
        connection.execute(f"PRAGMA {pragma}")


def build(variant: Variant, source: Path, path: Path) -> None:
    """Make the variant's database at ``path`` from ``source`` (kept if it exists)."""
    if path.exists():
        return
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial, isolation_level=None)
    connection.execute(f"PRAGMA page_size={variant.page_size}")
    _configure(connection, foreign_keys=False)
    connection.execute("ATTACH ? AS source", (str(source),))
    for table in ("organizers", "events", "attendees", "badges", "gateways"):
        (sql,) = connection.execute(
            "SELECT sql FROM source.sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        connection.execute(sql)
        connection.execute(f"INSERT INTO {table} SELECT * FROM source.{table}")
    rowid = " WITHOUT ROWID" if variant.without_rowid else ""
    connection.execute(f"CREATE TABLE meetings ({variant.id_column}{_BODY}{variant.key}){rowid}")
    for index in variant.indexes:
        connection.execute(index)
    connection.create_function("unhex", 1, bytes.fromhex, deterministic=True)
    selected = COLUMNS.replace("id,", "unhex(id),", 1) if variant.blob_id else COLUMNS
    connection.execute("BEGIN")
    connection.execute(
        f"INSERT INTO meetings ({COLUMNS}) SELECT {selected} FROM source.meetings ORDER BY rowid"
    )
    connection.execute("COMMIT")
    connection.execute("DETACH source")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    partial.rename(path)


def batches(
    badges: list[str], count: int, seed: int, variant: Variant
) -> list[list[tuple[object, ...]]]:
    """``count`` batches of 500 new meetings of recent event time (the same for every variant),
    in a new ingest generation every ``variant.generation_rows`` meetings, as ingest does."""
    rng = random.Random(seed)
    start = 1_780_563_600 + 5 * 10**9 + seed * 10**8
    result = []
    for n in range(count):
        rows: list[tuple[object, ...]] = []
        generation = 10**6 * (seed + 1) + n * 500 // variant.generation_rows
        for k in range(500):
            a, b = rng.sample(badges, 2)
            first = start + n * 10**5 + k * 7 + rng.randrange(3600)
            digest = hashlib.sha256(f"{a}/{b}/{first}".encode()).digest()[:16]
            windows = rng.randint(3, 30)
            rows.append(
                (
                    digest if variant.blob_id else digest.hex(),
                    "bench",
                    "proximity",
                    a,
                    b,
                    first,
                    first + 20 * windows,
                    20 * windows,
                    windows,
                    "gw1",
                    "hall",
                    -60,
                    "2026-11-27 13:00:00.000000",
                    generation,
                )
            )
        result.append(rows)
    return result


_INSERT = f"INSERT INTO meetings ({COLUMNS}) VALUES ({', '.join('?' * 14)}) ON CONFLICT DO NOTHING"


def insert(connection: sqlite3.Connection, rows: list[tuple[object, ...]]) -> tuple[float, ...]:
    """Insert and commit one batch; return wall and CPU seconds of each."""
    connection.execute("BEGIN")
    wall, cpu = time.perf_counter(), time.thread_time()
    connection.executemany(_INSERT, rows)
    wall_insert, cpu_insert = time.perf_counter(), time.thread_time()
    connection.execute("COMMIT")
    wall_commit, cpu_commit = time.perf_counter(), time.thread_time()
    return (
        wall_insert - wall,
        wall_commit - wall_insert,
        cpu_insert - cpu,
        cpu_commit - cpu_insert,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a kept bench database")
    parser.add_argument("--dir", type=Path, required=True, help="where variants are built")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0, help="a rerun on kept variants: new")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    opened = []
    for variant in VARIANTS:
        path = args.dir / f"{re.sub(r'[^a-z0-9]+', '-', variant.name.lower()).strip('-')}.sqlite3"
        build(variant, args.source, path)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        _configure(connection, variant.foreign_keys)
        badges = [row[0] for row in connection.execute("SELECT id FROM badges ORDER BY id")]
        opened.append((connection, batches(badges, args.batches + 5, args.seed, variant)))
    times: list[list[tuple[float, ...]]] = [[] for _ in VARIANTS]
    # batch by batch through every variant, so all see the same machine load
    for n in range(args.batches + 5):
        for number, (connection, rows) in enumerate(opened):
            timing = insert(connection, rows[n])
            if n >= 5:
                times[number].append(timing)
    lines = [f"{'variant':<42} wall ms: insert commit  sum | cpu ms: insert commit  sum"]
    for variant, measured in zip(VARIANTS, times, strict=True):
        med = [statistics.median(m[k] for m in measured) * 1000 for k in range(4)]
        wall = statistics.median((m[0] + m[1]) for m in measured) * 1000
        cpu = statistics.median((m[2] + m[3]) for m in measured) * 1000
        lines.append(
            f"{variant.name:<42} {med[0]:14.2f} {med[1]:6.2f} {wall:5.2f} |"
            f" {med[2]:13.2f} {med[3]:6.2f} {cpu:5.2f}"
        )
    print("\n".join(lines))  # noqa: T201 - benchmark output
    for connection, _ in opened:
        connection.close()


if __name__ == "__main__":
    main()
