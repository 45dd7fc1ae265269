"""The organizer's check-in reads on a day of stored check-ins (issue 5, SQLite).

Stores ``--checkins`` gateway check-in records (``--people`` attendees walking in and out
of ``--zones`` zones over one day, 5 % failed taps) through ``POST /api/v1/gateway/checkins``
in batches of 5,000, then times each organizer read ``--repeat`` times through the ASGI
test client and logs medians. Results: docs/server.md ("Check-ins", "Measured").

    .venv/bin/python -m bench.checkin_reads [--checkins 100000 --people 1000 --zones 5]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Literal

from starlette.testclient import TestClient

from protocol.api import CheckInBatch, CheckInRecord
from protocol.encoding import encode_json
from protocol.ids import checkin_id
from server.main import create_app
from tests.unit.server.conftest import ORG, T0, Api, bearer, build_scenario, make_settings

logger = logging.getLogger("bench.checkin_reads")

READS = (
    "checkins/counts?bucket=900",
    "checkins/counts?bucket=900&zone=z1",
    "zones/z1/inside",
    "checkins/failed",
    "checkins?zone=z1&limit=100",
    "stats",
)


def _records(badges: dict[str, str], n: int, zones: int, rng: random.Random) -> list[CheckInRecord]:
    """A day of taps: each person alternates entry and exit per zone; 5 % fail."""
    names = sorted(badges)
    inside: dict[tuple[str, str], bool] = {}
    records = []
    for i in range(n):
        who, zone = rng.choice(names), f"z{rng.randrange(zones)}"
        t = T0 + i * 86_400 // n
        direction: Literal["entry", "exit"] = "exit" if inside.get((who, zone)) else "entry"
        inside[(who, zone)] = direction == "entry"
        records.append(
            CheckInRecord(
                id=checkin_id("big", badges[who], "r", f"{i:032x}"),
                event="big",
                badge=badges[who],
                reader="r",
                zone=zone,
                direction=direction,
                t=t,
                received_at=t,
                outcome="accepted" if rng.random() > 0.05 else "stale_nonce",
                gateway="gw1",
            )
        )
    return records


def main() -> None:
    """Store the check-ins, time the reads, log medians."""
    parser = argparse.ArgumentParser(description="organizer check-in reads (SQLite)")
    parser.add_argument("--checkins", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--zones", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(Path(tmp)))
        with TestClient(app) as client:
            names = [f"P{i}" for i in range(args.people)]
            scenario = build_scenario(Api(client), "big", names)
            records = _records(scenario.badges, args.checkins, args.zones, rng)
            start = time.perf_counter()
            for k in range(0, len(records), 5000):
                body = encode_json(CheckInBatch(checkins=records[k : k + 5000]))
                response = client.post(
                    "/api/v1/gateway/checkins",
                    content=body,
                    headers={**bearer(scenario.token), "Content-Type": "application/json"},
                )
                response.raise_for_status()
            seconds = time.perf_counter() - start
            logger.info(
                "ingest %d check-ins: %.1f s (%.0f records/s)",
                len(records),
                seconds,
                len(records) / seconds,
            )
            for path in READS:
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    client.get(f"/api/v1/events/big/{path}", headers=ORG).raise_for_status()
                    times.append(time.perf_counter() - t0)
                logger.info("GET %s: median %.0f ms", path, statistics.median(times) * 1000)


if __name__ == "__main__":
    main()
