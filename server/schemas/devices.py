"""Badges and gateways."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from server.schemas.fields import MAX_IMPORT_ROWS, NO_NUL, Id, Name, RowId


class BadgeRequest(BaseModel):
    """Which attendees to provision badges for: a list of ids, or everyone without one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"attendee_ids": [1, 2]}]}, extra="forbid"
    )

    attendee_ids: Annotated[list[RowId], Field(max_length=MAX_IMPORT_ROWS)] | None = None
    all_unbadged: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> BadgeRequest:
        if (self.attendee_ids is None) == (not self.all_unbadged):
            raise ValueError('give either "attendee_ids" or "all_unbadged": true')
        return self


class GatewayCreate(BaseModel):
    """A gateway to register; without an id the server picks one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "gw-hall", "name": "Main hall gateway", "zone": "main-hall"}]
        },
        extra="forbid",
    )

    id: Id | None = None
    name: Name
    zone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=NO_NUL)]


class GatewayCreated(BaseModel):
    """A new gateway and its token; the token is shown only this once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"gateway": "gw-hall", "token": "gw_5pZ2mJqQy8F1xH3kz0cW7eRrT9uVbNaLdGsYoIi4MEA"}
            ]
        }
    )

    gateway: str
    token: str


class GatewayOut(BaseModel):
    """A gateway as the organizer sees it: when it last fetched its registry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gw-hall",
                    "name": "Main hall gateway",
                    "zone": "main-hall",
                    "created_at": "2026-06-03T16:00:00Z",
                    "last_seen": "2026-06-04T09:15:02Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    name: str
    zone: str
    created_at: datetime
    last_seen: datetime | None


class BadgeOut(BaseModel):
    """A badge as the organizer sees it (public data only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "b0001",
                    "attendee_id": 1,
                    "revoked": True,
                    "created_at": "2026-06-03T16:05:00Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    attendee_id: int
    revoked: bool
    created_at: datetime
