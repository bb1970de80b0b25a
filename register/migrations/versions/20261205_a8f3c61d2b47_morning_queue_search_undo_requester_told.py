"""a real morning queue: people.search_name (accent- and case-blind search, the same on both
databases), people.left_reason (undo needs to know why), exception_requests.requester_told_at
(a request not agreed is told to the requester once)

Revision ID: a8f3c61d2b47
Revises: 7c4d2e9a1f30
Create Date: 2026-12-05 16:00:00
"""

from alembic import op
import sqlalchemy as sa

from register.models import UtcDateTime
from register.text import search_form


revision = 'a8f3c61d2b47'
down_revision = '7c4d2e9a1f30'
branch_labels = None
depends_on = None

_people = sa.table('people', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                   sa.column('search_name', sa.String()))


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.String(length=120), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('left_reason', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_people_search_name'), ['search_name'],
                              unique=False)
    with op.batch_alter_table('exception_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_told_at', UtcDateTime(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_people.c.id, _people.c.name)).all()
    for person_id, name in rows:
        connection.execute(_people.update().where(_people.c.id == person_id)
                           .values(search_name=search_form(name)[:120]))


def downgrade() -> None:
    with op.batch_alter_table('exception_requests', schema=None) as batch_op:
        batch_op.drop_column('requester_told_at')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_search_name'))
        batch_op.drop_column('left_reason')
        batch_op.drop_column('search_name')
