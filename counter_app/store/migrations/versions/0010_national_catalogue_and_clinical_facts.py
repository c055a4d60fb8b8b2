"""the national catalogue and its terms, the price list's mapping, departments, doctors, diseases

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""
from alembic import op
import sqlalchemy as sa

import counter_app.store.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalogue_item') as batch:
        batch.add_column(sa.Column('national_code', sa.String(50), nullable=True))
        batch.add_column(sa.Column('spec', sa.String(100), nullable=False, server_default=''))
        batch.add_column(sa.Column('barcode', sa.String(50), nullable=True))
        batch.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch.create_index('ix_catalogue_item_national_code', ['national_code'])
        batch.create_index('ix_catalogue_item_barcode', ['barcode'])
    op.create_table(
        'national_item',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(50), nullable=False, unique=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('catalogue', sa.String(4), nullable=False),
        sa.Column('version', sa.String(40), nullable=False),
    )
    op.create_table(
        'national_term',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(50), nullable=False),
        sa.Column('kind', sa.String(8), nullable=False),
        sa.Column('cls', sa.String(1), nullable=True),
        sa.Column('ratio', counter_app.store.types.Ratio(length=12), nullable=True),
        sa.Column('amount', counter_app.store.types.Money(precision=14, scale=2), nullable=True),
        sa.Column('begndate', sa.Date(), nullable=False),
        sa.Column('enddate', sa.Date(), nullable=True),
        sa.UniqueConstraint('code', 'kind', 'begndate'),
    )
    op.create_index('ix_national_term_code', 'national_term', ['code'])
    op.create_table(
        'disease',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(20), nullable=False, unique=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('pinyin', sa.String(50), nullable=False),
        sa.Column('catalogue', sa.String(4), nullable=False),
        sa.Column('version', sa.String(40), nullable=False),
    )
    op.create_index('ix_disease_pinyin', 'disease', ['pinyin'])
    op.create_table(
        'catalogue_version',
        sa.Column('catalogue', sa.String(4), primary_key=True),
        sa.Column('version', sa.String(40), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('loaded_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'department',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('institution_id', sa.Integer(), sa.ForeignKey('institution.id'), nullable=False),
        sa.Column('code', sa.String(30), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('caty', sa.String(6), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('diagnosis', sa.String(20), nullable=True),
        sa.UniqueConstraint('institution_id', 'code'),
    )
    op.create_table(
        'doctor',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('institution_id', sa.Integer(), sa.ForeignKey('institution.id'), nullable=False),
        sa.Column('code', sa.String(30), nullable=False),
        sa.Column('name', sa.String(50), nullable=False),
        sa.Column('dept_code', sa.String(30), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('institution_id', 'code'),
    )
    for table in ('settlement', 'admission'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('visit_json', sa.Text(), nullable=True))
    with op.batch_alter_table('settlement') as batch:  # a self-pay patient need not be insured
        batch.add_column(sa.Column('payer_name', sa.String(50), nullable=True))
        batch.add_column(sa.Column('payer_certno', sa.String(18), nullable=True))
        batch.alter_column('person_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('settlement') as batch:
        batch.alter_column('person_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('payer_certno')
        batch.drop_column('payer_name')
    for table in ('admission', 'settlement'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('visit_json')
    for table in ('doctor', 'department', 'catalogue_version'):
        op.drop_table(table)
    op.drop_index('ix_disease_pinyin', 'disease')
    op.drop_table('disease')
    op.drop_index('ix_national_term_code', 'national_term')
    op.drop_table('national_term')
    op.drop_table('national_item')
    with op.batch_alter_table('catalogue_item') as batch:
        batch.drop_index('ix_catalogue_item_barcode')
        batch.drop_index('ix_catalogue_item_national_code')
        for column in ('updated_at', 'barcode', 'spec', 'national_code'):
            batch.drop_column(column)
