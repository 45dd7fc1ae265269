"""Field types and validators shared by the API models."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from protocol.api import DetectionSettings

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_IMPORT_ROWS = 10_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./ -]{3,50}$")

Id = Annotated[str, Field(pattern=ID_PATTERN)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A database row id: positive and within a signed 64-bit integer."""
NO_NUL = r"^[^\x00]*$"
"""Text without NUL characters (PostgreSQL cannot store them in text columns)."""
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]


def blank_to_none(value: object) -> object:
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


Blank = BeforeValidator(blank_to_none)  # applied first: blank optional fields become null
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=NO_NUL)]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=128, pattern=NO_NUL)
]
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=NO_NUL), AfterValidator(_check_email)
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_check_phone)
]
OptionalText = Annotated[Text | None, Blank]
SettingsIn = Annotated[
    dict[str, Any],
    AfterValidator(_validate_settings),
    WithJsonSchema(_settings_schema()),
]
