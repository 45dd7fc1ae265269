"""Initial schema: organizers, events, attendees, gateways, badges, meetings (round 1 models).

Revision ID: 0001
Revises:
Create Date: 2026-11-27 09:20:03.419819
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("is_bootstrap", sa.Boolean(), nullable=False),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizers")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_organizers_token_sha256")),
    )
    with op.batch_alter_table("organizers", schema=None) as batch_op:
        batch_op.create_index(
            "uq_organizers_bootstrap",
            ["is_bootstrap"],
            unique=True,
            sqlite_where=sa.text("is_bootstrap = 1"),
            postgresql_where=sa.text("is_bootstrap"),
        )

    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_at", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_events_organizer_id_organizers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_organizer_id"), ["organizer_id"], unique=False)

    op.create_table(
        "attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_attendees_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendees")),
        sa.UniqueConstraint("event_id", "email", name=op.f("uq_attendees_event_id_email")),
        sa.UniqueConstraint(
            "event_id", "external_id", name=op.f("uq_attendees_event_id_external_id")
        ),
    )
    with op.batch_alter_table("attendees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendees_event_id"), ["event_id"], unique=False)

    op.create_table(
        "gateways",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("zone", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_gateways_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", "id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_gateways_token_sha256")),
    )
    op.create_table(
        "badges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("ephid_key", sa.String(length=64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"], ["attendees.id"], name=op.f("fk_badges_attendee_id_attendees")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_badges_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
    )
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_badges_attendee_id"), ["attendee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_badges_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            "uq_badges_active_attendee",
            ["attendee_id"],
            unique=True,
            sqlite_where=sa.text("revoked = 0"),
            postgresql_where=sa.text("NOT revoked"),
        )

    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("badge_a", sa.String(length=64), nullable=False),
        sa.Column("badge_b", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("contact_seconds", sa.BigInteger(), nullable=False),
        sa.Column("windows", sa.BigInteger(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=200), nullable=False),
        sa.Column("rssi_median_dbm", sa.Integer(), nullable=True),
        sa.Column("received_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_a"], ["badges.id"], name=op.f("fk_meetings_badge_a_badges")
        ),
        sa.ForeignKeyConstraint(
            ["badge_b"], ["badges.id"], name=op.f("fk_meetings_badge_b_badges")
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "gateway_id"],
            ["gateways.event_id", "gateways.id"],
            name=op.f("fk_meetings_event_id_gateway_id_gateways"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_meetings_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index("ix_meetings_event_badge_a", ["event_id", "badge_a"], unique=False)
        batch_op.create_index("ix_meetings_event_badge_b", ["event_id", "badge_b"], unique=False)
        batch_op.create_index(
            "ix_meetings_event_first_seen", ["event_id", "first_seen"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_event_first_seen")
        batch_op.drop_index("ix_meetings_event_badge_b")
        batch_op.drop_index("ix_meetings_event_badge_a")

    op.drop_table("meetings")
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_badges_active_attendee",
            sqlite_where=sa.text("revoked = 0"),
            postgresql_where=sa.text("NOT revoked"),
        )
        batch_op.drop_index(batch_op.f("ix_badges_event_id"))
        batch_op.drop_index(batch_op.f("ix_badges_attendee_id"))

    op.drop_table("badges")
    op.drop_table("gateways")
    with op.batch_alter_table("attendees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendees_event_id"))

    op.drop_table("attendees")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_organizer_id"))

    op.drop_table("events")
    with op.batch_alter_table("organizers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organizers_bootstrap",
            sqlite_where=sa.text("is_bootstrap = 1"),
            postgresql_where=sa.text("is_bootstrap"),
        )

    op.drop_table("organizers")
