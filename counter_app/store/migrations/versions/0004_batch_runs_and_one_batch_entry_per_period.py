"""batch runs; one batch ledger entry per account, kind and period

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import counter_app.store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('policy', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('run_by', sa.String(length=30), nullable=False),
    sa.Column('posted', sa.Integer(), nullable=False),
    sa.Column('already', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('total', counter_app.store.types.Money(precision=14, scale=2), nullable=False),
    sa.Column('report_json', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_ledger_entry_batch_period', 'ledger_entry', ['account_id', 'kind', 'period'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_ledger_entry_batch_period', table_name='ledger_entry')
    op.drop_table('batch_run')
