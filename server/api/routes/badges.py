"""Organizer route provisioning badges."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from protocol.api import ProvisioningBundle
from protocol.encoding import encode_json
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.deps import NowDep, OwnedEvent, SessionDep, TokenBytesDep
from server.schemas import BadgeRequest
from server.services.provisioning import provision_badges

router = APIRouter(prefix="/events/{event}/badges", tags=["badges"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={
        201: {
            "description": "One provisioning bundle per badge; they hold secret keys.",
            "content": json_content({"type": "array", "items": ref(ProvisioningBundle)}),
        }
    },
)
def post_badges(
    body: BadgeRequest,
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    token_bytes: TokenBytesDep,
) -> Response:
    """Create badges with fresh keys; the signing seeds are returned here and never stored."""
    bundles = provision_badges(
        session,
        event,
        attendee_ids=None if body.all_unbadged else body.attendee_ids,
        now=now,
        token_bytes=token_bytes,
    )
    return Response(
        encode_json(bundles),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
