"""Authorization catalog rules: code lifecycle, replacements, warnings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Codes get their e-services, a warning about confusable codes (and which ones), what they replace or are
replaced by, whether the description was verified, and how and when they were withdrawn (status draft, active,
hidden or withdrawn); categories get a description. Existing rows keep their data: new columns have server
defaults and ``updated_at`` is filled with the time of the upgrade.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
SELF_REFERENCES = ('replaces_id', 'replaced_by_id')


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch): on SQLite a batch would recreate the table, and dropping the old one trips
    # over the authorizations that refer to it. Server defaults are constants so that SQLite accepts them.
    for column in _new_code_columns():
        op.add_column('authorization_codes', column)
    _add_self_references()
    op.add_column('authorization_categories', sa.Column('description', JSON, nullable=False, server_default='{}'))
    codes = sa.table('authorization_codes', sa.column('updated_at', engine.models.base.UtcDateTime(timezone=True)))
    op.execute(codes.update().values(updated_at=datetime.now(UTC)))


def _new_code_columns() -> list[sa.Column]:  # (fresh Column objects each time: a Column joins one table)
    return [
        sa.Column('services', JSON, nullable=False, server_default='[]'),
        sa.Column('warning', JSON, nullable=False, server_default='{}'),
        sa.Column('confusable_with', JSON, nullable=False, server_default='[]'),
        sa.Column('description_verified', sa.Boolean(), nullable=False, server_default='0'),
        sa.Column('withdrawal_policy', sa.String(length=16), nullable=True),
        sa.Column('withdrawn_on', sa.Date(), nullable=True),
        sa.Column('updated_at', engine.models.base.UtcDateTime(timezone=True), nullable=True),
    ]


def _add_self_references() -> None:
    """SQLite cannot add a foreign key to an existing table except inline in ADD COLUMN, so there the reference
    is written in the column."""
    if op.get_bind().dialect.name == 'sqlite':
        for column in SELF_REFERENCES:
            op.execute(
                f'ALTER TABLE authorization_codes ADD COLUMN {column} INTEGER REFERENCES authorization_codes (id)'
            )
        return
    for column in SELF_REFERENCES:
        op.add_column('authorization_codes', sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f'fk_authorization_codes_{column}_authorization_codes'),
            'authorization_codes', 'authorization_codes', [column], ['id'],
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.drop_column('authorization_categories', 'description')
    for column in SELF_REFERENCES:
        if not sqlite:
            op.drop_constraint(op.f(f'fk_authorization_codes_{column}_authorization_codes'), 'authorization_codes',
                               type_='foreignkey')
        op.drop_column('authorization_codes', column)
    for column in reversed(_new_code_columns()):
        op.drop_column('authorization_codes', column.name)
