"""The Prometheus endpoint of a running gateway (real broker), scraped over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.verifier import REASONS
from inperson.broker import Broker, free_port
from tests.integration.gateway_harness import (
    FakeServer,
    Running,
    conversation,
    quiet,
    settings_for,
)
from tests.unit.gateway.support import (
    GATEWAY,
    T0,
    StatusWatcher,
    badges,
    publish_all,
    registry_for,
)

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (name, sorted labels without the gateway label)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.labels.pop("gateway") == GATEWAY
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def scrape(port: int) -> Samples:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    return parse(response.text)


async def test_metrics_endpoint_matches_the_status_and_counts_rejections_by_reason(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c = badges(event_id, 3)
    server = FakeServer(registry_for(event_id, [a, b, c]))
    port = free_port()
    settings = settings_for(broker, event_id, tmp_path / "journal", metrics_port=port)
    running = Running(settings, server)
    try:
        await running.ready(watcher)
        talk = conversation(a, b, c, range(0, 6))
        topic, payload = talk[0]
        bad = [(topic, b"not json"), (topic, payload[:-1] + bytes([payload[-1] ^ 1]))]
        sent = talk + bad + quiet([a, b, c], range(6, 16))
        await asyncio.to_thread(publish_all, broker.host, broker.port, sent)
        status = await watcher.wait_for(
            lambda s: (
                s.counters.get("received") == len(sent)
                and s.counters.get("forwarded") == 1
                and s.gauges.get("journal_unforwarded") == 0.0
            ),
            "everything received and the meeting forwarded",
        )
        samples = await scrape(port)
    finally:
        await running.finish()
        watcher.close()

    counters = status.counters
    assert samples[("inperson_gateway_received_total", ())] == len(sent)
    assert samples[("inperson_gateway_accepted_total", (("kind", "report"),))] == 3 * 16
    assert samples[("inperson_gateway_meetings_total", (("kind", "proximity"),))] == 1
    assert samples[("inperson_gateway_forwarded_total", ())] == 1
    assert samples[("inperson_gateway_forward_retries_total", ())] == 0
    for reason in REASONS:
        key = ("inperson_gateway_rejected_total", (("reason", reason),))
        assert samples[key] == counters[f"rejected.{reason}"], reason
    rejected = {
        labels[0][1]: value
        for (name, labels), value in samples.items()
        if name == "inperson_gateway_rejected_total" and value
    }
    assert sum(rejected.values()) == len(bad) and set(rejected) <= {"malformed", "bad_signature"}
    for gauge in ("pending_half_contacts", "open_meetings", "journal_depth", "forward_lag_seconds"):
        assert samples[(f"inperson_gateway_{gauge}", ())] == 0.0, gauge
    assert samples[("inperson_gateway_mqtt_connected", ())] == 1.0
    assert samples[("inperson_gateway_mqtt_protocol_errors_total", ())] == 0.0
    assert samples[("inperson_gateway_watermark_seconds", ())] >= T0
    # the endpoint goes away with the gateway
    with pytest.raises(httpx2.TransportError):
        await scrape(port)
