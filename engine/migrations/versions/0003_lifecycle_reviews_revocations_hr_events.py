"""lifecycle: reviews, revocations, HR events, instance errors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Adds review items (one per authorization per review round), HR events (kept by their id), the open review
or revocation of an authorization, the last renewal offer, and why an instance's engine step failed.
Existing rows keep their data: new columns are nullable or get defaults.
"""

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hr_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('received_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_hr_events_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_hr_events_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hr_events')),
    sa.UniqueConstraint('organisation_id', 'event_id', name=op.f('uq_hr_events_organisation_id'))
    )
    with op.batch_alter_table('hr_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hr_events_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hr_events_person_id'), ['person_id'], unique=False)

    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('new_valid_until', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_review_items_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['people.id'], name=op.f('fk_review_items_decided_by_id_people')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_review_items_instance_id_process_instances')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_review_items_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_items')),
    sa.UniqueConstraint('instance_id', 'authorization_id', name=op.f('uq_review_items_instance_id'))
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_items_authorization_id'), ['authorization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_items_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_review_items_org_pending', ['organisation_id', 'decision'], unique=False)

    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_instance_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('renewal_offered_days', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_authorizations_open_instance_id_process_instances'), 'process_instances', ['open_instance_id'], ['id'])

    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('error_count', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_column('error_count')
        batch_op.drop_column('error')

    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_authorizations_open_instance_id_process_instances'), type_='foreignkey')
        batch_op.drop_column('renewal_offered_days')
        batch_op.drop_column('open_instance_id')

    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_review_items_org_pending')
        batch_op.drop_index(batch_op.f('ix_review_items_instance_id'))
        batch_op.drop_index(batch_op.f('ix_review_items_authorization_id'))

    op.drop_table('review_items')
    with op.batch_alter_table('hr_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hr_events_person_id'))
        batch_op.drop_index(batch_op.f('ix_hr_events_organisation_id'))

    op.drop_table('hr_events')
