"""Organizer route provisioning badges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from protocol.api import ProvisioningBundle
from protocol.encoding import encode_json
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.api.routes.attendees import AttendeeId
from server.deps import NowDep, OwnedEvent, SessionDep, TokenBytesDep
from server.schemas import ID_PATTERN, BadgeOut, BadgeRequest
from server.services.provisioning import provision_badges, replace_badge, revoke_badge

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


BadgeId = Annotated[str, Path(pattern=ID_PATTERN, description="Badge id.")]


@router.post("/{badge_id}/revoke")
def post_revoke(badge_id: BadgeId, event: OwnedEvent, session: SessionDep) -> BadgeOut:
    """Revoke a lost or stolen badge; gateways refuse it from their next registry fetch."""
    return BadgeOut.model_validate(revoke_badge(session, event.id, badge_id))


@router.post(
    "/replace/{attendee_id}",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={
        201: {
            "description": "The new badge's provisioning bundle; it holds secret keys.",
            "content": json_content(ref(ProvisioningBundle)),
        }
    },
)
def post_replace(
    attendee_id: AttendeeId,
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    token_bytes: TokenBytesDep,
) -> Response:
    """Replace an attendee's badge: the old one is revoked, the history stays theirs."""
    bundle = replace_badge(session, event, attendee_id, now=now, token_bytes=token_bytes)
    return Response(
        encode_json(bundle),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
