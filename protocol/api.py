"""Shapes exchanged over HTTP between gateway and server, and provisioning bundles.

Both sides decode these with ``protocol.encoding.decode_json`` so there is one
definition of the contract.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from protocol.messages import Hex16, Id, Seconds

Hex32 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
MeetingKind = Literal["proximity", "tap"]


class DetectionSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An event's rules for turning sightings into meetings and meetings into connections."""

    window_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 20
    rssi_threshold_dbm: Annotated[int, msgspec.Meta(ge=-127, le=20)] = -72
    gap_tolerance_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 60
    min_meeting_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 60
    link_threshold_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 180
    ephid_rotation_seconds: Annotated[int, msgspec.Meta(ge=1, le=900)] = 900
    allowed_lateness_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 60
    max_clock_skew_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 60
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30


class RegistryBadge(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a gateway needs to know about one badge. No personal data."""

    badge: Id
    public_key: Hex32
    ephid_key: Hex32
    revoked: bool = False


class Registry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An event's badges and settings, fetched by its gateways."""

    event: Id
    gateway: Id
    zone: str
    settings: DetectionSettings
    badges: list[RegistryBadge]


class ProvisioningBundle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything a badge needs, written into it once. Holds its secret keys."""

    event: Id
    badge: Id
    signing_seed: Hex32
    ephid_key: Hex32
    settings: DetectionSettings


class Meeting(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A verified in-person meeting between two badges, as the gateway forwards it.

    ``first_seen`` is the start of the first contact window (or the tap time);
    ``last_seen`` the end of the last contact window. ``contact_seconds`` counts
    only verified contact windows, ``windows`` how many there were.
    """

    id: Hex16
    event: Id
    kind: MeetingKind
    badge_a: Id
    badge_b: Id
    first_seen: Seconds
    last_seen: Seconds
    contact_seconds: Seconds
    windows: Annotated[int, msgspec.Meta(ge=0)]
    gateway: Id
    zone: str = ""
    rssi_median_dbm: int | None = None


class MeetingBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Meetings a gateway forwards in one request."""

    meetings: Annotated[list[Meeting], msgspec.Meta(max_length=5000)]


class IngestRejection(msgspec.Struct, frozen=True):
    """One meeting of a batch the server refused, and why."""

    id: str
    code: str
    detail: str


class IngestResult(msgspec.Struct, frozen=True):
    """The server's answer to a batch: new, already known, refused."""

    accepted: int
    duplicates: int
    rejected: list[IngestRejection] = []


class GatewayStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A gateway's retained status on MQTT (also its last will, with state "offline")."""

    v: Literal[1] = 1
    gateway: str
    state: Literal["online", "offline"]
    t: float = 0.0
    counters: dict[str, int] = {}
    gauges: dict[str, float] = {}
