"""ingest intents: blobs and vectors an ingest writes before its rows (crash reconciliation)

Expand-only: one new table, so the previous release keeps running on the upgraded database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    op.create_table('ingest_intents',
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('blob_key', sa.String(length=1024), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('document_id', name=op.f('pk_ingest_intents'))
    )


def downgrade() -> None:
    op.drop_table('ingest_intents')
