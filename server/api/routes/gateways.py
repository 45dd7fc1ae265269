"""Gateway registration (organizer) and the registry gateways fetch (gateway token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from protocol.api import Registry
from protocol.encoding import encode_json
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.deps import GatewayAuth, NowDep, OwnedEvent, SessionDep, TokenBytesDep
from server.schemas import ID_PATTERN, GatewayCreate, GatewayCreated, GatewayOut
from server.services.gateways import (
    build_registry,
    get_gateway,
    list_gateways,
    register_gateway,
    rotate_token,
)

router = APIRouter(tags=["gateways"], responses=ERROR_RESPONSES)


@router.post("/events/{event}/gateways", status_code=status.HTTP_201_CREATED)
def post_gateway(
    body: GatewayCreate,
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    token_bytes: TokenBytesDep,
) -> GatewayCreated:
    """Register a gateway; its token is in this answer only."""
    gateway, token = register_gateway(
        session,
        event,
        gateway_id=body.id,
        name=body.name,
        zone=body.zone,
        now=now,
        token_bytes=token_bytes,
    )
    return GatewayCreated(gateway=gateway.id, token=token)


GatewayIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Gateway id.")]


@router.get("/events/{event}/gateways")
def get_gateways(event: OwnedEvent, session: SessionDep) -> list[GatewayOut]:
    """The event's gateways with the time each last fetched its registry."""
    return [GatewayOut.model_validate(g) for g in list_gateways(session, event.id)]


@router.post("/events/{event}/gateways/{gateway_id}/token")
def post_gateway_token(
    event: OwnedEvent,
    gateway_id: GatewayIdPath,
    session: SessionDep,
    token_bytes: TokenBytesDep,
) -> GatewayCreated:
    """Rotate a gateway's token (e.g. a lost gateway); the new token is in this answer only."""
    gateway = get_gateway(session, event.id, gateway_id)
    return GatewayCreated(gateway=gateway.id, token=rotate_token(session, gateway, token_bytes))


@router.get(
    "/gateway/registry",
    response_class=Response,
    responses={
        200: {"description": "The event's registry.", "content": json_content(ref(Registry))}
    },
)
def get_registry(gateway: GatewayAuth, session: SessionDep, now: NowDep) -> Response:
    """The calling gateway's event: settings and badges (public and EphID keys, revocation)."""
    registry = build_registry(session, gateway, now)
    return Response(encode_json(registry), media_type="application/json")
