"""Shared pieces of the gateway integration tests: a fake server, settings, a running gateway."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx2
import uvicorn
from fastapi import FastAPI, Request, Response

from firmware_sim.readers import NonceListener
from gateway.config import GatewaySettings
from gateway.service import run_gateway
from inperson.broker import Broker, free_port
from protocol.api import (
    CheckInBatch,
    CheckInRecord,
    IngestRejection,
    IngestResult,
    Meeting,
    MeetingBatch,
    Registry,
)
from protocol.encoding import decode_json, encode_json
from protocol.messages import CheckIn
from protocol.topics import BadgeChannel
from tests.unit.gateway.support import HANG_GUARD_S, T0, WINDOW, StatusWatcher, TestBadge

TOKEN = "gateway-test-token"
SERVER = "http://fake-server.test"
Message = tuple[str, bytes]


class FakeServer:
    """The gateway endpoints of the server, idempotent on meeting / check-in id like the real one.

    A meeting id seen again with other content is rejected with code "conflict", as the
    real server does, and recorded in ``conflicts`` for the test to assert on; check-in
    records likewise (``checkins``, ``checkin_conflicts``, ``checkin_duplicates``). While
    ``is_down`` is set, both POST endpoints answer 503 (a server outage).
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.meetings: dict[str, Meeting] = {}
        self.conflicts: list[str] = []
        self.duplicates = 0
        self.registry_requests = 0
        self.checkins: dict[str, CheckInRecord] = {}
        self.checkin_conflicts: list[str] = []
        self.checkin_duplicates = 0
        self.is_down = False
        self.app = FastAPI()
        self.app.add_api_route("/api/v1/gateway/registry", self.get_registry, methods=["GET"])
        self.app.add_api_route("/api/v1/gateway/meetings", self.post_meetings, methods=["POST"])
        self.app.add_api_route("/api/v1/gateway/checkins", self.post_checkins, methods=["POST"])

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def get_registry(self, request: Request) -> Response:
        self.registry_requests += 1
        if not self._authorized(request):
            return Response(b'{"code":"unauthorized","detail":"bad token"}', status_code=401)
        return Response(encode_json(self.registry), media_type="application/json")

    async def post_meetings(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        batch = decode_json(await request.body(), MeetingBatch)
        result = _store(batch.meetings, self.meetings, self.conflicts)
        self.duplicates += result.duplicates
        return Response(encode_json(result), media_type="application/json")

    async def post_checkins(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        batch = decode_json(await request.body(), CheckInBatch)
        result = _store(batch.checkins, self.checkins, self.checkin_conflicts)
        self.checkin_duplicates += result.duplicates
        return Response(encode_json(result), media_type="application/json")

    def _refusal(self, request: Request) -> Response | None:
        if not self._authorized(request):
            return Response(b'{"code":"unauthorized","detail":"bad token"}', status_code=401)
        if self.is_down:
            return Response(b'{"code":"down","detail":"outage"}', status_code=503)
        return None

    def client(self) -> httpx2.AsyncClient:
        """An HTTP client that reaches this app in-process (ASGI)."""
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=SERVER)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the app over real HTTP (uvicorn in a thread); yields its URL."""
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("fake server did not start")
                threading.Event().wait(0.02)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


def settings_for(broker: Broker, event: str, journal: Path, **overrides: Any) -> GatewaySettings:
    """Gateway settings for a test: fast checkpoints and status, the fake server's URL."""
    values: dict[str, Any] = {
        "token": TOKEN,
        "broker_host": broker.host,
        "broker_port": broker.port,
        "server_url": SERVER,
        "client_id": f"gw-{event}",
        "journal_dir": journal,
        "checkpoint_interval_s": 0.1,
        "status_interval_s": 0.1,
        "forward_interval_s": 0.05,
        **overrides,
    }
    return GatewaySettings(**values)


async def until(predicate: Any, what: str) -> None:
    """Wait for a condition (a hang guard, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_GUARD_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


class Running:
    """run_gateway in a task, with its stop event."""

    def __init__(self, settings: GatewaySettings, server: FakeServer) -> None:
        self.stop = asyncio.Event()
        self.http = server.client()
        self.task = asyncio.create_task(run_gateway(settings, http=self.http, stop=self.stop))

    async def ready(self, watcher: StatusWatcher) -> None:
        await watcher.wait_for(
            lambda s: s.state == "online" and s.gauges.get("mqtt_subscribed") == 1.0,
            "online and subscribed",
        )

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, HANG_GUARD_S)
        await self.http.aclose()


def conversation(a: TestBadge, b: TestBadge, c: TestBadge, windows: range) -> list[Message]:
    """a and b face each other in every window of ``windows``; c reports alone."""
    messages: list[Message] = []
    for i in windows:
        w = T0 + i * WINDOW
        messages += [a.report(w, [(b, -55), (c, -85)]), b.report(w, [(a, -60)]), c.report(w)]
    return messages


READER = "entrance"


def tap(
    badge: TestBadge, nonce: str, *, reader: str = READER, direction: str = "entry", t: int = T0
) -> Message:
    """A badge's signed answer to a reader's nonce."""
    message = CheckIn(
        event=badge.event,
        badge=badge.badge,
        seq=badge.next_seq(),
        reader=reader,
        nonce=nonce,
        t=t,
        direction=direction,  # type: ignore[arg-type]
    )
    return badge.sign(message, BadgeChannel.CHECKINS)


async def reader_nonce(broker: Broker, event: str, reader: str = READER) -> str:
    """The nonce a gateway's reader announces (retained), learnt as the simulator does."""
    listener = NonceListener(broker.host, broker.port, event)
    await asyncio.to_thread(listener.start, HANG_GUARD_S)
    try:
        nonce = listener.nonce_for(reader)
    finally:
        listener.stop()
    assert nonce is not None, "the reader announced no nonce"
    return nonce


def quiet(members: Sequence[TestBadge], windows: range) -> list[Message]:
    return [m.report(T0 + i * WINDOW) for i in windows for m in members]


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_Identified)


def _store(items: Sequence[_Item], store: dict[str, _Item], conflicts: list[str]) -> IngestResult:
    """Store a batch like the real server: new, duplicate (same content) or conflict."""
    accepted = duplicates = 0
    rejected: list[IngestRejection] = []
    for item in items:
        known = store.setdefault(item.id, item)
        if known is item:
            accepted += 1
        elif known == item:
            duplicates += 1
        else:
            conflicts.append(item.id)
            rejected.append(IngestRejection(item.id, "conflict", "other content"))
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)
