"""Alembic migrations: the newest revision is exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from server.db import alembic_config, make_engine, migrate
from server.models import Base
from tests.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    server.drop_database(url)


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs: list[object] = compare_metadata(context, Base.metadata)
        return diffs


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_one_head_and_a_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001" and revisions[-1].down_revision is None


def test_upgrade_to_head_matches_the_models(empty_engine: Engine) -> None:
    migrate(empty_engine)
    assert _differences(empty_engine) == []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert _revision(empty_engine) == head
    migrate(empty_engine)  # idempotent
    assert _revision(empty_engine) == head


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    migrate(empty_engine)
    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate(empty_engine)
    assert _differences(empty_engine) == []


def test_a_database_made_before_migrations_is_stamped_and_upgraded(empty_engine: Engine) -> None:
    # round 1 made its tables with create_all: the initial revision's schema, no version table
    migrate(empty_engine, "0001")
    with empty_engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO organizers (id, name, token_sha256, is_bootstrap, created_at) "
                "VALUES (1, 'o', 'h', false, '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO events (id, organizer_id, name, settings, created_at) "
                "VALUES ('e', 1, 'E', '{}', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO attendees (id, event_id, name, created_at) "
                "VALUES (1, 'e', 'Ada', '2024-01-01 00:00:00')"
            )
        )
    migrate(empty_engine)
    assert _differences(empty_engine) == []
    with empty_engine.connect() as connection:
        row = connection.execute(text("SELECT name, share_level, share_with FROM attendees")).one()
    assert tuple(row) == ("Ada", "name_company", "met")
