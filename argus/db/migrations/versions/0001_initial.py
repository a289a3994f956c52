"""Initial schema: audit_records, partition_commits, dead_letters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("actor_id", sa.String(1024), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("current_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.String(64), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trace_id", sa.String(36)),
        sa.Column("event_type", sa.String(1024)),
        sa.Column("action", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor_type", sa.String(1024), nullable=False),
        sa.Column("target_type", sa.String(1024), nullable=False),
        sa.Column("target_id", sa.String(1024)),
        sa.Column("message", sa.Text()),
        sa.Column("metadata", sa.Text()),
        sa.Column("signature", sa.Text()),
        sa.Column("signature_algorithm", sa.String(16)),
        sa.Column("public_key_id", sa.String(256)),
        sa.Column("signature_format", sa.String(8)),
        sa.Column("source", sa.String(256)),
        sa.Column("received_at", sa.String(64), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("commit_seq", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_records"),
        sa.UniqueConstraint("actor_id", "seq", name="uq_audit_records_actor_id_seq"),
        sa.UniqueConstraint("actor_id", "previous_hash", name="uq_audit_records_actor_id_previous_hash"),
        sa.UniqueConstraint("current_hash", name="uq_audit_records_current_hash"),
        sa.UniqueConstraint("kafka_partition", "kafka_offset", name="uq_audit_records_kafka_partition_kafka_offset"),
    )
    op.create_index("ix_audit_records_event_time", "audit_records", ["event_time"])
    op.create_table(
        "partition_commits",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("commit_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", "commit_seq", name="pk_partition_commits"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("key", sa.LargeBinary()),
        sa.Column("rejected_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition", "kafka_offset", name="pk_dead_letters"),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("partition_commits")
    op.drop_index("ix_audit_records_event_time", table_name="audit_records")
    op.drop_table("audit_records")
