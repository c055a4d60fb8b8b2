"""the cash the patient handed over, for the change and the slip

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:00:00
"""
from alembic import op
import sqlalchemy as sa

import counter_app.store.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('settlement') as batch:
        batch.add_column(sa.Column('tendered', counter_app.store.types.Money(precision=14, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('settlement') as batch:
        batch.drop_column('tendered')
