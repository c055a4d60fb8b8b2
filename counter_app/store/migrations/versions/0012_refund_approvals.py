"""single-use refund approvals

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 19:20:00

An approval was an object in memory that could be re-aimed at another settlement and never
expired. It is now a row: bound to the settlement, the institution and the counter where the
supervisor typed the password, with an expiry, consumed by the refund (issue 26).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'refund_approval',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('setl_no', sa.String(length=30), nullable=False),
        sa.Column('institution_code', sa.String(length=12), nullable=False),
        sa.Column('counter', sa.String(length=30), nullable=False),
        sa.Column('approver', sa.String(length=30), nullable=False),
        sa.Column('approved_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('refund_approval')
