"""Meetings are keyed ``(event_id, first_seen, id)``; the ``(event_id, first_seen)`` index goes.

A meeting's id is ``protocol.ids.meeting_id`` of its kind, event, badges and
``first_seen``, and ingest now rejects any other id (``invalid_id``), so the id fixes
the event and ``first_seen``: a primary key that starts with them is as unique as the
id alone. Unlike the id (a hash), it is local: a batch of recent meetings adds its keys
to a few pages at the end of the index instead of ~one random page each, which halved
the database's work per ingested batch (docs/performance.md). The same index orders an
event's meetings by time, so ``ix_meetings_event_first_seen`` is dropped.

Meetings stored before this revision keep their rows and ids (an id that is not its
meeting's ``meeting_id`` could only come from a faulty gateway: such a row stays, and only
a new meeting whose own content hashes to that very id would be stored beside it). SQLite
cannot change a primary key in place: the table is copied (~25 s for 1,000,000 meetings
on the development machine; the old table's pages stay in the file as free pages).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 14:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", recreate="auto") as batch_op:
        batch_op.drop_index("ix_meetings_event_first_seen")
        batch_op.drop_constraint("pk_meetings", type_="primary")
        batch_op.create_primary_key("pk_meetings", ["event_id", "first_seen", "id"])


def downgrade() -> None:
    with op.batch_alter_table("meetings", recreate="auto") as batch_op:
        batch_op.drop_constraint("pk_meetings", type_="primary")
        batch_op.create_primary_key("pk_meetings", ["id"])
        batch_op.create_index("ix_meetings_event_first_seen", ["event_id", "first_seen"])
