"""drop processed_events: a table no release ever read or wrote

The learning queue keeps its idempotency keys in memory (morgan.learning.queue); the table
planned for them was never used. Dropping it is still compatible with the previous release:
its code declares the table but issues no query against it, so it keeps running on the
upgraded database. The downgrade recreates the table exactly as 0001 made it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:35:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_events_user_id'))
    op.drop_table('processed_events')


def downgrade() -> None:
    op.create_table('processed_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('event_key', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_processed_events_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processed_events')),
    sa.UniqueConstraint('user_id', 'event_key', name='uq_processed_events_key')
    )
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_events_user_id'), ['user_id'], unique=False)
