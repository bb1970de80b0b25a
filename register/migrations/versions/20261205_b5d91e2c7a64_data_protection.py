"""data protection by design: policy versions and acknowledgements, weekly aggregates kept
before a purge (compliance_weeks, exception_weeks), the audit trail's purge anchor and
redactions, and the append-only trigger's two narrow doors (purge, redact)

Revision ID: b5d91e2c7a64
Revises: a8f3c61d2b47
Create Date: 2026-12-05 18:00:00
"""

from alembic import op
import sqlalchemy as sa

from register.models import AUDIT_APPEND_ONLY, UtcDateTime


revision = 'b5d91e2c7a64'
down_revision = 'a8f3c61d2b47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_purges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.Column('through_id', sa.Integer(), nullable=False),
        sa.Column('through_hash', sa.String(length=64), nullable=False),
        sa.Column('removed', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_table(
        'audit_redactions',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.Column('erasure_event_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('event_id'))
    op.create_table(
        'policy_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('adopted_on', sa.Date(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('published_at', UtcDateTime(), nullable=False),
        sa.Column('published_by', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('version'))
    op.create_table(
        'policy_acknowledgements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('policy_version_id', sa.Integer(), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.Column('via', sa.String(length=10), nullable=False),
        sa.Column('kiosk_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id']),
        sa.ForeignKeyConstraint(['person_id'], ['people.id']),
        sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('person_id', 'policy_version_id'))
    with op.batch_alter_table('policy_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_acknowledgements_person_id'), ['person_id'],
                              unique=False)
    op.create_table(
        'compliance_weeks',
        sa.Column('week_of', sa.Date(), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('on_duty', sa.Integer(), nullable=False),
        sa.Column('compliant', sa.Integer(), nullable=False),
        sa.Column('with_exception', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('week_of', 'category'))
    op.create_table(
        'exception_weeks',
        sa.Column('week_of', sa.Date(), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            'requested', 'agreed', 'expired', 'revoked', 'declined', 'lapsed', 'pending')),
        sa.PrimaryKeyConstraint('week_of', 'category'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(AUDIT_APPEND_ONLY[0])  # the function only: the trigger calls it by name


def downgrade() -> None:
    for table in ('exception_weeks', 'compliance_weeks', 'policy_acknowledgements',
                  'policy_versions', 'audit_redactions', 'audit_purges'):
        op.drop_table(table)
