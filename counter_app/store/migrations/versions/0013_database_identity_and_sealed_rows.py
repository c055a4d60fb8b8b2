"""database identity, a keyed audit chain and sealed rows

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:00:00

A restore took any backup, and `audit verify` covered only the rows written once (issue 26). The
database now carries an identity (a restore takes only its own backups) and the entry from which
its chain is keyed with a secret kept outside it (store/audit_key.py, made here when the machine has
none). Rows that change in place and decide who pays (bindings, staff, outbox messages) are sealed
by the entry that wrote them, catalogues by the entry that loaded them; what exists now is sealed
by one genesis entry.
"""
import datetime as dt
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_seal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('tbl', sa.String(length=30), nullable=False),
        sa.Column('row_id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_seal_entry_id', 'audit_seal', ['entry_id'])
    op.create_index('ix_audit_seal_row', 'audit_seal', ['tbl', 'row_id', 'entry_id'])
    op.create_table(
        'database_identity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('identity', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('keyed_from', sa.Integer(), nullable=False),
        sa.Column('key_check', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    from counter_app.store import audit, audit_key

    conn = op.get_bind()
    key = audit_key.ensure()
    head = conn.execute(sa.text("SELECT max(id) FROM audit_entry")).scalar() or 0
    ident = str(uuid.uuid4())
    now = dt.datetime.now().replace(microsecond=0)
    conn.execute(
        sa.text(
            "INSERT INTO database_identity (id, identity, created_at, keyed_from, key_check) "
            "VALUES (1, :i, :at, :k, :c)"
        ),
        {"i": ident, "at": now, "k": head + 1, "c": audit_key.key_check(key, ident, head + 1)},
    )
    audit.adopt(conn, at=now, staff_no="system", counter="migration", action="genesis", obj="migration 0013")


def downgrade() -> None:
    op.drop_table('database_identity')
    op.drop_index('ix_audit_seal_row', table_name='audit_seal')
    op.drop_index('ix_audit_seal_entry_id', table_name='audit_seal')
    op.drop_table('audit_seal')
