"""audit_records.signature_ambiguous: v1 signatures that also verify for another split of the fields.

Revision ID: 0005
Revises: 0004

The reference Go client signs `traceId|timestamp|...|targetId|message|metadataJSON`; a `|` inside a
field moves the boundaries, so the signature also fits another event. The reference service
accepted such events and its client cannot learn of a refusal, so Argus now stores them too and
marks them here (docs/signatures.md). The flag is derived from hashed fields (the signature, the
format and the text fields), so it is not itself hashed. Existing rows get false: before this
revision such events were refused. A constant default is a catalog change, instant on any table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("signature_ambiguous", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("signature_ambiguous")
