"""merkle_tiles, merkle_trees, checkpoints: a verifiable log per topic partition (docs/transparency.md).

Revision ID: 0006
Revises: 0005

The processor appends each committed record's leaf to its partition's RFC 9162 Merkle tree and
writes the changed tiles, the tree head and (when due) a signed checkpoint in the batch
transaction. A few rows per batch and partition: no index on audit_records changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merkle_tiles",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tile_index", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", "level", "tile_index", name="pk_merkle_tiles"),
    )
    op.create_table(
        "merkle_trees",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("commit_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", name="pk_merkle_trees"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("commit_seq", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", "tree_size", name="pk_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_table("merkle_trees")
    op.drop_table("merkle_tiles")
