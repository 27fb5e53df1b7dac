"""Role profiles (tehtäväroolit) and their codes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Adds two new tables (role_profiles: a job and the title words that match it; role_profile_codes: the codes it
normally needs, with a reason each); existing tables and rows are untouched.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('role_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', JSON, nullable=False),
    sa.Column('description', JSON, nullable=False),
    sa.Column('job_titles', JSON, nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_role_profiles_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_profiles')),
    sa.UniqueConstraint('organisation_id', 'key', name=op.f('uq_role_profiles_organisation_id'))
    )
    with op.batch_alter_table('role_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_profiles_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('role_profile_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('reason', JSON, nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['authorization_codes.id'], name=op.f('fk_role_profile_codes_code_id_authorization_codes')),
    sa.ForeignKeyConstraint(['profile_id'], ['role_profiles.id'], name=op.f('fk_role_profile_codes_profile_id_role_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_profile_codes')),
    sa.UniqueConstraint('profile_id', 'code_id', name=op.f('uq_role_profile_codes_profile_id'))
    )
    with op.batch_alter_table('role_profile_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_profile_codes_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_profile_codes_profile_id'), ['profile_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('role_profile_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_profile_codes_profile_id'))
        batch_op.drop_index(batch_op.f('ix_role_profile_codes_code_id'))

    op.drop_table('role_profile_codes')
    with op.batch_alter_table('role_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_profiles_organisation_id'))

    op.drop_table('role_profiles')
