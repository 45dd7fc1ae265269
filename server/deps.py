"""FastAPI dependencies as ``Annotated`` aliases: settings, session, clock, randomness, auth.

No HTTP errors are raised here: failures are ``ServerError``s, mapped in ``server.main``.
Dependencies that only read the app's state are ``async``: FastAPI runs a plain ``def``
dependency in its thread pool, a thread hop (~0.1-1 ms, more on a busy machine) per
dependency per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.config import ServerSettings
from server.db import Database
from server.errors import NotFound
from server.models import Attendee, Event, Gateway, Organizer
from server.services.auth import TokenBytes, require_gateway, require_organizer, require_token
from server.services.batches import Sender
from server.services.events import owned_event
from server.services.gateway_tokens import find_sender
from server.services.links import link_secret, resolve_link

_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC."""

_bearer = HTTPBearer(auto_error=False, description="An organizer token or a gateway token.")


async def get_settings(request: Request) -> ServerSettings:
    """Return the settings the app was created with (tests override this dependency)."""
    return cast(ServerSettings, request.app.state.settings)


def get_session(request: Request) -> Iterator[Session]:
    """Yield a database session for one request and close it afterwards."""
    database = cast(Database, request.app.state.database)
    session = database.session()
    try:
        yield session
    finally:
        session.close()


async def get_now(request: Request) -> datetime:
    """Return the current time from the app's injected clock."""
    clock = cast(Clock, request.app.state.clock)
    return clock()


def get_token_bytes(request: Request) -> TokenBytes:
    """Return the app's cryptographic random source."""
    return cast(TokenBytes, request.app.state.token_bytes)


async def get_database(request: Request) -> Database:
    """Return the app's database (streaming exports open their own sessions from it)."""
    return cast(Database, request.app.state.database)


def get_link_secret(settings: Annotated[ServerSettings, Depends(get_settings)]) -> bytes:
    """Return the key that signs attendee self-service links."""
    configured = settings.link_secret.get_secret_value() if settings.link_secret else None
    return link_secret(configured, settings.organizer_token.get_secret_value())


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
LinkSecretDep = Annotated[bytes, Depends(get_link_secret)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
TokenBytesDep = Annotated[TokenBytes, Depends(get_token_bytes)]
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _bearer_present(credentials: _Credentials) -> HTTPAuthorizationCredentials | None:
    require_token(_token(credentials))  # in the event loop: no thread hop, nothing read yet
    return credentials


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_present)]
"""The request's bearer token, for routes that authenticate in their own body: a request
without one is refused (401 ``missing_token``) before its body is read; whether the token
is valid is checked there, before the body is decoded."""


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


def current_organizer(
    session: SessionDep, settings: SettingsDep, now: NowDep, credentials: _Credentials
) -> Organizer:
    """Return the organizer behind the bearer token (401 unknown, 403 gateway token)."""
    bootstrap = settings.organizer_token.get_secret_value()
    return require_organizer(session, _token(credentials), bootstrap, now)


def gateway_of(
    session: Session,
    settings: ServerSettings,
    now: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> Gateway:
    """Return the gateway behind the bearer token (401 unknown, 403 organizer token)."""
    bootstrap = settings.organizer_token.get_secret_value()
    return require_gateway(session, _token(credentials), bootstrap, now)


def sender_of(
    session: Session,
    settings: ServerSettings,
    now: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> Sender:
    """``gateway_of`` for batch ingest: the gateway's event, id and zone, read by plain SQL.

    Same answers and errors as ``gateway_of`` (which judges every token no gateway has).
    """
    found = find_sender(session, require_token(_token(credentials)))
    return found if found is not None else gateway_of(session, settings, now, credentials)


def current_gateway(
    session: SessionDep, settings: SettingsDep, now: NowDep, credentials: _Credentials
) -> Gateway:
    """Return the gateway behind the bearer token (401 unknown, 403 organizer token)."""
    return gateway_of(session, settings, now, credentials)


OrganizerAuth = Annotated[Organizer, Depends(current_organizer)]
GatewayAuth = Annotated[Gateway, Depends(current_gateway)]


def current_event(
    event: Annotated[str, Path(description="Event id.")],
    organizer: OrganizerAuth,
    session: SessionDep,
) -> Event:
    """Return the event named in the path, if the caller organizes it.

    An id no event can have (outside the ``Id`` pattern, e.g. with a NUL character that
    PostgreSQL cannot even compare) is not looked up: ``404 event_not_found``.
    """
    if _EVENT_ID.fullmatch(event) is None:
        raise NotFound(f"no event {event!r}", code="event_not_found")
    return owned_event(session, organizer.id, event)


OwnedEvent = Annotated[Event, Depends(current_event)]
"""The ``{event}`` of the path, owned by the authenticated organizer."""


def current_attendee(
    link: Annotated[str, Path(description="The attendee's personal link token.")],
    session: SessionDep,
    secret: LinkSecretDep,
    now: NowDep,
) -> Attendee:
    """Return the attendee named by the signed personal link in the path."""
    return resolve_link(session, secret, link, now)


LinkAttendee = Annotated[Attendee, Depends(current_attendee)]
"""The attendee of the ``{link}`` in the path (self-service routes)."""
