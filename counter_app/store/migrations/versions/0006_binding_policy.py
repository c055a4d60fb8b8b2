"""the policy a binding was made under

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:00:00

Bindings made before this revision keep NULL: made under no recorded policy, they stay valid under
any (README, rule notes).
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('family_binding') as batch:
        batch.add_column(sa.Column('policy', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('family_binding') as batch:
        batch.drop_column('policy')
