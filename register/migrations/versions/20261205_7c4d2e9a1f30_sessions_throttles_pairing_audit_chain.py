"""safe by default: server-side sessions, sign-in throttles, one-time kiosk pairing, a hash
chain on the audit trail

Revision ID: 7c4d2e9a1f30
Revises: 3b9e1c7d5a20
Create Date: 2026-12-05 15:10:00
"""

from alembic import op
import sqlalchemy as sa

from register import audit
from register.models import AUDIT_APPEND_ONLY, UtcDateTime


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
    _chain_the_audit_entries_already_there()
    if op.get_bind().dialect.name == 'postgresql':
        for statement in AUDIT_APPEND_ONLY:  # no UPDATE or DELETE of an entry from now on
            op.execute(statement)


def _chain_the_audit_entries_already_there() -> None:
    """Hash the entries made before the chain, in id order, as register.audit.record would
    have (in chunks: a school's year of entries need not be in memory at once)."""
    connection = op.get_bind()
    entries = sa.table('audit_events', sa.column('id', sa.Integer()),
                       sa.column('at', UtcDateTime()), sa.column('actor', sa.String()),
                       sa.column('action', sa.String()), sa.column('subject', sa.String()),
                       sa.column('detail', sa.Text()), sa.column('entry_hash', sa.String()))
    write = (entries.update().where(entries.c.id == sa.bindparam('entry_id'))
             .values(entry_hash=sa.bindparam('entry_hash')))
    read = sa.select(entries.c.id, entries.c.at, entries.c.actor, entries.c.action,
                     entries.c.subject, entries.c.detail).order_by(entries.c.id).limit(5000)
    last_id, last_hash = None, ''
    while True:
        rows = connection.execute(
            read if last_id is None else read.where(entries.c.id > last_id)).all()
        if not rows:
            return
        hashes = audit.backfill(rows, last_hash)
        connection.execute(write, hashes)
        last_id, last_hash = rows[-1].id, hashes[-1]['entry_hash']


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION IF EXISTS audit_events_append_only()')
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
