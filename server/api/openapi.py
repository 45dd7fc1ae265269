"""OpenAPI for the msgspec-typed protocol shapes, and the error responses every route documents."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

from protocol.api import CheckInBatch, IngestResult, MeetingBatch, ProvisioningBundle, Registry
from server.api.examples import PROTOCOL_EXAMPLES, protocol_example
from server.schemas import ErrorBody

PROTOCOL_TYPES: tuple[type, ...] = (
    MeetingBatch,
    CheckInBatch,
    IngestResult,
    Registry,
    ProvisioningBundle,
)
_REF = "#/components/schemas/{name}"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Missing or unknown token"),
        (403, "Token not allowed here"),
        (404, "Not found"),
        (409, "Conflict"),
        (422, "Invalid request"),
    )
}


def ref(tp: type) -> dict[str, Any]:
    """Return a JSON-schema reference to a protocol type's component."""
    return {"$ref": _REF.format(name=tp.__name__)}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    """Return an OpenAPI ``content`` object for a JSON schema."""
    return {"application/json": {"schema": schema}}


def protocol_components() -> dict[str, Any]:
    """Return the JSON-schema components of every protocol type used by the API, each of the
    request and response bodies with an example."""
    _, components = msgspec.json.schema_components(PROTOCOL_TYPES, ref_template=_REF)
    for name in PROTOCOL_EXAMPLES:
        components[name] = {**components[name], "examples": [protocol_example(name)]}
    return components


def install_protocol_schemas(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the protocol components the routes refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                protocol_components()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
