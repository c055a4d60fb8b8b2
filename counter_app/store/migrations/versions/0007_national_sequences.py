"""the national sequences: outbox messages per visit, the centre's answer to each settlement

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:00:00

An outbox message now belongs to a visit (`visit_key`: the outpatient settlement number or the
stay's admission number), whose registration answer gives the `mdtrt_id` the later messages carry;
messages of an admission have no settlement, so the institution and operator are on the row.
`centre_result` keeps what the centre answered for a settlement and whether it equals ours.
Inpatient fee rows get the line they were uploaded as (`feedetl_sn`, its quantity), the lines a
correction cancelled, and the settlement that took them; deposit entries the settlement they served.
"""
from alembic import op
import sqlalchemy as sa

import counter_app.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('visit_key', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('institution_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('operator', sa.String(length=30), nullable=True))
        batch.create_index('ix_outbox_visit_key', ['visit_key'])
        batch.create_foreign_key('fk_outbox_institution', 'institution', ['institution_id'], ['id'])
    op.execute("UPDATE outbox SET institution_id = (SELECT s.institution_id FROM settlement s "
               "WHERE s.id = outbox.settlement_id), operator = (SELECT s.cashier FROM settlement s "
               "WHERE s.id = outbox.settlement_id) WHERE settlement_id IS NOT NULL")
    with op.batch_alter_table('admission_fee') as batch:
        batch.add_column(sa.Column('feedetl_sn', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('line_quantity', counter_app.store.types.Ratio(length=12), nullable=True))
        batch.add_column(sa.Column('cancels', sa.Text(), nullable=True))
        batch.add_column(sa.Column('settlement_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_admission_fee_settlement', 'settlement', ['settlement_id'], ['id'])
    with op.batch_alter_table('deposit_entry') as batch:
        batch.add_column(sa.Column('settlement_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_deposit_entry_settlement', 'settlement', ['settlement_id'], ['id'])
    op.create_table(
        'centre_result',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('settlement_id', sa.Integer(), sa.ForeignKey('settlement.id'), nullable=False, unique=True),
        sa.Column('msgid', sa.String(length=30), nullable=False),
        sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
        sa.Column('setl_id', sa.String(length=30), nullable=False),
        sa.Column('equal', sa.Boolean(), nullable=False),
        sa.Column('differences', sa.Text(), nullable=False),
        sa.Column('setlinfo', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('reviewed_by', sa.String(length=30), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_centre_result_equal', 'centre_result', ['equal'])


def downgrade() -> None:
    op.drop_index('ix_centre_result_equal', 'centre_result')
    op.drop_table('centre_result')
    with op.batch_alter_table('deposit_entry') as batch:
        batch.drop_constraint('fk_deposit_entry_settlement', type_='foreignkey')
        batch.drop_column('settlement_id')
    with op.batch_alter_table('admission_fee') as batch:
        batch.drop_constraint('fk_admission_fee_settlement', type_='foreignkey')
        batch.drop_column('settlement_id')
        batch.drop_column('cancels')
        batch.drop_column('line_quantity')
        batch.drop_column('feedetl_sn')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_constraint('fk_outbox_institution', type_='foreignkey')
        batch.drop_index('ix_outbox_visit_key')
        batch.drop_column('operator')
        batch.drop_column('institution_id')
        batch.drop_column('visit_key')
