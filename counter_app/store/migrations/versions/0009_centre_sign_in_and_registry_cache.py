"""sign-ins with the centre (9001/9002) and the registry as a cache of 1101 answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import counter_app.store.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'centre_sign_in',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('institution_id', sa.Integer(), sa.ForeignKey('institution.id'), nullable=False),
        sa.Column('operator', sa.String(30), nullable=False),
        sa.Column('sign_no', sa.String(30), nullable=False),
        sa.Column('signed_in_at', sa.DateTime(), nullable=False),
        sa.Column('signed_out_at', sa.DateTime(), nullable=True),
        sa.Column('ip', sa.String(20), nullable=False),
        sa.Column('mac', sa.String(20), nullable=False),
    )
    op.create_index('ix_centre_sign_in_operator', 'centre_sign_in', ['institution_id', 'operator', 'id'])
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('insuplc_admdvs', sa.String(6), nullable=True))
        batch.add_column(sa.Column('learned_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('learned_from', sa.String(100), nullable=True))
        batch.add_column(sa.Column('centre_balance', counter_app.store.types.Money(precision=14, scale=2),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person') as batch:
        for column in ('centre_balance', 'learned_from', 'learned_at', 'insuplc_admdvs'):
            batch.drop_column(column)
    op.drop_index('ix_centre_sign_in_operator', 'centre_sign_in')
    op.drop_table('centre_sign_in')
