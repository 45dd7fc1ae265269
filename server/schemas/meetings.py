"""Meetings as the organizer reads them."""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
)


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                    "items": [
                        {
                            "id": "6c1f0e2a9b8d7c6e5f4a3b2c1d0e9f8a",
                            "kind": "proximity",
                            "badge_a": "b0001",
                            "badge_b": "b0002",
                            "attendee_a": 1,
                            "attendee_b": 2,
                            "first_seen": 1780563600,
                            "last_seen": 1780563840,
                            "contact_seconds": 240,
                            "windows": 12,
                            "gateway": "gw-hall",
                            "zone": "main-hall",
                            "rssi_median_dbm": -61,
                        }
                    ],
                }
            ]
        }
    )

    total: int
    limit: int
    offset: int
    items: list[MeetingOut]
