"""Tamper-evident audit log: a hash chain per organisation

Existing events are chained in id order per organisation, with the hash engine/audit.py computes, so an upgraded
database verifies green.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.audit import GENESIS, event_hash
from engine.models.base import UtcDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BATCH = 2000

# the table as this revision knows it (not the model, which later revisions may change)
events = sa.table(
    'audit_events',
    sa.column('id', sa.Integer()),
    sa.column('organisation_id', sa.Integer()),
    sa.column('at', UtcDateTime()),
    sa.column('actor_id', sa.Integer()),
    sa.column('action', sa.String()),
    sa.column('authorization_id', sa.Integer()),
    sa.column('instance_id', sa.Integer()),
    sa.column('task_id', sa.String()),
    sa.column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')),
    sa.column('seq', sa.Integer()),
    sa.column('prev_hash', sa.String()),
    sa.column('hash', sa.String()),
)
heads = sa.table(
    'audit_chain_heads',
    sa.column('organisation_id', sa.Integer()),
    sa.column('last_seq', sa.Integer()),
    sa.column('last_hash', sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    op.create_table('audit_chain_heads',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_audit_chain_heads_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_audit_chain_heads'))
    )
    connection = op.get_bind()
    organisations = connection.scalars(sa.select(events.c.organisation_id).distinct()).all()
    for organisation_id in organisations:
        _chain_existing(connection, organisation_id)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_organisation_seq', ['organisation_id', 'seq'], unique=True)


def _chain_existing(connection, organisation_id: int) -> None:
    """Number and hash an organisation's events in id order, a batch at a time, then write its chain head."""
    seq, last_hash, last_id = 0, GENESIS, 0
    while True:
        rows = connection.execute(
            sa.select(events)
            .where(events.c.organisation_id == organisation_id, events.c.id > last_id)
            .order_by(events.c.id)
            .limit(BATCH)
        ).mappings().all()
        if not rows:
            break
        changes = []
        for row in rows:
            seq += 1
            digest = event_hash(row, seq, last_hash)
            changes.append({'row_id': row['id'], 'seq': seq, 'prev_hash': last_hash, 'hash': digest})
            last_hash, last_id = digest, row['id']
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam('row_id'))
            .values(seq=sa.bindparam('seq'), prev_hash=sa.bindparam('prev_hash'), hash=sa.bindparam('hash')),
            changes,
        )
    connection.execute(heads.insert().values(organisation_id=organisation_id, last_seq=seq, last_hash=last_hash))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_organisation_seq')
    op.drop_table('audit_chain_heads')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
