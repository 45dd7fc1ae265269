"""Organizer exports: one attendee's "people I met" (CSV, vCard, JSON) and the whole network."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from server.api.export_responses import attendee_export, content_doc, file_response
from server.api.openapi import ERROR_RESPONSES
from server.api.routes.attendees import AttendeeId
from server.deps import DatabaseDep, OwnedEvent, SessionDep, TokenBytesDep
from server.services.attendees import get_attendee
from server.services.network import render_graphml, render_network_csv, render_tij

router = APIRouter(prefix="/events/{event}", tags=["exports"], responses=ERROR_RESPONSES)

_PEOPLE = "The attendee's connections as their consent settings allow others to see them."


@router.get(
    "/attendees/{attendee_id}/export.csv",
    response_class=StreamingResponse,
    responses=content_doc("csv", _PEOPLE),
)
def get_export_csv(
    event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> StreamingResponse:
    """CSV: name, company, title, email, phone (as consented), first/last met, minutes, how."""
    return attendee_export(session, event, get_attendee(session, event.id, attendee_id), "csv")


@router.get(
    "/attendees/{attendee_id}/export.vcf",
    response_class=StreamingResponse,
    responses=content_doc("vcf", _PEOPLE),
)
def get_export_vcf(
    event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> StreamingResponse:
    """vCard 4.0, one card per person met; how and when in NOTE and X-INPERSON-* properties."""
    return attendee_export(session, event, get_attendee(session, event.id, attendee_id), "vcf")


@router.get(
    "/attendees/{attendee_id}/export.json",
    response_class=StreamingResponse,
    responses=content_doc("json", _PEOPLE),
)
def get_export_json(
    event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> StreamingResponse:
    """JSON: ``{"event", "attendee", "connections": [...]}``; hidden details are absent."""
    return attendee_export(session, event, get_attendee(session, event.id, attendee_id), "json")


@router.get(
    "/network.csv",
    response_class=StreamingResponse,
    responses=content_doc("csv", "One row per connected pair.", "network.csv"),
)
def get_network_csv(event: OwnedEvent, database: DatabaseDep) -> StreamingResponse:
    """The contact network as CSV: ids, names, companies, times, meetings, taps (streamed)."""
    return file_response(
        render_network_csv(database.session, event), "csv", f"{event.id}-network.csv"
    )


@router.get(
    "/network.graphml",
    response_class=StreamingResponse,
    responses=content_doc("graphml", "Attendees as nodes, connections as weighted edges."),
)
def get_network_graphml(event: OwnedEvent, database: DatabaseDep) -> StreamingResponse:
    """The contact network as GraphML (Gephi, networkx, igraph), streamed."""
    return file_response(
        render_graphml(database.session, event), "graphml", f"{event.id}-network.graphml"
    )


@router.get(
    "/contacts.tij",
    response_class=StreamingResponse,
    responses=content_doc("tij", "SocioPatterns `t i j` lines, anonymised."),
)
def get_contacts_tij(
    event: OwnedEvent, database: DatabaseDep, token_bytes: TokenBytesDep
) -> StreamingResponse:
    """Research export: one ``t i j`` line per contact window; fresh pseudonyms per download."""
    return file_response(
        render_tij(database.session, event, token_bytes(32)), "tij", f"{event.id}-contacts.tij"
    )
