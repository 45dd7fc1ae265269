"""GatewaySettings: everything the gateway is configured with (env prefix ``GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.readers import parse_readers

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "token"}


class GatewaySettings(BaseSettings):
    """Settings of one gateway process, built once at the entry point and passed down."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    broker_host: str = "127.0.0.1"
    broker_port: int = Field(default=1883, ge=1, le=65535)
    server_url: str = "http://127.0.0.1:8000"
    token: SecretStr = Field(description="gateway token issued by the server")
    client_id: str = Field(default="inperson-gateway", min_length=1, max_length=128)
    journal_dir: Path = Path("./gateway-journal")
    checkpoint_interval_s: float = Field(
        default=0.02,
        gt=0,
        description="group commit: a checkpoint starts as soon as messages wait, at most once "
        "per interval (their acknowledgement waits for it)",
    )
    checkpoint_max_messages: int = Field(default=5000, ge=1)
    forward_batch: int = Field(default=500, ge=1, le=5000)
    forward_interval_s: float = Field(default=0.5, gt=0)
    registry_refresh_s: float = Field(default=60.0, gt=0)
    status_interval_s: float = Field(default=2.0, gt=0)
    live_clock: bool = False
    watermark_quorum: int = Field(default=2, ge=1)
    segment_seconds: int = Field(default=300, ge=1)
    queue_size: int = Field(default=10_000, ge=1)
    mqtt_client: Literal["asyncio", "paho"] = Field(
        default="asyncio",
        description="the MQTT client: asyncio (gateway.mqtt_asyncio, on the event loop) or "
        "paho (gateway.subscriber, paho's network thread)",
    )
    ble: bool = Field(default=False, description="scan BLE advertisements (bleak, BlueZ)")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 = no metrics endpoint")
    readers: str = Field(
        default="",
        description='check-in readers "reader=zone,reader2=zone2"; empty: one reader named '
        "after the gateway, in its registry zone",
    )
    reader_nonce_interval_s: float = Field(default=15.0, gt=0)
    reader_nonce_valid_s: int = Field(default=60, ge=1, le=86_400)
    reader_nonce_memory_s: float = Field(default=600.0, ge=0)
    reader_authority: bool = Field(
        default=True,
        description="record taps at readers not run here as unknown_reader (False when "
        "several gateways share an event: each ignores the others' readers)",
    )
    foreign_checkins: bool = Field(
        default=True,
        description="also follow other events' check-ins (one more MQTT session) to record "
        "badges of other events answering our readers as not_registered",
    )
    freeze_heap: bool = Field(
        default=True,
        description="move the start-up heap out of full garbage collections (gc.freeze): "
        "they stalled the event loop for 30-200 ms (gateway.heap)",
    )
    log_level: str = "INFO"

    @field_validator("token")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr) -> SecretStr:
        """A gateway without a real token can do nothing useful; fail at start."""
        if value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("GATEWAY_TOKEN must be the token the server issued for this gateway")
        return value

    @field_validator("readers")
    @classmethod
    def _check_readers(cls, value: str) -> str:
        parse_readers(value)
        return value

    @field_validator("server_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")
