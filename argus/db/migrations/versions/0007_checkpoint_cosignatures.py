"""checkpoint_cosignatures: witness cosignatures on stored checkpoints (docs/witness.md).

Revision ID: 0007
Revises: 0006

The gateway stores a witness's C2SP tlog-cosignature line once it verified it against the stored
checkpoint and a configured witness key; GET /api/checkpoints serves the notes with them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(255), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("signature_line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", "tree_size", "witness", name="pk_checkpoint_cosignatures"),
    )


def downgrade() -> None:
    op.drop_table("checkpoint_cosignatures")
