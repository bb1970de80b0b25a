"""safe by default: server-side sessions, sign-in throttles, one-time kiosk pairing, a hash
chain on the audit trail

Revision ID: 7c4d2e9a1f30
Revises: 3b9e1c7d5a20
Create Date: 2026-12-05 15:10:00
"""

from alembic import op
import sqlalchemy as sa

from register.models import UtcDateTime


revision = '7c4d2e9a1f30'
down_revision = '3b9e1c7d5a20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('last_seen_at', UtcDateTime(), nullable=False),
        sa.Column('ended_at', UtcDateTime(), nullable=True),
        sa.Column('end_reason', sa.String(length=40), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)
    op.create_table(
        'sign_in_throttles',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_started_at', UtcDateTime(), nullable=False),
        sa.Column('held_until', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))
        batch_op.add_column(sa.Column('last_sign_in_at', UtcDateTime(), nullable=True))
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('browser_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pairing_code_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pairing_code_expires_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', UtcDateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_kiosks_browser_token_hash', ['browser_token_hash'])
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('entry_hash')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_constraint('uq_kiosks_browser_token_hash', type_='unique')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('pairing_code_expires_at')
        batch_op.drop_column('pairing_code_hash')
        batch_op.drop_column('browser_token_hash')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_sign_in_at')
        batch_op.drop_column('must_change_password')
    op.drop_table('sign_in_throttles')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
