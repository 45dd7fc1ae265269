"""A real PostgreSQL server for tests: initdb + pg_ctl on a free port in a temporary directory.

Debian's ``postgresql`` package puts its binaries in ``/usr/lib/postgresql/<major>/bin``.
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
user and every command runs through ``runuser``. The server listens on 127.0.0.1 with
``trust`` authentication, durability switched off (it is thrown away after the session).

Tests share one migrated database that is emptied after each test (``reset``: TRUNCATE
of every table, identities restarted), because cloning a database per test costs
~0.3 s on PostgreSQL 15 and emptying it ~20 ms. Migration tests ask for an empty
database of their own (``create_database``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

import psycopg
from sqlalchemy.engine import make_url

from server.db import make_engine, migrate

SHARED = "inperson_test"
_SEARCH = ("/usr/lib/postgresql/*/bin",)


def find_pg_bin() -> Path | None:
    """Return the newest folder holding ``initdb`` and ``pg_ctl``, or ``None``."""
    candidates = sorted(
        (Path(d) for pattern in _SEARCH for d in glob.glob(pattern)),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(candidates):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """A throwaway PostgreSQL cluster; use as a context manager.

    Args:
        bin_dir: folder of the PostgreSQL binaries (see ``find_pg_bin``).
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root: Path | None = None
        self.shared_url = ""
        self._as_root = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> None:
        """Create the cluster, start the server and wait until it accepts connections."""
        self.root = Path(tempfile.mkdtemp(prefix="inperson-pg-"))
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = _free_port()
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(log), "-w", "start")
        self.shared_url = self.create_database()
        engine = make_engine(self.shared_url)
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        if self.root is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of one database of this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        """Create a fresh, empty database; return its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def reset(self, url: str) -> None:
        """Empty every table of a database but ``alembic_version``, closing other connections."""
        name = make_url(url).database
        with self._admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=name, autocommit=True
        ) as connection:
            rows = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            ).fetchall()
            if rows:
                tables = ", ".join(f'"{row[0]}"' for row in rows)
                connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, closing its connections."""
        name = make_url(url).database
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
