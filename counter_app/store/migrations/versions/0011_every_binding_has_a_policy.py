"""every binding names the policy it was made under

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:00:00

Bindings made before 0006 had no recorded policy and were valid under every pack, so an old Hefei
binding without a WH-25 proof paid at a Wuhu counter. Each is given the policy of its provider's
place of insurance: the institutions of that division (the first four digits of insuplc_admdvs),
else, for a provider of this database's own region (no place recorded), the first institution's.
From here on a binding pays only under its own policy (issue 25 point 7).
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE family_binding SET policy = COALESCE(
            (SELECT i.policy FROM institution i JOIN person p ON p.id = family_binding.provider_id
             WHERE p.insuplc_admdvs IS NOT NULL AND substr(i.admdvs, 1, 4) = substr(p.insuplc_admdvs, 1, 4)
             ORDER BY i.id LIMIT 1),
            (SELECT i.policy FROM institution i ORDER BY i.id LIMIT 1))
        WHERE policy IS NULL
        """
    )


def downgrade() -> None:
    pass  # the assigned policies are what the bindings were made under; nothing to undo
