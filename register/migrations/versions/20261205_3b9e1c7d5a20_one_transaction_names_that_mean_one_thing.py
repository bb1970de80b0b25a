"""names that mean one thing: agent_heartbeats, kiosks.asking_until; scan receipts keep the
answer only (its HTTP status is the web layer's to choose)

Revision ID: 3b9e1c7d5a20
Revises: 219fcfa3605e
Create Date: 2026-12-05 13:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '3b9e1c7d5a20'
down_revision = '219fcfa3605e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table('kiosk_agents', 'agent_heartbeats')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.alter_column('identify_until', new_column_name='asking_until')
    with op.batch_alter_table('scan_receipts', schema=None) as batch_op:
        batch_op.drop_column('status')


def downgrade() -> None:
    with op.batch_alter_table('scan_receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Integer(), nullable=False, server_default='200'))
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.alter_column('asking_until', new_column_name='identify_until')
    op.rename_table('agent_heartbeats', 'kiosk_agents')
