"""Streaming HTTP responses for exports (shared by organizer and self-service routes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from server.api.examples import DOWNLOAD_EXAMPLES
from server.models import Attendee, Event
from server.services.exports import (
    export_entries,
    export_row,
    render_csv,
    render_json,
    render_vcards,
)

ExportFormat = Literal["csv", "vcf", "json"]

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "vcf": "text/vcard; charset=utf-8",
    "json": "application/json",
    "graphml": "application/graphml+xml; charset=utf-8",
    "tij": "text/plain; charset=utf-8",
}


CHUNK_BYTES = 64 * 1024


def chunked(pieces: Iterable[str], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Join small text pieces into chunks of about ``size`` bytes.

    A sync iterator is advanced in a worker thread once per item; one hop per CSV line
    would cost more than producing the line.
    """
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode()
            buffer.clear()
            length = 0
    if buffer:
        yield "".join(buffer).encode()


def file_response(body: Iterable[str], fmt: str, filename: str) -> StreamingResponse:
    """Return a streamed download of ``body`` (an iterator of text) as ``filename``."""
    return StreamingResponse(
        chunked(body),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def content_doc(
    fmt: str, description: str, example: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI ``responses`` entry for a download in ``fmt``, with an example.

    Args:
        example: the key of ``DOWNLOAD_EXAMPLES`` to show (default: ``fmt``).
    """
    media = MEDIA_TYPES[fmt].split(";")[0]
    schema: dict[str, Any] = {"type": "object"} if fmt == "json" else {"type": "string"}
    body = {"schema": schema, "example": DOWNLOAD_EXAMPLES[example or fmt]}
    return {200: {"description": description, "content": {media: body}}}


def attendee_export(
    session: Session, event: Event, attendee: Attendee, fmt: ExportFormat
) -> StreamingResponse:
    """Return the attendee's "people I met" export in ``fmt``, consent applied.

    Entries are computed now, while the request's session is open (one row per person
    met, so bounded by the event's size); only rendering is streamed.
    """
    entries = export_entries(session, event, attendee)
    filename = f"{event.id}-{attendee.id}-connections.{fmt}"
    if fmt == "csv":
        return file_response(render_csv(export_row(e) for e in entries), fmt, filename)
    if fmt == "vcf":
        return file_response(render_vcards(entries, event), fmt, filename)
    return file_response(render_json(entries, event, attendee), fmt, filename)
