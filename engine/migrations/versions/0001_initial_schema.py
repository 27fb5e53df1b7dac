"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('business_id', sa.String(length=16), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('key', name=op.f('uq_organisations_key'))
    )
    op.create_table('process_spec_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('bpmn', sa.Text(), nullable=False),
    sa.Column('forms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_spec_versions')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_process_spec_versions_content_hash')),
    sa.UniqueConstraint('process_id', 'version', name=op.f('uq_process_spec_versions_process_id'))
    )
    with op.batch_alter_table('process_spec_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_spec_versions_process_id'), ['process_id'], unique=False)

    op.create_table('authorization_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_authorization_categories_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_categories')),
    sa.UniqueConstraint('organisation_id', 'key', name=op.f('uq_authorization_categories_organisation_id'))
    )
    with op.batch_alter_table('authorization_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_categories_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('director_id', sa.Integer(), nullable=True),
    sa.Column('deputy_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_units_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], name=op.f('fk_units_parent_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('organisation_id', 'key', name=op.f('uq_units_organisation_id'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('authorization_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('agency', sa.String(length=100), nullable=False),
    sa.Column('name', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('description', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mandate_type', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['authorization_categories.id'], name=op.f('fk_authorization_codes_category_id_authorization_categories')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_authorization_codes_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_codes')),
    sa.UniqueConstraint('organisation_id', 'key', name=op.f('uq_authorization_codes_organisation_id'))
    )
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_codes_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('supervisor_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('title', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('demo_note', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_people_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['supervisor_id'], ['people.id'], name=op.f('fk_people_supervisor_id_people')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_people_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('organisation_id', 'email', name=op.f('uq_people_organisation_id'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_people_unit_id'), ['unit_id'], unique=False)
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_units_director_id_people', 'people', ['director_id'], ['id'])
        batch_op.create_foreign_key('fk_units_deputy_id_people', 'people', ['deputy_id'], ['id'])

    op.create_table('person_roles',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_roles_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'role', name=op.f('pk_person_roles'))
    )
    op.create_table('process_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('spec_version_id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('subject_person_id', sa.Integer(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('serializer_version', sa.String(length=16), nullable=False),
    sa.Column('current_step', sa.String(length=200), nullable=False),
    sa.Column('completed_steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('outcome', sa.String(length=100), nullable=False),
    sa.Column('next_timer_due', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_process_instances_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['spec_version_id'], ['process_spec_versions.id'], name=op.f('fk_process_instances_spec_version_id_process_spec_versions')),
    sa.ForeignKeyConstraint(['started_by_id'], ['people.id'], name=op.f('fk_process_instances_started_by_id_people')),
    sa.ForeignKeyConstraint(['subject_person_id'], ['people.id'], name=op.f('fk_process_instances_subject_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instances'))
    )
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.create_index('ix_process_instances_due', ['next_timer_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_spec_version_id'), ['spec_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_subject_person_id'), ['subject_person_id'], unique=False)

    op.create_table('authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mandate_type', sa.String(length=40), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('closing_reason', sa.Text(), nullable=False),
    sa.Column('request_instance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['authorization_codes.id'], name=op.f('fk_authorizations_code_id_authorization_codes')),
    sa.ForeignKeyConstraint(['holder_id'], ['people.id'], name=op.f('fk_authorizations_holder_id_people')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_authorizations_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['request_instance_id'], ['process_instances.id'], name=op.f('fk_authorizations_request_instance_id_process_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorizations'))
    )
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorizations_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorizations_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorizations_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorizations_request_instance_id'), ['request_instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorizations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorizations_valid_until'), ['valid_until'], unique=False)

    op.create_table('human_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('bpmn_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('lane', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('form', sa.String(length=200), nullable=False),
    sa.Column('ui_form', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('due_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('prefill', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['completed_by_id'], ['people.id'], name=op.f('fk_human_tasks_completed_by_id_people')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_human_tasks_instance_id_process_instances')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_human_tasks_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_human_tasks'))
    )
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_human_tasks_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_human_tasks_org_status', ['organisation_id', 'status'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['people.id'], name=op.f('fk_audit_events_actor_id_people')),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_audit_events_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_audit_events_instance_id_process_instances')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_audit_events_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_authorization_id'), ['authorization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('human_task_owners',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_human_task_owners_person_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], name=op.f('fk_human_task_owners_task_id_human_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'person_id', name=op.f('pk_human_task_owners'))
    )
    with op.batch_alter_table('human_task_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_human_task_owners_person_id'), ['person_id'], unique=False)




def downgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_constraint('fk_units_director_id_people', type_='foreignkey')
        batch_op.drop_constraint('fk_units_deputy_id_people', type_='foreignkey')
    with op.batch_alter_table('human_task_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_human_task_owners_person_id'))

    op.drop_table('human_task_owners')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_instance_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_authorization_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_org_status')
        batch_op.drop_index(batch_op.f('ix_human_tasks_instance_id'))

    op.drop_table('human_tasks')
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorizations_valid_until'))
        batch_op.drop_index(batch_op.f('ix_authorizations_status'))
        batch_op.drop_index(batch_op.f('ix_authorizations_request_instance_id'))
        batch_op.drop_index(batch_op.f('ix_authorizations_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_authorizations_holder_id'))
        batch_op.drop_index(batch_op.f('ix_authorizations_code_id'))

    op.drop_table('authorizations')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instances_subject_person_id'))
        batch_op.drop_index(batch_op.f('ix_process_instances_status'))
        batch_op.drop_index(batch_op.f('ix_process_instances_spec_version_id'))
        batch_op.drop_index(batch_op.f('ix_process_instances_organisation_id'))
        batch_op.drop_index('ix_process_instances_due')

    op.drop_table('process_instances')
    op.drop_table('person_roles')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_unit_id'))
        batch_op.drop_index(batch_op.f('ix_people_organisation_id'))

    op.drop_table('people')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_codes_organisation_id'))

    op.drop_table('authorization_codes')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_organisation_id'))

    op.drop_table('units')
    with op.batch_alter_table('authorization_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_categories_organisation_id'))

    op.drop_table('authorization_categories')
    with op.batch_alter_table('process_spec_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_spec_versions_process_id'))

    op.drop_table('process_spec_versions')
    op.drop_table('organisations')

