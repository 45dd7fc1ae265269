"""FastAPI dependencies as ``Annotated`` aliases: settings, session, clock, randomness, auth.

No HTTP errors are raised here: failures are ``ServerError``s, mapped in ``server.main``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.config import ServerSettings
from server.db import Database
from server.models import Event, Gateway, Organizer
from server.services.auth import TokenBytes, require_gateway, require_organizer
from server.services.events import owned_event

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC."""

_bearer = HTTPBearer(auto_error=False, description="An organizer token or a gateway token.")


def get_settings(request: Request) -> ServerSettings:
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


def get_now(request: Request) -> datetime:
    """Return the current time from the app's injected clock."""
    clock = cast(Clock, request.app.state.clock)
    return clock()


def get_token_bytes(request: Request) -> TokenBytes:
    """Return the app's cryptographic random source."""
    return cast(TokenBytes, request.app.state.token_bytes)


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
TokenBytesDep = Annotated[TokenBytes, Depends(get_token_bytes)]
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


def current_organizer(
    session: SessionDep, settings: SettingsDep, now: NowDep, credentials: _Credentials
) -> Organizer:
    """Return the organizer behind the bearer token (401 unknown, 403 gateway token)."""
    bootstrap = settings.organizer_token.get_secret_value()
    return require_organizer(session, _token(credentials), bootstrap, now)


def current_gateway(
    session: SessionDep, settings: SettingsDep, now: NowDep, credentials: _Credentials
) -> Gateway:
    """Return the gateway behind the bearer token (401 unknown, 403 organizer token)."""
    bootstrap = settings.organizer_token.get_secret_value()
    return require_gateway(session, _token(credentials), bootstrap, now)


OrganizerAuth = Annotated[Organizer, Depends(current_organizer)]
GatewayAuth = Annotated[Gateway, Depends(current_gateway)]


def current_event(
    event: Annotated[str, Path(description="Event id.")],
    organizer: OrganizerAuth,
    session: SessionDep,
) -> Event:
    """Return the event named in the path, if the caller organizes it."""
    return owned_event(session, organizer.id, event)


OwnedEvent = Annotated[Event, Depends(current_event)]
"""The ``{event}`` of the path, owned by the authenticated organizer."""
