"""several tenders on one bill

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:10:00

One bill paid by several means (cash with a bank card, part WeChat Pay or Alipay) could not be
recorded (issue 27). A settlement paid so has tender 'mixed' and one row here per means, summing to
its cash part; a refund of it gives each back (or all in cash, under the refund's approval).
"""
from alembic import op
import sqlalchemy as sa

from counter_app.store.types import Money


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'settlement_tender',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('settlement_id', sa.Integer(), nullable=False),
        sa.Column('tender', sa.String(length=10), nullable=False),
        sa.Column('amount', Money(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_settlement_tender_settlement_id', 'settlement_tender', ['settlement_id'])


def downgrade() -> None:
    op.drop_index('ix_settlement_tender_settlement_id', table_name='settlement_tender')
    op.drop_table('settlement_tender')
