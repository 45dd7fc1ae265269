"""Zones, sessions and check-ins (entry/exit taps at readers and at the organizer's desk).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_zones_event_id_events")),
        sa.PrimaryKeyConstraint("event_id", "id", name=op.f("pk_zones")),
    )
    op.create_table(
        "sessions",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("starts_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_sessions_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "zone_id"],
            ["zones.event_id", "zones.id"],
            name=op.f("fk_sessions_event_id_zone_id_zones"),
        ),
        sa.PrimaryKeyConstraint("event_id", "id", name=op.f("pk_sessions")),
    )
    op.create_table(
        "checkins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=True),
        sa.Column("badge", sa.String(length=64), nullable=True),
        sa.Column("attendee_id", sa.Integer(), nullable=True),
        sa.Column("reader", sa.String(length=64), nullable=True),
        sa.Column("gateway_id", sa.String(length=64), nullable=True),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("t", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("stored_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"], ["attendees.id"], name=op.f("fk_checkins_attendee_id_attendees")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_checkins_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index("ix_checkins_event_t", ["event_id", "t"], unique=False)
        batch_op.create_index("ix_checkins_event_zone_t", ["event_id", "zone", "t"], unique=False)
        batch_op.create_index(
            "ix_checkins_event_attendee", ["event_id", "attendee_id"], unique=False
        )
        batch_op.create_index("ix_checkins_stored_at", ["stored_at"], unique=False)
        batch_op.create_index(
            "ix_checkins_event_outcome_zone_t", ["event_id", "outcome", "zone", "t"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_event_outcome_zone_t")
        batch_op.drop_index("ix_checkins_stored_at")
        batch_op.drop_index("ix_checkins_event_attendee")
        batch_op.drop_index("ix_checkins_event_zone_t")
        batch_op.drop_index("ix_checkins_event_t")

    op.drop_table("checkins")
    op.drop_table("sessions")
    op.drop_table("zones")
