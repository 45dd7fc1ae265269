"""GatewaySettings: env prefix, required real token, defaults from the brief."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings


def test_reads_gateway_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", "tok-123")
    monkeypatch.setenv("GATEWAY_BROKER_PORT", "18830")
    monkeypatch.setenv("GATEWAY_SERVER_URL", "http://server:8000/")
    monkeypatch.setenv("GATEWAY_LIVE_CLOCK", "true")
    monkeypatch.setenv("BROKER_PORT", "1")  # no prefix: ignored
    settings = GatewaySettings()
    assert settings.token.get_secret_value() == "tok-123"
    assert settings.broker_port == 18830
    assert settings.server_url == "http://server:8000"
    assert settings.live_clock is True


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
    settings = GatewaySettings(token="tok-123")
    assert (settings.broker_host, settings.broker_port) == ("127.0.0.1", 1883)
    assert settings.client_id == "inperson-gateway"
    assert settings.journal_dir == Path("./gateway-journal")
    assert (settings.checkpoint_interval_s, settings.checkpoint_max_messages) == (0.02, 5000)
    assert (settings.forward_batch, settings.forward_interval_s) == (500, 0.5)
    assert (settings.watermark_quorum, settings.segment_seconds) == (2, 300)
    assert settings.live_clock is False
    assert "tok-123" not in repr(settings)


@pytest.mark.parametrize("token", ["", "  ", "changeme", "CHANGEME"])
def test_placeholder_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(token=token)


def test_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
    with pytest.raises(ValidationError):
        GatewaySettings()


@pytest.mark.parametrize(
    "field", [{"forward_batch": 0}, {"forward_batch": 5001}, {"watermark_quorum": 0}]
)
def test_out_of_range_values_are_refused(field: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(token="tok-123", **field)  # type: ignore[arg-type]
