"""The check-in journal (TinyDB on disk) and forwarding check-in records with the forwarder."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.backoff import Backoff
from gateway.checkins import CheckInJournal
from gateway.forwarder import Forwarder
from gateway.uplink import CHECKINS_PATH, Uplink
from protocol.api import CheckInBatch, CheckInRecord, IngestRejection, IngestResult
from protocol.encoding import decode_json, encode_json
from protocol.ids import checkin_id
from tests.unit.gateway.support import GATEWAY, T0

EVENT = "ev-unit"
BASE = "http://server.test"
TOKEN = "tok-checkins"


def record(i: int, *, received_at: int = T0, outcome: str = "accepted") -> CheckInRecord:
    nonce = f"{i:032x}"
    return CheckInRecord(
        id=checkin_id(EVENT, f"b{i:03d}", "entrance", nonce),
        event=EVENT,
        badge=f"b{i:03d}",
        reader="entrance",
        zone="lobby",
        direction="entry",
        t=received_at - 3,
        received_at=received_at,
        outcome=outcome,  # type: ignore[arg-type]
        gateway=GATEWAY,
    )


def opened(path: Path, segment_seconds: int = 300) -> CheckInJournal:
    journal = CheckInJournal(path, segment_seconds)
    journal.open()
    return journal


def test_records_survive_a_reopen_in_order_and_ids_are_not_stored_twice(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    records = [record(i, received_at=T0 + 100 * i) for i in range(6)]
    assert journal.put(records[:4]) == 4
    assert journal.put(records) == 2  # the first four are already waiting
    journal.close()
    again = opened(tmp_path)
    assert again.peek_batch(10) == records
    assert again.peek_batch(2) == records[:2]
    assert again.unforwarded() == 6


def test_ack_removes_records_and_deletes_empty_segments(tmp_path: Path) -> None:
    journal = opened(tmp_path, segment_seconds=300)
    records = [record(i, received_at=T0 + 100 * i) for i in range(6)]  # segments of 3
    journal.put(records)
    assert len(list(tmp_path.glob("checkins-*.json"))) == 2
    assert journal.ack([r.id for r in records[:3]] + ["f" * 32]) == 3
    assert len(list(tmp_path.glob("checkins-*.json"))) == 1
    assert journal.ack([records[3].id]) == 1
    journal.close()
    again = opened(tmp_path)
    assert again.peek_batch(10) == records[4:]
    again.ack([r.id for r in records[4:]])
    assert list(tmp_path.glob("checkins-*.json")) == [] and again.unforwarded() == 0


def test_a_cut_off_segment_is_moved_aside(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    journal.put([record(1)])
    journal.close()
    [segment] = tmp_path.glob("checkins-*.json")
    segment.write_bytes(segment.read_bytes()[:-20])
    again = opened(tmp_path)
    assert again.unforwarded() == 0
    assert [p.name.endswith(".corrupt") for p in tmp_path.iterdir()] == [True]
    again.put([record(2)])
    assert again.peek_batch(5) == [record(2)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("put"), st.lists(st.integers(0, 12), max_size=5)),
            st.tuples(st.just("ack"), st.integers(0, 6)),
            st.tuples(st.just("reopen"), st.just(0)),
        ),
        max_size=12,
    )
)
def test_journal_matches_a_model(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("checkins")
    journal = opened(path, segment_seconds=200)
    model: dict[str, CheckInRecord] = {}
    for op, arg in steps:
        if op == "put":
            batch = [record(i, received_at=T0 + 90 * i) for i in arg]
            journal.put(batch)
            for r in batch:
                model.setdefault(r.id, r)
        elif op == "ack":
            ids = [r.id for r in journal.peek_batch(arg)]
            journal.ack(ids)
            for i in ids:
                del model[i]
        else:
            journal.close()
            journal = opened(path, segment_seconds=200)
        assert {r.id for r in journal.peek_batch(100)} == set(model)
        assert journal.unforwarded() == len(model)


class Server:
    """POST /gateway/checkins: answers from a script of statuses, records what it got."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.batches: list[list[CheckInRecord]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == CHECKINS_PATH
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        batch = decode_json(request.content, CheckInBatch).checkins
        status = self.script.pop(0) if self.script else 200
        if status != 200:
            return httpx2.Response(status, json={"code": "down", "detail": "later"})
        self.batches.append(batch)
        rejected = [IngestRejection(r.id, "conflict", "x") for r in batch if r.badge == "b002"]
        result = IngestResult(accepted=len(batch) - len(rejected), duplicates=0, rejected=rejected)
        return httpx2.Response(200, content=encode_json(result))


async def test_check_ins_are_forwarded_through_an_outage_and_acked_once(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    journal.put([record(i) for i in range(5)])
    server = Server([503, 500])
    counters: Counter[str] = Counter()
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(server)) as client:
        uplink = Uplink(client, BASE, TOKEN)
        forwarder = Forwarder(
            journal,
            uplink,
            counters,
            batch=2,
            interval_s=0.01,
            backoff=Backoff(0.5, 30.0, random.Random(1)),
            sleep=sleep,
            send=uplink.post_checkins,
            counter_prefix="checkins.",
            what="check-in",
        )
        task = asyncio.create_task(forwarder.run())
        try:
            while journal.unforwarded():
                await asyncio.sleep(0.001)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert [len(b) for b in server.batches] == [2, 2, 1]
    assert [r.badge for b in server.batches for r in b] == [f"b{i:03d}" for i in range(5)]
    assert counters["checkins.forward_retries"] == 2 and len(delays) == 2
    assert (counters["checkins.forwarded"], counters["checkins.forward_rejected"]) == (4, 1)
    assert counters["forwarded"] == 0  # meeting counters untouched


def test_reader_nonces_are_saved_and_loaded_and_a_cut_file_is_moved_aside(
    tmp_path: Path,
) -> None:
    journal = opened(tmp_path)
    assert journal.load_nonces() == {}
    saved = {"entrance": [["ab" * 16, T0], ["cd" * 16, T0 + 15]], "hall": []}
    journal.save_nonces(saved)
    journal.close()
    assert opened(tmp_path).load_nonces() == saved
    path = tmp_path / "nonces.json"
    path.write_bytes(path.read_bytes()[:-3])
    assert opened(tmp_path).load_nonces() == {}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".corrupt")] == [
        "nonces.json.corrupt"
    ]
