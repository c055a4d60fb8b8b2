"""indexes a city's million insured needs

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:45:00

A card or e-voucher scan looks a credential up by its code alone, which the (kind, code) unique
index cannot serve: a sequential scan of two million rows (340 ms). A refund reads the year total
its settlement wrote by settlement_id, unindexed (issue 28).
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_credential_code', 'credential', ['code'])
    op.create_index('ix_year_total_settlement_id', 'year_total', ['settlement_id'])


def downgrade() -> None:
    op.drop_index('ix_year_total_settlement_id', table_name='year_total')
    op.drop_index('ix_credential_code', table_name='credential')
