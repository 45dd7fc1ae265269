"""Simulator settings (pydantic-settings, environment prefix ``BADGE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimSettings(BaseSettings):
    """Everything the simulator reads from its environment, built once at the entry point.

    Attributes:
        broker_host: MQTT broker host.
        broker_port: MQTT broker port.
        bundles_dir: folder of ``<badge>.json`` provisioning bundles.
        seed: seed of the crowd, the radio and the taps; same seed and bundles, same output.
        minutes: length of the agenda in simulated minutes (a short tail follows it).
        speed: simulated seconds per wall second; 0 publishes as fast as the broker allows.
        radio: ``"realistic"`` (path loss, body shielding, walls, noise) or ``"ideal"``
            (hears exactly the face-to-face pairs).
        publish_mode: ``"bridge"``: ``connections`` MQTT connections shared by all badges,
            like a BLE-to-MQTT bridge; ``"per-badge"``: one MQTT connection per badge,
            as badges with their own Wi-Fi would (``firmware_sim.fleet``).
        connections: MQTT connections shared by all badges in bridge mode; each badge
            always uses the same one, so its messages stay in order.
        start_time: event time of the start of the agenda, unix seconds (rounded up to a
            window boundary).
        ground_truth_path: where to write the ground truth JSON, if set.
        summary_path: where to write the publishing summary JSON, if set.
        taps: whether badges in one conversation group sometimes tap (NFC).
        checkins: whether badges tap the entrance reader when they arrive and leave.
        checkin_nonces: ``"reader"``: badges quote the nonce the reader announces on MQTT
            (``firmware_sim.readers``; no announced nonce, no tap); ``"seeded"``: badges
            make nonces up from the seed (no reader needed; a gateway finds them unknown).
        outage_rate: chance per window that a badge loses its connection (0 = never);
            it then buffers its messages and publishes them in order when back.
        outage_mean_windows: mean length of an outage, in windows.
        buffer_capacity: messages a badge's offline buffer holds (oldest dropped first).
        clock_drift_ppm: each badge clock runs fast or slow by up to this many ppm.
        clock_boot_offset_s: each badge clock is off by up to this many seconds at power-on.
        clock_resync: ``"periodic"`` (on connecting and every ``clock_resync_interval_s``),
            ``"connect"`` (on connecting only) or ``"none"``: when a badge sets its clock
            from the gateway's status time (``firmware_sim.clock.BadgeClocks``).
        clock_resync_interval_s: time between periodic resynchronisations.
        ack_timeout_s: how long to wait at the end for the broker to acknowledge everything.
        world_process: step the crowd and the radio in a worker process, ahead of the
            badges (``simulate(world_process=True)``): the same output, a second core.
        signer_process: sign each window's messages (all, or most with a world worker) in
            a signer process (``simulate(signer_process=True)``): the same output.
        walking: people walk between rooms along paths over several windows
            (``CrowdParams.walking``, ``firmware_sim.walking``) instead of spending one
            window on a corridor slot; changes the crowd's draws from the first walk on.
        log_level: level of the ``firmware_sim`` loggers.
    """

    model_config = SettingsConfigDict(env_prefix="BADGE_", extra="ignore")

    broker_host: str = "127.0.0.1"
    broker_port: int = Field(default=1883, ge=1, le=65535)
    bundles_dir: Path
    seed: int = 7
    minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    speed: float = Field(default=60.0, ge=0)
    radio: Literal["realistic", "ideal"] = "realistic"
    publish_mode: Literal["bridge", "per-badge"] = "bridge"
    connections: int = Field(default=4, ge=1, le=64)
    start_time: int = Field(default=1780563600, ge=0, le=2**40)
    ground_truth_path: Path | None = None
    summary_path: Path | None = None
    taps: bool = True
    checkins: bool = True
    checkin_nonces: Literal["reader", "seeded"] = "seeded"
    outage_rate: float = Field(default=0.0, ge=0, le=1)
    outage_mean_windows: float = Field(default=9.0, ge=1)
    buffer_capacity: int = Field(default=500, ge=1)
    clock_drift_ppm: float = Field(default=50.0, ge=0, le=10_000)
    clock_boot_offset_s: float = Field(default=120.0, ge=0, le=86_400)
    clock_resync: Literal["periodic", "connect", "none"] = "periodic"
    clock_resync_interval_s: float = Field(default=300.0, gt=0)
    ack_timeout_s: float = Field(default=60.0, gt=0)
    world_process: bool = False
    signer_process: bool = False
    walking: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("radio", "publish_mode", "clock_resync", mode="before")
    @classmethod
    def _lower_radio(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
