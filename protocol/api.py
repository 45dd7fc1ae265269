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
    rssi_threshold_dbm: Annotated[int, msgspec.Meta(ge=-127, le=20)] = -82
    gap_tolerance_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 20
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


CheckInOutcome = Literal[
    "accepted",
    "already_inside",
    "unknown_badge",
    "revoked_badge",
    "not_registered",
    "unknown_reader",
    "unknown_nonce",
    "stale_nonce",
    "bad_signature",
    "malformed",
]
"""What a reader decided about one tap. Only ``accepted`` changes who is inside.

``not_registered``: the badge belongs to another event. ``unknown_nonce``: the
nonce was never issued by this reader. ``stale_nonce``: it was, but expired
before the answer arrived. A repeated tap (same badge, reader and nonce) is a
duplicate: acknowledged, counted, never forwarded twice.
"""


class CheckInRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One tap at a check-in reader, as the gateway forwards it (accepted or not).

    ``id`` is ``checkin_id(event, badge, reader, nonce)`` (see ``protocol.ids``),
    so a resend is recognised by the server. ``t`` is the badge's time of the tap
    (the real time even when forwarded hours later); ``received_at`` the
    gateway's clock when it verified the answer. ``zone`` is the reader's zone id.
    """

    id: Hex16
    event: Id
    badge: Id
    reader: Id
    zone: Annotated[str, msgspec.Meta(max_length=64)] = ""
    direction: Literal["entry", "exit"]
    t: Seconds
    received_at: Seconds
    outcome: CheckInOutcome
    detail: Annotated[str, msgspec.Meta(max_length=200)] = ""
    gateway: Id


class CheckInBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Check-in records a gateway forwards in one request."""

    checkins: Annotated[list[CheckInRecord], msgspec.Meta(max_length=5000)]


class ReaderNonce(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A reader's current challenge, published retained on its nonce topic.

    Not signed: a forged nonce only makes the badge's answer fail as
    ``unknown_nonce``. A badge taps by signing a ``CheckIn`` that quotes it.
    """

    v: Literal[1] = 1
    event: Id
    reader: Id
    zone: Annotated[str, msgspec.Meta(max_length=64)] = ""
    nonce: Hex16
    issued_at: Seconds
    valid_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)]
