"""Badge provisioning: bundles whose keys work with the registry, one active badge per attendee."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from protocol.api import ProvisioningBundle, Registry
from protocol.encoding import decode_json, encode_body, seal
from protocol.ids import derive_ephid
from protocol.messages import SightingReport
from protocol.signing import BadgeKey, Verifier
from protocol.topics import BadgeChannel, badge_topic, parse_badge_topic
from server.config import ServerSettings
from tests.unit.server.conftest import ORG, Api, bearer, dump_database

URL = "/api/v1/events/ev/badges"


@pytest.fixture
def people(api: Api) -> list[int]:
    api.create_event("ev", ephid_rotation_seconds=600)
    return api.add_attendees("ev", [{"name": n} for n in ("Ada", "Bob", "Cy")])


def _registry(api: Api) -> Registry:
    token = api.register_gateway("ev", "gw1")
    response = api.client.get("/api/v1/gateway/registry", headers=bearer(token))
    assert response.status_code == 200
    return decode_json(response.content, Registry)


def test_bundles_sign_what_the_registry_verifies(api: Api, people: list[int]) -> None:
    response = api.client.post(URL, json={"attendee_ids": people[:2]}, headers=ORG)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    bundles = decode_json(response.content, list[ProvisioningBundle])
    assert len(bundles) == 2
    registry = _registry(api)
    assert registry.settings.ephid_rotation_seconds == 600
    published = {b.badge: b for b in registry.badges}
    for bundle in bundles:
        assert bundle.event == "ev"
        assert bundle.badge.startswith("b") and len(bundle.badge) == 11
        assert bundle.settings == registry.settings
        entry = published[bundle.badge]
        assert not entry.revoked
        key = BadgeKey(bytes.fromhex(bundle.signing_seed))
        assert key.public_key.hex() == entry.public_key
        # a message sealed with the bundle's seed opens with the registry's public key
        report = SightingReport(
            event="ev", badge=bundle.badge, seq=1, window_start=0, window_len=20, heard=[]
        )
        topic = badge_topic("ev", bundle.badge, BadgeChannel.REPORTS)
        payload = seal(report, topic, key.signer())
        Verifier(bytes.fromhex(entry.public_key)).verify(
            str(parse_badge_topic(topic)), payload[64:], payload[:64]
        )
        assert payload[64:] == encode_body(report)
        # the gateway derives the same EphIDs from the registry's key as the badge from its bundle
        for epoch in (0, 1, 2_000_000):
            assert derive_ephid(bytes.fromhex(bundle.ephid_key), "ev", epoch) == derive_ephid(
                bytes.fromhex(entry.ephid_key), "ev", epoch
            )
    assert len({b.signing_seed for b in bundles}) == 2
    assert len({b.ephid_key for b in bundles}) == 2


def test_seed_is_never_stored(api: Api, people: list[int], settings: ServerSettings) -> None:
    bundles = api.client.post(URL, json={"all_unbadged": True}, headers=ORG).json()
    dump = dump_database(settings.database_url)
    for bundle in bundles:
        assert bundle["signing_seed"] not in dump
        assert bundle["ephid_key"] in dump
        assert BadgeKey(bytes.fromhex(bundle["signing_seed"])).public_key.hex() in dump


def test_one_active_badge_per_attendee(api: Api, people: list[int]) -> None:
    assert api.client.post(URL, json={"attendee_ids": [people[0]]}, headers=ORG).status_code == 201
    response = api.client.post(URL, json={"attendee_ids": [people[1], people[0]]}, headers=ORG)
    assert response.status_code == 409
    assert response.json()["code"] == "badge_exists"
    # all or nothing: Bob did not get a badge either
    listed = api.client.get("/api/v1/events/ev/attendees", headers=ORG).json()
    assert [a["badge"] is not None for a in listed] == [True, False, False]


def test_all_unbadged_skips_attendees_with_badges(api: Api, people: list[int]) -> None:
    first = api.client.post(URL, json={"attendee_ids": [people[1]]}, headers=ORG).json()
    rest = api.client.post(URL, json={"all_unbadged": True}, headers=ORG).json()
    assert len(rest) == 2
    listed = api.client.get("/api/v1/events/ev/attendees", headers=ORG).json()
    assert [a["badge"] for a in listed] == [rest[0]["badge"], first[0]["badge"], rest[1]["badge"]]
    assert api.client.post(URL, json={"all_unbadged": True}, headers=ORG).json() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"attendee_ids": [999]}, 404, "attendee_not_found"),
        ({"attendee_ids": [1, 1]}, 400, "duplicate_attendee"),
        ({}, 422, "invalid_request"),
        ({"attendee_ids": [1], "all_unbadged": True}, 422, "invalid_request"),
        ({"attendee_ids": ["x"]}, 422, "invalid_request"),
        ({"attendee_ids": [2**70]}, 422, "invalid_request"),
        ({"all_unbadged": False}, 422, "invalid_request"),
    ],
)
def test_bad_requests(
    api: Api, people: list[int], body: dict[str, Any], status: int, code: str
) -> None:
    response = api.client.post(URL, json=body, headers=ORG)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert api.client.get("/api/v1/events/ev/stats", headers=ORG).json()["badges"] == 0


def test_attendee_of_another_event_is_not_found(api: Api, people: list[int]) -> None:
    api.create_event("other")
    (stranger,) = api.add_attendees("other", [{"name": "Stranger"}])
    response = api.client.post(URL, json={"attendee_ids": [stranger]}, headers=ORG)
    assert response.status_code == 404


def test_deterministic_randomness_is_injectable(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from server.main import create_app
    from tests.unit.server.conftest import make_settings

    counter = iter(range(1, 10_000))

    def token_bytes(n: int) -> bytes:
        return bytes([next(counter) % 256]) * n

    app = create_app(make_settings(tmp_path), token_bytes=token_bytes)
    with TestClient(app) as client:
        api = Api(client)
        api.create_event("ev")
        (ada,) = api.add_attendees("ev", [{"name": "Ada"}])
        (bundle,) = msgspec.json.decode(
            client.post(URL, json={"attendee_ids": [ada]}, headers=ORG).content
        )
    assert bundle["signing_seed"] == "01" * 32
    assert bundle["ephid_key"] == "02" * 32
    assert bundle["badge"] == "b" + "03" * 5
