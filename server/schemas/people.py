"""Attendees: input, output, CSV import report, consent, self-service and connections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from server.schemas.fields import Blank, Email, ExternalId, Name, OptionalText, Phone, blank_to_none
from server.services.consent import ShareLevel, ShareWith


class AttendeeIn(BaseModel):
    """One attendee row of an import; blank optional fields become null."""

    model_config = ConfigDict(extra="ignore")

    external_id: Annotated[ExternalId | None, Blank] = None
    name: Name
    company: OptionalText = None
    email: Annotated[Email | None, Blank] = None
    phone: Annotated[Phone | None, Blank] = None
    title: OptionalText = None
    share_level: ShareLevel = "name_company"
    share_with: ShareWith = "met"

    @model_validator(mode="before")
    @classmethod
    def _blank_consent_is_default(cls, data: Any) -> Any:
        # a CSV column left empty means "not chosen", i.e. the default
        if isinstance(data, dict):
            blank = [k for k in ("share_level", "share_with") if blank_to_none(data.get(k)) is None]
            if blank:
                data = {k: v for k, v in data.items() if k not in blank}
        return data


class AttendeeOut(BaseModel):
    """An attendee as the organizer sees it, with the id of their active badge."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "external_id": "A-1",
                    "name": "Ada Lovelace",
                    "company": "Analytical Engines",
                    "email": "ada@example.org",
                    "phone": None,
                    "title": "Engineer",
                    "share_level": "full",
                    "share_with": "met",
                    "erased_at": None,
                    "badge": "b0001",
                }
            ]
        },
        from_attributes=True,
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 2,
                    "errors": [
                        {
                            "row": 3,
                            "code": "invalid_email",
                            "detail": "email: Value error, not an email address",
                        }
                    ],
                }
            ]
        }
    )

    created: int
    errors: list[ImportRowError]


class ConnectionOut(BaseModel):
    """Someone an attendee is connected to, with the evidence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendee": 2,
                    "name": "Bob Byte",
                    "company": "Byte Corp",
                    "first_met": "2026-06-04T09:00:00Z",
                    "last_met": "2026-06-04T09:04:00Z",
                    "total_contact_seconds": 240,
                    "meetings": 1,
                    "tapped": False,
                    "where": ["main-hall"],
                }
            ]
        }
    )

    attendee: int
    name: str
    company: str | None
    first_met: datetime
    last_met: datetime
    total_contact_seconds: int
    meetings: int
    tapped: bool
    where: list[str]


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "event_id": "demo-2026",
                    "name": "Ada Lovelace",
                    "company": "Analytical Engines",
                    "title": "Engineer",
                    "email": "ada@example.org",
                    "phone": None,
                    "share_level": "full",
                    "share_with": "tapped",
                }
            ]
        },
        from_attributes=True,
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "v1.demo-2026.1.1788336000.Jq3v9X2kR0m8bQz1",
                    "path": "/api/v1/me/v1.demo-2026.1.1788336000.Jq3v9X2kR0m8bQz1",
                    "expires_at": "2026-09-02T00:00:00Z",
                }
            ]
        }
    )

    token: str
    path: str
    expires_at: datetime


class AttendeeUpdate(BaseModel):
    """Fields of an attendee to change; absent fields stay, ``null`` clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"company": "Analytical Engines", "title": "CTO"}]},
    )

    external_id: Annotated[ExternalId | None, Blank] = None
    name: Name | None = None
    company: OptionalText = None
    email: Annotated[Email | None, Blank] = None
    phone: Annotated[Phone | None, Blank] = None
    title: OptionalText = None

    @model_validator(mode="after")
    def _name_is_not_cleared(self) -> AttendeeUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared")
        return self
