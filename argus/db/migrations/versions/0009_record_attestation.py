"""audit_records.attestation and unattested_claim: the gateway's signed word on source and receivedAt.

Revision ID: 0009
Revises: 0008

`attestation` holds the gateway's receipt-key signature over (id, contentHash, source,
receivedAt), verified by the processor before chaining (docs/receipts.md); NULL means nobody
vouched for the record's `source` and `receivedAt`. `unattested_claim` marks a record whose
envelope claimed a source or receivedAt without a valid attestation: the claim was not stored
(`source` NULL, `receivedAt` from the Kafka timestamp). Neither column is hashed: the attestation
is checked against the hashed fields it signs, and the flag is forensic. Both are catalog-only
changes (a nullable column, a constant default), instant on any table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("attestation", sa.Text(), nullable=True))
        batch.add_column(sa.Column("unattested_claim", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("unattested_claim")
        batch.drop_column("attestation")
