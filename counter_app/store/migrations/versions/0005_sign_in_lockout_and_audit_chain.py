"""sign-in lockout and first-sign-in password change; the audit chain

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:00:00

Staff who exist before this revision keep their passwords (must_change_password false). Rows of
money written before it are covered by one genesis audit entry, so `audit verify` holds on an
upgraded database and any later edit of those rows still shows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('failed_signins', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('staff_no', sa.String(length=30), nullable=False),
    sa.Column('counter', sa.String(length=30), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('object', sa.String(length=100), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entry_action', 'audit_entry', ['action'])
    from counter_app.store.audit import genesis
    genesis(op.get_bind())


def downgrade() -> None:
    op.drop_index('ix_audit_entry_action', table_name='audit_entry')
    op.drop_table('audit_entry')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('locked_until')
        batch.drop_column('failed_signins')
        batch.drop_column('must_change_password')
