"""API input and output models (pydantic). Wire shapes shared with gateways: ``protocol.api``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from protocol.api import DetectionSettings
from server.services.consent import ShareLevel, ShareWith

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_IMPORT_ROWS = 10_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./ -]{3,50}$")

Id = Annotated[str, Field(pattern=ID_PATTERN)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A database row id: positive and within a signed 64-bit integer."""
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not an email address")
    return email


def _check_phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("a phone number has 3-50 digits, spaces and + ( ) . / -")
    return value


def detection_settings(values: dict[str, Any]) -> DetectionSettings:
    """Return protocol detection settings from a partial mapping (missing fields take defaults).

    Raises:
        ValueError: an unknown field or a value out of the protocol's range.
    """
    # JSON Schema's "integer" includes 20.0; msgspec's strict int does not
    whole = {
        k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v
        for k, v in values.items()
    }
    try:
        return msgspec.convert(whole, DetectionSettings)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _validate_settings(values: dict[str, Any]) -> dict[str, Any]:
    return msgspec.structs.asdict(detection_settings(values))


def _settings_schema() -> dict[str, Any]:
    (_,), components = msgspec.json.schema_components(
        [DetectionSettings], ref_template="#/components/schemas/{name}"
    )
    schema: dict[str, Any] = components["DetectionSettings"]
    return schema


_Blank = BeforeValidator(_blank_to_none)  # applied first: blank optional fields become null
_Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
_ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]
_Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_check_email)]
_Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_check_phone)
]
OptionalText = Annotated[_Text | None, _Blank]
SettingsIn = Annotated[
    dict[str, Any],
    AfterValidator(_validate_settings),
    WithJsonSchema(_settings_schema()),
]


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str
    detail: str


class Health(BaseModel):
    """Liveness answer."""

    status: Literal["ok"] = "ok"


class EventCreate(BaseModel):
    """An event to create; missing detection settings take the protocol defaults."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    name: Name
    starts_at: datetime | None = None
    settings: SettingsIn = Field(default_factory=dict)


class EventOut(BaseModel):
    """An event with its complete detection settings."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    starts_at: datetime | None
    created_at: datetime
    settings: dict[str, int]


class AttendeeIn(BaseModel):
    """One attendee row of an import; blank optional fields become null."""

    model_config = ConfigDict(extra="ignore")

    external_id: Annotated[_ExternalId | None, _Blank] = None
    name: Name
    company: OptionalText = None
    email: Annotated[_Email | None, _Blank] = None
    phone: Annotated[_Phone | None, _Blank] = None
    title: OptionalText = None
    share_level: ShareLevel = "name_company"
    share_with: ShareWith = "met"

    @model_validator(mode="before")
    @classmethod
    def _blank_consent_is_default(cls, data: Any) -> Any:
        # a CSV column left empty means "not chosen", i.e. the default
        if isinstance(data, dict):
            blank = [
                k for k in ("share_level", "share_with") if _blank_to_none(data.get(k)) is None
            ]
            if blank:
                data = {k: v for k, v in data.items() if k not in blank}
        return data


class AttendeeOut(BaseModel):
    """An attendee as the organizer sees it, with the id of their active badge."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    name: str
    company: str | None
    email: str | None
    phone: str | None
    title: str | None
    share_level: str
    share_with: str
    erased_at: datetime | None
    badge: str | None = None


class ImportRowError(BaseModel):
    """Why one row of an import was not created."""

    row: int
    code: str
    detail: str


class ImportResult(BaseModel):
    """Outcome of an attendee import: good rows are created, bad rows reported."""

    created: int
    errors: list[ImportRowError]


class BadgeRequest(BaseModel):
    """Which attendees to provision badges for: a list of ids, or everyone without one."""

    model_config = ConfigDict(extra="forbid")

    attendee_ids: Annotated[list[RowId], Field(max_length=MAX_IMPORT_ROWS)] | None = None
    all_unbadged: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> BadgeRequest:
        if (self.attendee_ids is None) == (not self.all_unbadged):
            raise ValueError('give either "attendee_ids" or "all_unbadged": true')
        return self


class GatewayCreate(BaseModel):
    """A gateway to register; without an id the server picks one."""

    model_config = ConfigDict(extra="forbid")

    id: Id | None = None
    name: Name
    zone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class GatewayCreated(BaseModel):
    """A new gateway and its token; the token is shown only this once."""

    gateway: str
    token: str


class MeetingOut(BaseModel):
    """A stored meeting, with the attendees behind its two badges."""

    id: str
    kind: str
    badge_a: str
    badge_b: str
    attendee_a: int
    attendee_b: int
    first_seen: int
    last_seen: int
    contact_seconds: int
    windows: int
    gateway: str
    zone: str
    rssi_median_dbm: int | None


class MeetingPage(BaseModel):
    """One page of meetings and the total number matching the filters."""

    total: int
    limit: int
    offset: int
    items: list[MeetingOut]


class ConnectionOut(BaseModel):
    """Someone an attendee is connected to, with the evidence."""

    attendee: int
    name: str
    company: str | None
    first_met: datetime
    last_met: datetime
    total_contact_seconds: int
    meetings: int
    tapped: bool
    where: list[str]


class Stats(BaseModel):
    """Counts for an event's dashboard."""

    attendees: int
    badges: int
    gateways: int
    meetings: int
    proximity_meetings: int
    taps: int
    connections: int
    total_contact_seconds: int


class Consent(BaseModel):
    """What the people an attendee met may see of them (see ``server.services.consent``)."""

    share_level: ShareLevel = Field(
        description="none: nothing; name_company: name and company; full: also title, "
        "email and phone."
    )
    share_with: ShareWith = Field(
        description="tapped: only people they tapped badges with; met: everyone they "
        "verifiably met. A tap always counts as consent for that pair."
    )

    model_config = ConfigDict(
        extra="forbid",
        from_attributes=True,
        json_schema_extra={"examples": [{"share_level": "full", "share_with": "tapped"}]},
    )


class AttendeeSelf(BaseModel):
    """An attendee's own data, as they see it through their personal link."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    name: str
    company: str | None
    title: str | None
    email: str | None
    phone: str | None
    share_level: str
    share_with: str


class AttendeeLinkOut(BaseModel):
    """A personal self-service link for one attendee (a bearer secret: hand it to them only)."""

    token: str
    path: str
    expires_at: datetime


class GatewayOut(BaseModel):
    """A gateway as the organizer sees it: when it last fetched its registry."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    zone: str
    created_at: datetime
    last_seen: datetime | None


class AttendeeUpdate(BaseModel):
    """Fields of an attendee to change; absent fields stay, ``null`` clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"company": "Analytical Engines", "title": "CTO"}]},
    )

    external_id: Annotated[_ExternalId | None, _Blank] = None
    name: Name | None = None
    company: OptionalText = None
    email: Annotated[_Email | None, _Blank] = None
    phone: Annotated[_Phone | None, _Blank] = None
    title: OptionalText = None

    @model_validator(mode="after")
    def _name_is_not_cleared(self) -> AttendeeUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared")
        return self


class DegreeCount(BaseModel):
    """How many attendees have exactly ``contacts`` connections."""

    contacts: int
    attendees: int


class Connected(BaseModel):
    """One of the most connected attendees."""

    attendee: int
    name: str
    contacts: int
    total_contact_seconds: int


class HourCount(BaseModel):
    """Distinct attendees with a meeting starting in the hour beginning at ``hour``."""

    hour: datetime
    attendees: int


class NetworkStats(BaseModel):
    """The shape of an event's contact network."""

    attendees: int
    connected_pairs: int
    mean_contacts: float
    degree_distribution: list[DegreeCount]
    most_connected: list[Connected]
    active_attendees_per_hour: list[HourCount]


class BadgeOut(BaseModel):
    """A badge as the organizer sees it (public data only)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    attendee_id: int
    revoked: bool
    created_at: datetime
