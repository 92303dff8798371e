"""schema revisions: the compatibility record that lets older pods run on a newer schema

Every later migration declares `compatible_with_previous = True` when it only adds (tables,
nullable or defaulted columns, indexes), so the release before it keeps working on the
upgraded database (rolling upgrades, `helm rollback`). `morgan db upgrade` records each
applied revision and its flag here; see morgan.storage.db.ensure_schema.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 11:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    op.create_table('schema_revisions',
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('down_revision', sa.String(length=64), nullable=True),
    sa.Column('compatible_with_previous', sa.Boolean(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('revision', name=op.f('pk_schema_revisions'))
    )


def downgrade() -> None:
    op.drop_table('schema_revisions')
