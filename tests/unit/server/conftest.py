"""Fixtures for server tests: a fresh app on SQLite *and* on PostgreSQL, and a small API driver.

``database_url`` is parametrised, so every test using the ``settings``/``app``/``client``
fixtures runs twice: on a temporary SQLite file and on a fresh database of a real
PostgreSQL server (``tests.postgres``) that the session starts. Missing PostgreSQL
binaries fail the run with instructions; they never skip it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, inspect, text
from starlette.testclient import TestClient

from protocol.api import Meeting, MeetingBatch
from protocol.encoding import encode_json
from protocol.ids import meeting_id
from server.config import ServerSettings
from server.db import make_engine, migrate
from server.main import create_app
from tests.postgres import PostgresServer, find_pg_bin

ORGANIZER_TOKEN = "organizer-secret-for-tests"
T0 = 1_717_232_400  # 2024-06-01T09:00:00Z, event time of the test meetings


@dataclass
class StepClock:
    """A fake clock that starts at ``now`` and moves only when told."""

    now: datetime = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


ORG = bearer(ORGANIZER_TOKEN)


def dump_database(url: str) -> str:
    """Return every value stored in every table of the database, as text (any backend)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            lines = [
                repr(tuple(row))
                for table in tables
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            ]
    finally:
        engine.dispose()
    return "\n".join(lines)


def make_settings(tmp: Path, **overrides: Any) -> ServerSettings:
    """Settings on a fresh SQLite file in ``tmp``."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'server.sqlite3'}",
        "organizer_token": ORGANIZER_TOKEN,
        # no background purge racing with the test's requests (test_retention turns it on)
        "retention_interval_s": 0,
        **overrides,
    }
    return ServerSettings(**values)


def proximity(
    event: str,
    a: str,
    b: str,
    first: int,
    windows: int,
    *,
    gateway: str,
    window: int = 20,
    zone: str = "",
    gap: int = 0,
) -> Meeting:
    """A proximity meeting of ``windows`` contact windows starting at ``first``."""
    return Meeting(
        id=meeting_id("proximity", event, a, b, first),
        event=event,
        kind="proximity",
        badge_a=a,
        badge_b=b,
        first_seen=first,
        last_seen=first + windows * window + gap,
        contact_seconds=windows * window,
        windows=windows,
        gateway=gateway,
        zone=zone,
        rssi_median_dbm=-60,
    )


def tap(event: str, a: str, b: str, t: int, *, gateway: str, zone: str = "") -> Meeting:
    """A tap meeting at ``t``."""
    return Meeting(
        id=meeting_id("tap", event, a, b, t),
        event=event,
        kind="tap",
        badge_a=a,
        badge_b=b,
        first_seen=t,
        last_seen=t,
        contact_seconds=0,
        windows=0,
        gateway=gateway,
        zone=zone,
    )


@dataclass
class Api:
    """Drives the API like an organizer and its gateways would."""

    client: TestClient
    gateway_tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def create_event(self, event: str, **settings: int) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/events",
            json={"id": event, "name": f"Event {event}", "settings": settings},
            headers=ORG,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def add_attendees(self, event: str, rows: Sequence[dict[str, Any]]) -> list[int]:
        response = self.client.post(
            f"/api/v1/events/{event}/attendees", json=list(rows), headers=ORG
        )
        assert response.status_code == 200, response.text
        assert response.json()["errors"] == []
        listed = self.client.get(f"/api/v1/events/{event}/attendees", headers=ORG).json()
        by_name = {a["name"]: a["id"] for a in listed}
        return [by_name[row["name"]] for row in rows]

    def provision(self, event: str, attendee_ids: Sequence[int]) -> list[dict[str, Any]]:
        response = self.client.post(
            f"/api/v1/events/{event}/badges", json={"attendee_ids": list(attendee_ids)}, headers=ORG
        )
        assert response.status_code == 201, response.text
        bundles: list[dict[str, Any]] = response.json()
        return bundles

    def register_gateway(self, event: str, gateway: str, zone: str = "hall") -> str:
        response = self.client.post(
            f"/api/v1/events/{event}/gateways",
            json={"id": gateway, "name": f"Gateway {gateway}", "zone": zone},
            headers=ORG,
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        self.gateway_tokens[(event, gateway)] = token
        return token

    def ingest(self, token: str, meetings: Sequence[Meeting]) -> httpx2.Response:
        return self.client.post(
            "/api/v1/gateway/meetings",
            content=encode_json(MeetingBatch(meetings=list(meetings))),
            headers={**bearer(token), "Content-Type": "application/json"},
        )

    def ingest_ok(self, token: str, meetings: Sequence[Meeting]) -> dict[str, Any]:
        response = self.ingest(token, meetings)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@dataclass
class Scenario:
    """An event with attendees, badges and one gateway, ready for meetings."""

    api: Api
    event: str
    attendees: dict[str, int]
    badges: dict[str, str]
    gateway: str
    token: str


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (Debian's ``postgresql`` package)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH); "
            "install it with `apt-get install -y postgresql`: the server suite runs on it too"
        )
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; tests get copies (migrating each one costs ~50 ms)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database: a copy of a migrated SQLite file, or the session's PostgreSQL
    database (emptied afterwards)."""
    if request.param == "sqlite":
        path = tmp_path / "server.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    yield server.shared_url
    server.reset(server.shared_url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> ServerSettings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def app(settings: ServerSettings, clock: StepClock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


def build_scenario(
    api: Api,
    event: str = "ev1",
    names: Sequence[str] = ("Ada", "Bob", "Cy", "Di"),
    *,
    share_level: str | None = None,
    **settings: int,
) -> Scenario:
    """Create an event, attendees (with companies and emails), badges and gateway ``gw1``.

    Args:
        share_level: every attendee's consent level (default: the server's default).
    """
    api.create_event(event, **settings)
    rows: list[dict[str, Any]] = [
        {"name": n, "company": f"{n} Corp", "email": f"{n.lower()}@example.org"} for n in names
    ]
    if share_level is not None:
        for row in rows:
            row["share_level"] = share_level
    ids = api.add_attendees(event, rows)
    bundles = api.provision(event, ids)
    token = api.register_gateway(event, "gw1", zone="hall")
    return Scenario(
        api=api,
        event=event,
        attendees=dict(zip(names, ids, strict=True)),
        badges={n: b["badge"] for n, b in zip(names, bundles, strict=True)},
        gateway="gw1",
        token=token,
    )


@pytest.fixture
def scenario(api: Api) -> Scenario:
    return build_scenario(api)


def add_zones(api: Api, event: str = "ev1") -> None:
    for zone, name in (("main-hall", "Main hall"), ("room-b", "Room B")):
        response = api.client.post(
            f"/api/v1/events/{event}/zones", json={"id": zone, "name": name}, headers=ORG
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def site(scenario: Scenario) -> Scenario:
    """The scenario with zones ``main-hall`` and ``room-b``."""
    add_zones(scenario.api)
    return scenario


OLD_DAY = "'2024-01-01 00:00:00'"
"""A timestamp literal for rows written by hand into a database at an old revision."""
_OLD_PARENTS = (
    "INSERT INTO organizers (id, name, token_sha256, is_bootstrap, created_at) "
    f"VALUES (1, 'o', 'h', false, {OLD_DAY})",
    f"INSERT INTO events (id, organizer_id, name, settings, created_at) "
    f"VALUES ('e', 1, 'E', '{{}}', {OLD_DAY})",
    "INSERT INTO attendees (id, event_id, name, created_at) "
    f"VALUES (1, 'e', 'Ada', {OLD_DAY}), (2, 'e', 'Bob', {OLD_DAY})",
    "INSERT INTO badges (id, event_id, attendee_id, public_key, ephid_key, revoked, "
    f"created_at) VALUES ('ba', 'e', 1, 'k', 'k', false, {OLD_DAY}), "
    f"('bb', 'e', 2, 'k', 'k', false, {OLD_DAY})",
    "INSERT INTO gateways (event_id, id, name, zone, token_sha256, created_at) "
    f"VALUES ('e', 'gw', 'G', 'hall', 't', {OLD_DAY})",
)


def database_at(
    request: pytest.FixtureRequest, tmp_path: Path, revision: str, rows: Sequence[str]
) -> Iterator[Engine]:
    """Yield an engine on a database (``request.param``: sqlite or postgresql) migrated to
    ``revision`` only, holding event ``e`` (attendees 1, 2; badges ``ba``, ``bb``; gateway
    ``gw``) and the ``rows`` inserted by the given SQL; for migration tests' fixtures."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    engine = make_engine(url)
    migrate(engine, revision)
    with engine.begin() as connection:
        for sql in (*_OLD_PARENTS, *rows):
            connection.execute(text(sql))
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        server.drop_database(url)
