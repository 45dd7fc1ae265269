"""Gateway registration (organizer) and the registry gateways fetch (gateway token)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from protocol.api import Registry
from protocol.encoding import encode_json
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.deps import GatewayAuth, NowDep, OwnedEvent, SessionDep, TokenBytesDep
from server.schemas import GatewayCreate, GatewayCreated
from server.services.gateways import build_registry, register_gateway

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
