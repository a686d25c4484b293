"""Each submission's per-assignment content hashes: lateness is decided per assignment.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add submissions.contents (nullable: rows written before it have none, and fall back to the revision)."""
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contents', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop submissions.contents."""
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('contents')
