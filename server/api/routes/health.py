"""Liveness probe."""

from __future__ import annotations

from fastapi import APIRouter

from server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return Health()
