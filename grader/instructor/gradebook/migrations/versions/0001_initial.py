"""The gradebook's tables: submissions, gradings, assignment grades, graded tests.

Revision ID: 0001
Revises: (none: the first)
Create Date: 2026-12-02 21:00:12.272360
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Bring the schema from the previous revision to this one."""
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student', sa.String(length=200), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('committed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('student', 'revision', name=op.f('uq_submissions_student_revision'))
    )
    op.create_table('gradings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('student', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('grader_version', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('sandboxed', sa.Boolean(), nullable=False),
    sa.Column('hidden_tests_included', sa.Boolean(), nullable=False),
    sa.Column('graded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_gradings_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gradings'))
    )
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.create_index('ix_gradings_student_key', ['student', 'key'], unique=False)

    op.create_table('assignment_grades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grading_id', sa.Integer(), nullable=False),
    sa.Column('assignment', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('not_graded', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['grading_id'], ['gradings.id'], name=op.f('fk_assignment_grades_grading_id_gradings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_grades')),
    sa.UniqueConstraint('grading_id', 'assignment', name=op.f('uq_assignment_grades_grading_id_assignment'))
    )
    op.create_table('graded_tests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_grade_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_grade_id'], ['assignment_grades.id'], name=op.f('fk_graded_tests_assignment_grade_id_assignment_grades'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_graded_tests')),
    sa.UniqueConstraint('assignment_grade_id', 'position', name=op.f('uq_graded_tests_assignment_grade_id_position'))
    )


def downgrade() -> None:
    """Undo upgrade()."""
    op.drop_table('graded_tests')
    op.drop_table('assignment_grades')
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.drop_index('ix_gradings_student_key')

    op.drop_table('gradings')
    op.drop_table('submissions')
