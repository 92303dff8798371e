"""runtime settings (`morgan config`) and the error code of ingestion jobs

Expand-only: one new table and one nullable column, so the previous release keeps running
on the upgraded database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    op.create_table('runtime_settings',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_runtime_settings_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_runtime_settings'))
    )
    with op.batch_alter_table('ingestion_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ingestion_jobs', schema=None) as batch_op:
        batch_op.drop_column('code')
    op.drop_table('runtime_settings')
