"""OpenAPI at /docs with examples: every request body and every success response has one.

The schema is walked operation by operation; an example counts when the media type has
``example``/``examples`` or its schema (through ``$ref`` and array items) has ``examples``.
The examples themselves must be valid: pydantic models validate theirs, protocol shapes
decode theirs with ``protocol.encoding.decode_json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

import server.schemas
from protocol import api as protocol_api
from protocol.encoding import decode_json
from server.api.examples import PROTOCOL_EXAMPLES
from server.main import create_app
from tests.unit.server.conftest import make_settings

_APP = create_app(make_settings(Path("never-opened")))
SPEC = _APP.openapi()
_COMPONENTS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = sorted(
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"}
)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_example(schema: dict[str, Any]) -> bool:
    schema = _resolve(schema)
    if schema.get("examples") or "example" in schema:
        return True
    if schema.get("type") == "array" and "items" in schema:
        return _has_example(schema["items"])
    return False


def _content_has_example(content: dict[str, Any]) -> bool:
    return bool(content) and all(
        "example" in media or media.get("examples") or _has_example(media.get("schema", {}))
        for media in content.values()
    )


def missing_examples(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """Return what of one operation has no example (request body, 2xx responses)."""
    missing = []
    body = operation.get("requestBody")
    if body is not None and not _content_has_example(body.get("content", {})):
        missing.append(f"{method} {path}: request body")
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2") and "content" in response:
            if not _content_has_example(response["content"]):
                missing.append(f"{method} {path}: {status} response")
    return missing


def test_the_walk_finds_a_missing_example() -> None:
    bare = {
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"content": {"application/json": {"schema": {"type": "array"}}}}},
    }
    assert missing_examples("POST", "/x", bare) == [
        "POST /x: request body",
        "POST /x: 200 response",
    ]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:60])
def test_every_operation_has_examples(method: str, path: str, operation: dict[str, Any]) -> None:
    assert missing_examples(method, path, operation) == []


def _models() -> dict[str, type[BaseModel]]:
    return {
        name: value
        for name, value in vars(server.schemas).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    }


@pytest.mark.parametrize("name", sorted(_models()))
def test_model_examples_are_valid(name: str) -> None:
    model = _models()[name]
    for example in model.model_json_schema().get("examples", []):
        model.model_validate(example)


@pytest.mark.parametrize("name", sorted(PROTOCOL_EXAMPLES))
def test_protocol_examples_decode(name: str) -> None:
    (example,) = _COMPONENTS[name]["examples"]
    decoded = decode_json(json.dumps(example).encode(), getattr(protocol_api, name))
    assert decoded == PROTOCOL_EXAMPLES[name]


def test_docs_are_served(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert client.get("/openapi.json").json()["paths"].keys() == SPEC["paths"].keys()
