"""Raw request bodies with a size limit (for CSV imports and msgspec-decoded gateway batches)."""

from __future__ import annotations

from fastapi import Request

from server.errors import PayloadTooLarge

MAX_CSV_BYTES = 8 * 1024 * 1024
MAX_BATCH_BYTES = 16 * 1024 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """Return the request body, refusing more than ``limit`` bytes without reading it all.

    Raises:
        PayloadTooLarge: the declared or actual length exceeds ``limit``.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def csv_body(request: Request) -> bytes:
    """Dependency: the raw CSV body of an attendee import."""
    return await read_body(request, MAX_CSV_BYTES)


async def batch_body(request: Request) -> bytes:
    """Dependency: the raw JSON body of a gateway meeting batch."""
    return await read_body(request, MAX_BATCH_BYTES)
