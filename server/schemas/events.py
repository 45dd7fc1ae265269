"""Events, errors and health, and the event statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from server.schemas.fields import Id, Name, SettingsIn


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str
    detail: str


class Health(BaseModel):
    """Liveness answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class EventCreate(BaseModel):
    """An event to create; missing detection settings take the protocol defaults."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "demo-2026",
                    "name": "Demo Conference 2026",
                    "starts_at": "2026-06-04T08:00:00Z",
                    "settings": {"rssi_threshold_dbm": -70, "retention_days": 14},
                }
            ]
        },
        extra="forbid",
    )

    id: Id
    name: Name
    starts_at: datetime | None = None
    settings: SettingsIn = Field(default_factory=dict)


class EventOut(BaseModel):
    """An event with its complete detection settings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "demo-2026",
                    "name": "Demo Conference 2026",
                    "starts_at": "2026-06-04T08:00:00Z",
                    "created_at": "2026-05-01T10:00:00Z",
                    "settings": {
                        "window_seconds": 20,
                        "rssi_threshold_dbm": -82,
                        "gap_tolerance_seconds": 20,
                        "min_meeting_seconds": 60,
                        "link_threshold_seconds": 180,
                        "ephid_rotation_seconds": 900,
                        "allowed_lateness_seconds": 60,
                        "max_clock_skew_seconds": 60,
                        "retention_days": 30,
                    },
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    name: str
    starts_at: datetime | None
    created_at: datetime
    settings: dict[str, int]


class Stats(BaseModel):
    """Counts for an event's dashboard, and attendance over time from check-ins."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendees": 200,
                    "badges": 200,
                    "gateways": 3,
                    "meetings": 1450,
                    "proximity_meetings": 1380,
                    "taps": 70,
                    "connections": 910,
                    "total_contact_seconds": 612000,
                    "checkins": 420,
                    "failed_checkins": 12,
                    "attendance_per_hour": [
                        {"hour": "2026-06-04T09:00:00Z", "entries": 180, "exits": 20, "inside": 160}
                    ],
                }
            ]
        }
    )

    attendees: int
    badges: int
    gateways: int
    meetings: int
    proximity_meetings: int
    taps: int
    connections: int
    total_contact_seconds: int
    checkins: int = Field(0, description="Check-ins stored, every outcome.")
    failed_checkins: int = Field(0, description="Check-ins not accepted.")
    attendance_per_hour: list[AttendanceHour] = Field(
        default_factory=list, description="Hours (UTC) in which someone entered or left a zone."
    )


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendees": 200,
                    "connected_pairs": 910,
                    "mean_contacts": 9.1,
                    "degree_distribution": [
                        {"contacts": 0, "attendees": 4},
                        {"contacts": 9, "attendees": 31},
                    ],
                    "most_connected": [
                        {
                            "attendee": 17,
                            "name": "Ada Lovelace",
                            "contacts": 24,
                            "total_contact_seconds": 15840,
                        }
                    ],
                    "active_attendees_per_hour": [
                        {"hour": "2026-06-04T09:00:00Z", "attendees": 163}
                    ],
                }
            ]
        }
    )

    attendees: int
    connected_pairs: int
    mean_contacts: float
    degree_distribution: list[DegreeCount]
    most_connected: list[Connected]
    active_attendees_per_hour: list[HourCount]


class AttendanceHour(BaseModel):
    """An hour with check-ins: accepted entries, exits, and people inside any zone at its end."""

    hour: datetime
    entries: int
    exits: int
    inside: int
