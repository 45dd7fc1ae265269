"""Forwarder and Uplink over httpx2.MockTransport: outages, refusals, rejections, backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable

import httpx2
import msgspec
import pytest

from gateway.backoff import Backoff
from gateway.errors import ForwardError, RegistryError
from gateway.forwarder import Forwarder
from gateway.memory_journal import MemoryJournal
from gateway.registry_fetch import fetch_registry
from gateway.uplink import MEETINGS_PATH, REGISTRY_PATH, Uplink
from protocol.api import IngestRejection, IngestResult, Meeting, MeetingBatch, Registry
from protocol.encoding import decode_json, encode_json
from protocol.ids import meeting_id

TOKEN = "gw-secret-token"
BASE = "http://server.test"

Handler = Callable[[httpx2.Request], httpx2.Response]


def meeting(n: int) -> Meeting:
    return Meeting(
        id=meeting_id("proximity", "ev", "a", f"b{n}", 1000 + n),
        event="ev",
        kind="proximity",
        badge_a="a",
        badge_b=f"b{n}",
        first_seen=1000 + n,
        last_seen=1100 + n,
        contact_seconds=100,
        windows=5,
        gateway="gw",
    )


class Server:
    """A fake server endpoint: answers from a script, records every batch it is sent."""

    def __init__(self, script: list[Handler | int | Exception]) -> None:
        self.script = script
        self.batches: list[list[Meeting]] = []
        self.auth: list[str | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.auth.append(request.headers.get("authorization"))
        batch = decode_json(request.content, MeetingBatch).meetings
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request)
        self.batches.append(batch)
        if step == 200:
            body = IngestResult(accepted=len(batch), duplicates=0)
            return httpx2.Response(200, content=encode_json(body))
        return httpx2.Response(step, json={"code": "x", "detail": "no"})


class Sleeps:
    """Records the delays the forwarder asked for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def build(
    server: Server, n: int = 3, batch: int = 500
) -> tuple[Forwarder, MemoryJournal, Counter[str], Sleeps, httpx2.AsyncClient]:
    journal = MemoryJournal()
    journal.open()
    journal.checkpoint([meeting(i) for i in range(n)], {})
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    counters: Counter[str] = Counter()
    sleeps = Sleeps()
    forwarder = Forwarder(
        journal,
        Uplink(client, BASE, TOKEN),
        counters,
        batch=batch,
        interval_s=0.01,
        backoff=Backoff(0.5, 30.0, random.Random(3)),
        sleep=sleeps,
    )
    return forwarder, journal, counters, sleeps, client


async def drain(forwarder: Forwarder, counters: Counter[str], total: int) -> None:
    """Run the forwarder until ``total`` meetings were forwarded."""
    task = asyncio.create_task(forwarder.run())
    try:
        while counters["forwarded"] + counters["forward_rejected"] < total:
            await asyncio.sleep(0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_batch_is_sent_with_the_token_and_acked() -> None:
    server = Server([200])
    forwarder, journal, counters, sleeps, client = build(server)
    async with client:
        assert await forwarder.forward_once() == 3
    assert server.batches == [[meeting(0), meeting(1), meeting(2)]]
    assert server.auth == [f"Bearer {TOKEN}"]
    assert journal.unforwarded() == 0 and counters["forwarded"] == 3
    assert sleeps.delays == []


async def test_batches_respect_the_size_limit() -> None:
    server = Server([])
    forwarder, journal, counters, _, client = build(server, n=7, batch=3)
    async with client:
        await drain(forwarder, counters, journal.unforwarded())
    assert [len(b) for b in server.batches] == [3, 3, 1]
    assert counters["forwarded"] == 7


async def test_server_outage_is_retried_with_backoff_then_acked_once() -> None:
    server = Server([503, 502, 500, 200])
    forwarder, journal, counters, sleeps, client = build(server)
    async with client:
        await drain(forwarder, counters, journal.unforwarded())
    assert counters["forward_retries"] == 3
    assert counters["forwarded"] == 3
    assert len(server.batches) == 4  # three failures, one success; acked only then
    assert len(sleeps.delays) == 3
    assert all(0 <= d <= c for d, c in zip(sleeps.delays, [0.5, 1.0, 2.0], strict=True))


async def test_timeouts_and_connect_errors_are_retried() -> None:
    server = Server([httpx2.ReadTimeout("slow"), httpx2.ConnectError("refused"), 200])
    forwarder, journal, counters, sleeps, client = build(server)
    async with client:
        with pytest.raises(ForwardError) as timeout:
            await forwarder.forward_once()
        assert timeout.value.retryable
        await drain(forwarder, counters, journal.unforwarded())
    assert counters["forward_retries"] == 1
    assert counters["forwarded"] == 3


async def test_unauthorized_is_an_error_for_a_human_and_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server([401, 403, 200])
    forwarder, journal, counters, sleeps, client = build(server)
    async with client:
        with pytest.raises(ForwardError) as refused:
            await forwarder.forward_once()
        assert not refused.value.retryable and refused.value.status == 401
        assert journal.unforwarded() == 3
        with caplog.at_level(logging.ERROR, logger="gateway.forwarder"):
            await drain(forwarder, counters, journal.unforwarded())
    assert any("a human must act" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert counters["forwarded"] == 3


async def test_rejected_meetings_are_logged_and_acked(caplog: pytest.LogCaptureFixture) -> None:
    def reject_second(request: httpx2.Request) -> httpx2.Response:
        result = IngestResult(
            accepted=1,
            duplicates=1,
            rejected=[IngestRejection(id=meeting(1).id, code="unknown_badge", detail="?")],
        )
        return httpx2.Response(200, content=encode_json(result))

    forwarder, journal, counters, _, client = build(Server([reject_second]))
    async with client:
        with caplog.at_level(logging.WARNING, logger="gateway.forwarder"):
            assert await forwarder.forward_once() == 3
    assert journal.unforwarded() == 0
    assert (counters["forwarded"], counters["forward_rejected"]) == (2, 1)
    assert any("code=unknown_badge" in r.getMessage() for r in caplog.records)


async def test_a_2xx_that_is_not_an_ingest_result_is_not_acked() -> None:
    server = Server([lambda request: httpx2.Response(200, text="<html>proxy</html>")])
    forwarder, journal, _, _, client = build(server)
    async with client:
        with pytest.raises(ForwardError) as garbled:
            await forwarder.forward_once()
    assert not garbled.value.retryable
    assert journal.unforwarded() == 3


async def test_nothing_to_send_sends_nothing() -> None:
    server = Server([])
    forwarder, journal, _, _, client = build(server, n=0)
    async with client:
        assert await forwarder.forward_once() == 0
    assert server.batches == []


# --- registry fetch ----------------------------------------------------------------------


def registry_handler(status: int, body: bytes) -> Handler:
    def handle(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == REGISTRY_PATH
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        return httpx2.Response(status, content=body)

    return handle


async def test_fetch_registry_decodes_the_registry(registry: Registry) -> None:
    body = encode_json(registry)
    transport = httpx2.MockTransport(registry_handler(200, body))
    async with httpx2.AsyncClient(transport=transport) as client:
        assert await Uplink(client, BASE + "/", TOKEN).fetch_registry() == registry


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, b'{"code":"unauthorized","detail":"x"}'), (200, b"[]"), (200, b"nope"), (503, b"")],
)
async def test_fetch_registry_failures_are_registry_errors(status: int, body: bytes) -> None:
    transport = httpx2.MockTransport(registry_handler(status, body))
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(RegistryError) as error:
            await Uplink(client, BASE, TOKEN).fetch_registry()
    assert TOKEN not in str(error.value)


async def test_fetch_registry_connect_error_is_a_registry_error() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(refuse)) as client:
        with pytest.raises(RegistryError):
            await Uplink(client, BASE, TOKEN).fetch_registry()


async def test_post_goes_to_the_ingest_path_as_json() -> None:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, content=encode_json(IngestResult(accepted=1, duplicates=0)))

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(record)) as client:
        result = await Uplink(client, BASE, TOKEN).post_meetings([meeting(1)])
    assert result.accepted == 1
    [request] = seen
    assert str(request.url) == BASE + MEETINGS_PATH
    assert request.headers["content-type"] == "application/json"
    assert msgspec.json.decode(request.content)["meetings"][0]["id"] == meeting(1).id


async def test_startup_fetch_retries_until_the_server_answers(registry: Registry) -> None:
    answers = [503, 502, 200]

    def flaky(request: httpx2.Request) -> httpx2.Response:
        status = answers.pop(0)
        body = encode_json(registry) if status == 200 else b""
        return httpx2.Response(status, content=body)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(flaky)) as client:
        backoff = Backoff(0.001, 0.01, random.Random(5))
        got = await fetch_registry(Uplink(client, BASE, TOKEN), backoff, asyncio.Event())
    assert got == registry
    assert answers == [] and backoff.attempt == 2


async def test_startup_fetch_gives_up_when_stopped() -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(503)

    stop = asyncio.Event()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(down)) as client:
        backoff = Backoff(0.001, 0.01, random.Random(5))
        fetching = asyncio.create_task(fetch_registry(Uplink(client, BASE, TOKEN), backoff, stop))
        while backoff.attempt < 3:
            await asyncio.sleep(0.001)
        stop.set()
        assert await fetching is None
