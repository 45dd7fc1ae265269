"""Database engine and sessions; the schema is brought to the newest Alembic revision on start.

SQLite (the default) runs in WAL mode with foreign keys on, a 64 MiB page cache, reads
through a memory map and WAL checkpoints every 64 MiB (the ``SQLITE_*`` constants below,
measured in docs/performance.md); PostgreSQL is used
through psycopg 3 (``postgresql+psycopg://...``). A database made by round 1's
``create_all`` (tables, no ``alembic_version``) is stamped at the initial
revision first, then upgraded.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
INITIAL_REVISION = "0001"
_MIGRATION_LOCK = 0x1A9E_5E55  # PostgreSQL advisory lock: one migrating process at a time


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of the server's migrations.

    Args:
        connection: run migrations on this open connection (see ``migrate``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (idempotent).

    On PostgreSQL an advisory lock makes concurrent starts (several workers) wait for
    each other instead of racing on the DDL.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        tables = set(inspect(connection).get_table_names())
        config = alembic_config(connection)
        if "alembic_version" not in tables and "meetings" in tables:
            logger.info("database predates migrations; stamping revision=%s", INITIAL_REVISION)
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, revision)


SQLITE_CACHE_KIB = 65536
"""Page cache per SQLite connection (KiB; SQLite's default is 2 MiB). Ingest inserts into
indexes that outgrow 2 MiB at ~50,000 meetings; re-reading their pages from the OS for
every batch was most of the cost of an insert (docs/performance.md)."""
SQLITE_MMAP_BYTES = 1 << 30
"""Read the database file through a memory map of up to this many bytes: an attendee's
export reads ~1,500 scattered pages of a 1,000,000-meeting database, each a ``pread``
system call without it."""
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 16384
"""Checkpoint the WAL into the database every this many pages (SQLite's default: 1,000,
i.e. after nearly every ingested batch). A page rewritten by many batches before the
checkpoint is copied once."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
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
    """An engine, a session factory and the one-time schema migration.

    Args:
        engine: the SQLAlchemy engine to use (see ``make_engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._is_started = False

    def start(self) -> None:
        """Upgrade the schema to the newest revision (once per process; idempotent)."""
        with self._lock:
            if self._is_started:
                return
            migrate(self.engine)
            self._is_started = True
            logger.info("database ready url=%s", self.engine.url.render_as_string())

    def session(self) -> Session:
        """Return a new session, migrating the schema first if ``start`` was not called.

        Apps driven without a lifespan (e.g. through an ASGI transport in tests) still work.
        """
        if not self._is_started:
            self.start()
        return self._sessions()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
