"""People's stable subject at the organisation's OpenID provider

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nobody has signed in through the provider yet: NULL for everyone; the first sign-in links by e-mail.
    # A plain ADD COLUMN and a unique index: no table rebuild of people, which many tables reference (SQLite).
    op.add_column('people', sa.Column('oidc_subject', sa.String(length=255), nullable=True))
    op.create_index('ix_people_oidc_subject', 'people', ['organisation_id', 'oidc_subject'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_people_oidc_subject', table_name='people')
    op.drop_column('people', 'oidc_subject')  # SQLite 3.35+ drops a column in place, no table rebuild
