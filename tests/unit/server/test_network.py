"""Organizer network exports: CSV, GraphML and the anonymised SocioPatterns ``t i j``."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from server.services.network import NETWORK_COLUMNS, pseudonyms
from tests.unit.server.conftest import ORG, T0, Api, Scenario, build_scenario, proximity, tap

_NS = {"g": "http://graphml.graphdrawing.org/xmlns"}


def _scenario(api: Api) -> Scenario:
    s = build_scenario(api, names=("Ada", "Bob", "Cy", "Di", "=Eve"), link_threshold_seconds=120)
    b, e, g = s.badges, s.event, s.gateway
    s.api.ingest_ok(
        s.token,
        [
            proximity(e, b["Ada"], b["Bob"], T0, 10, gateway=g, zone="stage"),  # 200 s
            proximity(e, b["Bob"], b["Ada"], T0 + 600, 5, gateway=g),  # +100 s
            proximity(e, b["Cy"], b["Ada"], T0 + 40, 3, gateway=g),  # 60 s: not linked
            tap(e, b["Cy"], b["Di"], T0 + 50, gateway=g),  # tap: linked
            proximity(e, b["Di"], b["=Eve"], T0 + 20, 7, gateway=g),  # 140 s: linked
        ],
    )
    return s


def test_network_csv(api: Api) -> None:
    s = _scenario(api)
    response = api.client.get("/api/v1/events/ev1/network.csv", headers=ORG)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="ev1-network.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(NETWORK_COLUMNS)
    a = s.attendees
    got = {
        (r["name_a"], r["name_b"]): (r["total_contact_seconds"], r["meetings"], r["taps"])
        for r in rows
    }
    assert got == {
        ("Ada", "Bob"): ("300", "2", "0"),
        ("Cy", "Di"): ("0", "1", "1"),
        ("Di", "'=Eve"): ("140", "1", "0"),  # formula-like names are neutralised
    }
    assert all(int(r["attendee_a"]) < int(r["attendee_b"]) for r in rows)
    assert {int(r["attendee_a"]) for r in rows} <= set(a.values())
    assert "@" not in response.text  # never contact details


def test_network_graphml(api: Api) -> None:
    s = _scenario(api)
    response = api.client.get("/api/v1/events/ev1/network.graphml", headers=ORG)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphml+xml")
    root = ET.fromstring(response.content)
    graph = root.find("g:graph", _NS)
    assert graph is not None and graph.get("edgedefault") == "undirected"
    names = {
        node.get("id"): node.find("g:data[@key='name']", _NS).text  # type: ignore[union-attr]
        for node in graph.findall("g:node", _NS)
    }
    assert sorted(names.values()) == sorted(s.attendees)
    edges = {}
    for edge in graph.findall("g:edge", _NS):
        data = {d.get("key"): d.text for d in edge.findall("g:data", _NS)}
        pair = tuple(sorted((names[edge.get("source")], names[edge.get("target")])))
        edges[pair] = (data["total_contact_seconds"], data["taps"])
    assert edges == {
        ("Ada", "Bob"): ("300", "0"),
        ("Cy", "Di"): ("0", "1"),
        ("=Eve", "Di"): ("140", "0"),
    }


def test_sociopatterns_tij(api: Api) -> None:
    _scenario(api)
    response = api.client.get("/api/v1/events/ev1/contacts.tij", headers=ORG)
    assert response.status_code == 200
    lines = [tuple(int(x) for x in line.split()) for line in response.text.splitlines()]
    # one line per proximity contact window: 10 + 5 + 3 + 7 (the tap is not a contact window)
    assert len(lines) == 25
    times = [t for t, _, _ in lines]
    assert times == sorted(times) and times[0] == 0
    assert all(t % 20 == 0 for t in times)
    assert all(1 <= i < j <= 5 for _, i, j in lines)
    per_pair = Counter((i, j) for _, i, j in lines)
    assert sorted(per_pair.values()) == [3, 7, 15]
    # runs start where the meetings start, relative to the first window
    ada_bob = max(per_pair, key=lambda p: per_pair[p])
    assert [t for t, i, j in lines if (i, j) == ada_bob][:2] == [0, 20]
    assert [t for t, i, j in lines if (i, j) == ada_bob][10] == 600
    assert "Ada" not in response.text


@given(st.sets(st.integers(1, 10**9), min_size=2, max_size=60), st.binary(min_size=32, max_size=32))
def test_pseudonyms_are_a_keyed_permutation(ids: set[int], key: bytes) -> None:
    names = pseudonyms(sorted(ids), key)
    assert sorted(names.values()) == list(range(1, len(ids) + 1))
    assert names == pseudonyms(sorted(ids, reverse=True), key)  # order of input is irrelevant


def test_pseudonyms_depend_on_the_key() -> None:
    ids = list(range(1, 101))
    first = pseudonyms(ids, bytes(32))
    second = pseudonyms(ids, bytes([1]) * 32)
    assert first != second
    assert first != {i: i for i in ids}  # not the attendee ids in disguise


def test_network_exports_need_the_organizer(scenario: Scenario) -> None:
    for path in ("network.csv", "network.graphml", "contacts.tij"):
        response = scenario.api.client.get(f"/api/v1/events/ev1/{path}")
        assert response.status_code == 401
        response = scenario.api.client.get(
            f"/api/v1/events/ev1/{path}", headers={"Authorization": f"Bearer {scenario.token}"}
        )
        assert response.status_code == 403
