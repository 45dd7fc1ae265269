"""Database engine and sessions: SQLite in WAL mode, foreign keys on, tables made on start."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from server.models import Base

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    Connecting happens lazily, on first use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if parsed.database in (None, "", ":memory:"):
        # one shared connection, or every session would see its own empty database
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """An engine, a session factory and the one-time schema creation.

    Args:
        engine: the SQLAlchemy engine to use (see ``make_engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._is_started = False

    def start(self) -> None:
        """Create missing tables (idempotent; Alembic migrations replace this later)."""
        with self._lock:
            if self._is_started:
                return
            Base.metadata.create_all(self.engine)
            self._is_started = True
            logger.info("database ready url=%s", self.engine.url.render_as_string())

    def session(self) -> Session:
        """Return a new session, creating the schema first if ``start`` was not called.

        Apps driven without a lifespan (e.g. through an ASGI transport in tests) still work.
        """
        if not self._is_started:
            self.start()
        return self._sessions()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
