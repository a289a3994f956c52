"""audit_records.kafka_topic: a record's Kafka position is (topic, partition, offset).

Revision ID: 0004
Revises: 0003

Until now the records' unique key was (kafka_partition, kafka_offset). A processor reading a new
or renamed topic against a database that already held another topic's records hit that key for
every offset both topics had used, and dead-lettered those events although the gateway had
acknowledged them. partition_commits, dead_letters and sink_progress already carry the topic;
now the records do too, and the unique key is (kafka_topic, kafka_partition, kafka_offset).

Backfill: every existing row gets the configured topic (ARGUS_TOPIC, or `topic=` passed to
`argus.db.migrate.upgrade`), added as the column's default so PostgreSQL writes no row (a
constant default is a catalog change, instant on any table size). Only a database whose
partition_commits name more than one topic also gets an UPDATE: each row takes the topic of the
commit that stored it (same partition and commit_seq, offset within that commit's range).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "audit_records"
OLD_KEY = "uq_audit_records_kafka_partition_kafka_offset"
NEW_KEY = "uq_audit_records_kafka_topic_kafka_partition_kafka_offset"


def _configured_topic() -> str:
    config = op.get_context().config
    topic = config.attributes.get("argus_topic") if config is not None else None
    if topic:
        return str(topic)
    from argus.runtime.settings import load_settings

    return load_settings().topic


def upgrade() -> None:
    topic = _configured_topic()
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("kafka_topic", sa.String(249), nullable=False, server_default=topic))
    bind = op.get_bind()
    topics = bind.execute(sa.text("SELECT count(DISTINCT topic) FROM partition_commits")).scalar_one()
    if topics > 1:
        bind.execute(
            sa.text(
                "UPDATE audit_records SET kafka_topic = ("
                " SELECT c.topic FROM partition_commits c"
                " WHERE c.kafka_partition = audit_records.kafka_partition"
                " AND c.commit_seq = audit_records.commit_seq"
                " AND audit_records.kafka_offset BETWEEN c.first_offset AND c.last_offset"
                " ORDER BY c.topic = :topic DESC LIMIT 1)"
                " WHERE EXISTS (SELECT 1 FROM partition_commits c"
                " WHERE c.kafka_partition = audit_records.kafka_partition"
                " AND c.commit_seq = audit_records.commit_seq"
                " AND audit_records.kafka_offset BETWEEN c.first_offset AND c.last_offset)"
            ),
            {"topic": topic},
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("kafka_topic", server_default=None, existing_type=sa.String(249), existing_nullable=False)
        batch.drop_constraint(OLD_KEY, type_="unique")
        batch.create_unique_constraint(NEW_KEY, ["kafka_topic", "kafka_partition", "kafka_offset"])


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(NEW_KEY, type_="unique")
        batch.create_unique_constraint(OLD_KEY, ["kafka_partition", "kafka_offset"])
        batch.drop_column("kafka_topic")
