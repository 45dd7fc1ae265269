"""schemathesis on the OpenAPI schema: no 5xx, conforming responses, errors are {code, detail}.

Bounded for the default suite (``EXAMPLES_PER_OPERATION`` generated requests per operation,
SQLite only), against an app holding a small event (``ev1`` with four attendees, badges,
a gateway, meetings, zones ``main-hall`` and ``room-b``, session ``talk`` and check-ins),
called with the organizer's token so that generated requests get past authentication and
reach real rows. Every operation of the schema is a test case.

Every schemathesis check runs except ``positive_data_acceptance``: some rules are not
expressible in the schema (a CSV needs a ``name`` column; a badge request names
attendees *or* sets ``all_unbadged``) and are answered with a 400/422 and a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.schemas import BaseSchema
from starlette.testclient import TestClient

from server.main import create_app
from tests.unit.server.conftest import (
    ORG,
    T0,
    Api,
    StepClock,
    add_zones,
    build_scenario,
    make_settings,
    proximity,
    tap,
)
from tests.unit.server.test_checkins import ingest_ok, record

EXAMPLES_PER_OPERATION = 25

# the schema does not depend on the database; this app never connects to one
_SPEC = create_app(make_settings(Path("never-opened"))).openapi()
LABELS = sorted(
    f"{method.upper()} {path}"
    for path, item in _SPEC["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    """The live schema of an app with a small event in its database."""
    app: FastAPI = create_app(
        make_settings(tmp_path_factory.mktemp("schemathesis")), clock=StepClock()
    )
    with TestClient(app) as client:
        s = build_scenario(Api(client), share_level="full")
        b = s.badges
        s.api.ingest_ok(
            s.token,
            [
                proximity("ev1", b["Ada"], b["Bob"], T0, 12, gateway="gw1"),
                tap("ev1", b["Ada"], b["Cy"], T0 + 30, gateway="gw1"),
            ],
        )
        add_zones(s.api)
        session = {
            "id": "talk",
            "title": "Talk",
            "zone": "main-hall",
            "starts_at": "2024-06-01T09:00:00Z",
            "ends_at": "2024-06-01T10:00:00Z",
        }
        assert s.api.client.post("/api/v1/events/ev1/sessions", json=session, headers=ORG)
        ingest_ok(
            s,
            [
                record(s, "Ada", "entry", T0),
                record(s, "Bob", "entry", T0 + 60, outcome="stale_nonce"),
                record(s, "Ada", "exit", T0 + 900),
            ],
        )
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _check_error_body(case: Case, response: Any) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "detail"}, (case.method, case.formatted_path, body)
        assert isinstance(body["code"], str) and isinstance(body["detail"], str)


def test_every_route_is_fuzzed() -> None:
    assert len(LABELS) >= 25  # sanity: the schema was read


@pytest.mark.parametrize("label", LABELS)
def test_no_server_errors_and_conforming_responses(api_schema: BaseSchema, label: str) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        response = case.call_and_validate(headers=ORG, excluded_checks=[positive_data_acceptance])
        _check_error_body(case, response)

    run()
