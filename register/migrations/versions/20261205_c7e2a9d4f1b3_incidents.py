"""incidents under the phone policy: what happened, when and where, who reported it, the people
and devices involved, the action taken and by whom, escalation, status

Revision ID: c7e2a9d4f1b3
Revises: b5d91e2c7a64
Create Date: 2026-12-05 19:30:00
"""

from alembic import op
import sqlalchemy as sa

from register.models import UtcDateTime


revision = 'c7e2a9d4f1b3'
down_revision = 'b5d91e2c7a64'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'incidents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('occurred_at', UtcDateTime(), nullable=False),
        sa.Column('location', sa.String(length=120), nullable=False),
        sa.Column('what_happened', sa.Text(), nullable=False),
        sa.Column('reported_by', sa.String(length=120), nullable=False),
        sa.Column('recorded_at', UtcDateTime(), nullable=False),
        sa.Column('recorded_by_user_id', sa.Integer(), nullable=True),
        sa.Column('action_taken', sa.Text(), nullable=False),
        sa.Column('action_by', sa.String(length=120), nullable=False),
        sa.Column('escalated_to', sa.String(length=120), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('closed_at', UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_occurred_at'), ['occurred_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)
    op.create_table(
        'incident_people',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.ForeignKeyConstraint(['person_id'], ['people.id']),
        sa.PrimaryKeyConstraint('incident_id', 'person_id'))
    with op.batch_alter_table('incident_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_people_person_id'), ['person_id'],
                              unique=False)
    op.create_table(
        'incident_devices',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id']),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.PrimaryKeyConstraint('incident_id', 'device_id'))
    with op.batch_alter_table('incident_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_devices_device_id'), ['device_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('incident_devices')
    op.drop_table('incident_people')
    op.drop_table('incidents')
