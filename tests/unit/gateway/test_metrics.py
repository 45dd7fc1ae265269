"""The Prometheus endpoint scraped over HTTP, fed by a status source on a real event loop."""

from __future__ import annotations

import asyncio

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import MetricsEndpoint, StatusCollector
from protocol.api import GatewayStatus


def _status(protocol_errors: float) -> GatewayStatus:
    return GatewayStatus(
        gateway="gw-m",
        state="online",
        t=1_780_000_000.0,
        counters={"received": 7},
        gauges={"mqtt_protocol_errors": protocol_errors, "mqtt_connected": 1.0},
    )


async def _scrape(errors: list[float]) -> list[dict[tuple[str, str], float]]:
    """Start an endpoint whose status carries each of ``errors`` in turn; scrape each."""
    current = iter(errors)

    async def source() -> GatewayStatus:
        return _status(next(current))

    endpoint = MetricsEndpoint("127.0.0.1", 0, StatusCollector(source, asyncio.get_running_loop()))
    await asyncio.to_thread(endpoint.start)
    scrapes = []
    try:
        async with httpx2.AsyncClient() as http:
            for _ in errors:
                response = await http.get(f"http://127.0.0.1:{endpoint.port}/metrics")
                assert response.status_code == 200
                scrapes.append(
                    {
                        (sample.name, family.type): sample.value
                        for family in text_string_to_metric_families(response.text)
                        for sample in family.samples
                        if sample.labels.get("gateway") == "gw-m"
                    }
                )
    finally:
        await asyncio.to_thread(endpoint.stop)
    return scrapes


async def test_the_mqtt_protocol_errors_are_a_counter_on_the_endpoint() -> None:
    first, second = await _scrape([0.0, 3.0])
    name = ("inperson_gateway_mqtt_protocol_errors_total", "counter")
    assert first[name] == 0.0
    assert second[name] == 3.0
    # and the rest of the status is still there
    assert second[("inperson_gateway_received_total", "counter")] == 7.0
    assert second[("inperson_gateway_mqtt_connected", "gauge")] == 1.0
