"""Process versions deployed by process owners

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows were shipped from processes/: no deployer, an empty note, no recorded changes (NULL).
    with op.batch_alter_table('process_spec_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deployed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('change_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(
            sa.Column(
                'changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_process_spec_versions_deployed_by_id_people'), 'people', ['deployed_by_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('process_spec_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_process_spec_versions_deployed_by_id_people'), type_='foreignkey')
        batch_op.drop_column('changes')
        batch_op.drop_column('change_note')
        batch_op.drop_column('deployed_by_id')
