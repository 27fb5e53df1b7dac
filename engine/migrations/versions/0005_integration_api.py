"""integration api: tokens and idempotency keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Adds two new tables for /api/v1 (api_tokens: only the SHA-256 of each token; api_idempotency_keys: stored
responses of writes for 24 hours); existing tables and rows are untouched.
"""

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['people.id'], name=op.f('fk_api_tokens_created_by_id_people')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_api_tokens_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('api_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_api_idempotency_keys_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_api_idempotency_keys_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency_keys')),
    sa.UniqueConstraint('token_id', 'key', name=op.f('uq_api_idempotency_keys_token_id'))
    )
    with op.batch_alter_table('api_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('ix_api_idempotency_keys_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_idempotency_keys_organisation_id'), ['organisation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('api_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_idempotency_keys_organisation_id'))
        batch_op.drop_index('ix_api_idempotency_keys_created_at')

    op.drop_table('api_idempotency_keys')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_organisation_id'))

    op.drop_table('api_tokens')
