"""registry overview and import

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Adds the registry's remarks, origin and review dates to authorizations (existing rows keep their data:
the new columns get defaults, and active authorizations get their next review computed as the
registration or start date plus 12 months, never later than the end date), and the upload table used
between an import's preview and its confirmation.
"""

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', engine.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_import_uploads_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['people.id'], name=op.f('fk_import_uploads_uploaded_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_uploads'))
    )
    with op.batch_alter_table('import_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_uploads_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='request'))
        batch_op.add_column(sa.Column('holder_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_reviewed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('next_review_on', sa.Date(), nullable=True))
        batch_op.create_index('ix_authorizations_org_status_review', ['organisation_id', 'status', 'next_review_on'], unique=False)
        batch_op.create_index('ix_authorizations_org_status_until', ['organisation_id', 'status', 'valid_until'], unique=False)
        batch_op.create_index('ix_authorizations_org_holder_name', ['organisation_id', 'holder_name', 'id'], unique=False)
        batch_op.create_index('ix_authorizations_org_unit_status', ['organisation_id', 'unit_id', 'status', 'code_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_authorizations_unit_id_units'), 'units', ['unit_id'], ['id'])

    _backfill_next_review()
    # the holder's name and unit, copied for the lists
    op.execute(
        "UPDATE authorizations SET "
        "holder_name = (SELECT people.name FROM people WHERE people.id = authorizations.holder_id), "
        "unit_id = (SELECT people.unit_id FROM people WHERE people.id = authorizations.holder_id)"
    )


def _backfill_next_review() -> None:
    import calendar

    table = sa.table(
        'authorizations',
        sa.column('id', sa.Integer),
        sa.column('status', sa.String),
        sa.column('registered_on', sa.Date),
        sa.column('valid_from', sa.Date),
        sa.column('valid_until', sa.Date),
        sa.column('next_review_on', sa.Date),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(table.c.id, table.c.registered_on, table.c.valid_from, table.c.valid_until).where(
            table.c.status == 'active'
        )
    ).all()
    for row in rows:
        base = row.registered_on or row.valid_from
        if base is None:
            continue
        month = base.month + 12
        year = base.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        due = base.replace(year=year, month=month, day=min(base.day, calendar.monthrange(year, month)[1]))
        if row.valid_until is not None and row.valid_until < due:
            due = row.valid_until
        connection.execute(sa.update(table).where(table.c.id == row.id).values(next_review_on=due))


def downgrade() -> None:
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_authorizations_unit_id_units'), type_='foreignkey')
        batch_op.drop_index('ix_authorizations_org_unit_status')
        batch_op.drop_index('ix_authorizations_org_holder_name')
        batch_op.drop_index('ix_authorizations_org_status_until')
        batch_op.drop_index('ix_authorizations_org_status_review')
        batch_op.drop_column('next_review_on')
        batch_op.drop_column('last_reviewed_on')
        batch_op.drop_column('unit_id')
        batch_op.drop_column('holder_name')
        batch_op.drop_column('source')
        batch_op.drop_column('notes')

    with op.batch_alter_table('import_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_uploads_organisation_id'))

    op.drop_table('import_uploads')
