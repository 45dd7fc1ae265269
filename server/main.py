"""The app factory: settings in, FastAPI app out, with one error shape for every failure.

Every error response body is exactly ``{"code": ..., "detail": ...}``:
``ServerError``s from the services, request validation errors, unknown routes
and wrong methods alike. A value the database refuses (``DataError``, e.g. a NUL
character in PostgreSQL text that slipped past the schemas) is a 422 ``invalid_value``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.api.openapi import install_protocol_schemas
from server.api.routes import (
    attendees,
    badges,
    checkins,
    events,
    exports,
    gateways,
    health,
    me,
    meetings,
    zones,
)
from server.config import ServerSettings
from server.db import Database, make_engine
from server.deps import Clock, get_settings
from server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
    Unavailable,
    Unprocessable,
)
from server.services.auth import TokenBytes
from server.services.retention import purge_expired

__all__ = ["create_app", "get_settings"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

_STATUS: dict[type[ServerError], int] = {
    PayloadTooLarge: 413,
    BadRequest: 400,
    Unprocessable: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def status_of(error: ServerError) -> int:
    """Return the HTTP status for a service error (the most specific class wins)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _error(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail}, status_code=status, headers=headers)


async def _on_server_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServerError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _error(status, exc.code, exc.detail, headers)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)[:1000] or "invalid request"


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _error(422, "invalid_request", _describe(exc))


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return _error(exc.status_code, code, str(exc.detail), exc.headers)


async def _on_data_error(_request: Request, exc: Exception) -> JSONResponse:
    # the database refused a value the schemas let through (e.g. NUL in PostgreSQL text)
    logger.warning("database refused a value: %s", str(exc).splitlines()[0][:200])
    return _error(422, "invalid_value", "a value of the request cannot be stored")


async def _on_unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette re-raises after this response, so the server still logs the traceback
    return _error(500, "internal_error", "internal server error")


def _purge_once(database: Database, now: Clock) -> int:
    with database.session() as session:
        return purge_expired(session, now())


async def _purge_periodically(database: Database, now: Clock, interval: float) -> None:
    """The scheduled retention job: purge, then sleep; a failed run is logged and retried."""
    while True:
        try:
            await run_in_threadpool(_purge_once, database, now)
        except Exception:
            # supervisor loop: one failed purge must not stop the schedule
            logger.exception("retention purge failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


def _configure_logging(level: str) -> None:
    """Give the ``server`` loggers a level; add a stderr handler only if nobody configured one."""
    logging.getLogger("server").setLevel(level)
    if logging.getLogger().handlers:
        return
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"line": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
            "root": {"level": level, "handlers": ["stderr"]},
        }
    )


def create_app(
    settings: ServerSettings,
    *,
    clock: Clock | None = None,
    token_bytes: TokenBytes | None = None,
) -> FastAPI:
    """Build the server app. Tables are created at startup (or on first use without a lifespan).

    Args:
        settings: the server settings.
        clock: current-time source (timezone-aware UTC); defaults to the wall clock.
        token_bytes: cryptographic random source for keys and tokens; defaults to ``secrets``.
    """
    _configure_logging(settings.log_level)
    database = Database(make_engine(settings.database_url))

    now = clock or _utc_now

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(database.start)
        logger.info("server started environment=%s", settings.environment)
        purger = None
        if settings.retention_interval_s > 0:
            purger = asyncio.create_task(
                _purge_periodically(database, now, settings.retention_interval_s)
            )
        try:
            yield
        finally:
            if purger is not None:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
            database.dispose()

    app = FastAPI(
        title="inperson",
        version="0.1.0",
        description="Proves that people met in person at an event. Bearer tokens: organizer "
        'or gateway. Every error body is {"code", "detail"}.',
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = now
    app.state.token_bytes = token_bytes or secrets.token_bytes

    app.add_exception_handler(ServerError, _on_server_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected_error)

    app.include_router(health.router)
    app.include_router(health.router, prefix=API_PREFIX, include_in_schema=False)
    for module in (events, attendees, exports, badges, gateways, meetings, zones, checkins, me):
        app.include_router(module.router, prefix=API_PREFIX)
    install_protocol_schemas(app)
    return app
