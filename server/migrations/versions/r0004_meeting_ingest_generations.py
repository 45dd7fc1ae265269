"""Meetings get an ingest generation; the per-badge indexes are keyed by it.

``meetings.ingest_gen`` (``server.services.ingest``) and the indexes
``(event_id, ingest_gen, badge_a)`` and ``(event_id, ingest_gen, badge_b)`` replace
``(event_id, badge_a)`` and ``(event_id, badge_b)``: one ingested batch then adds its
index entries to a few pages instead of ~one random page per meeting. Meetings stored
before this revision are generation 0.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "meetings",
        sa.Column("ingest_gen", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.drop_index("ix_meetings_event_badge_a", table_name="meetings")
    op.drop_index("ix_meetings_event_badge_b", table_name="meetings")
    op.create_index(
        "ix_meetings_event_gen_badge_a", "meetings", ["event_id", "ingest_gen", "badge_a"]
    )
    op.create_index(
        "ix_meetings_event_gen_badge_b", "meetings", ["event_id", "ingest_gen", "badge_b"]
    )


def downgrade() -> None:
    op.drop_index("ix_meetings_event_gen_badge_b", table_name="meetings")
    op.drop_index("ix_meetings_event_gen_badge_a", table_name="meetings")
    op.create_index("ix_meetings_event_badge_b", "meetings", ["event_id", "badge_b"])
    op.create_index("ix_meetings_event_badge_a", "meetings", ["event_id", "badge_a"])
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("ingest_gen")
