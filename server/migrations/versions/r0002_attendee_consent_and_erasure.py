"""Attendee consent (share_level, share_with) and erasure (erased_at).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:20:14.596893
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendees", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "share_level", sa.String(length=16), server_default="name_company", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("share_with", sa.String(length=16), server_default="met", nullable=False)
        )
        batch_op.add_column(
            sa.Column("erased_at", server.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("attendees", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("share_with")
        batch_op.drop_column("share_level")
