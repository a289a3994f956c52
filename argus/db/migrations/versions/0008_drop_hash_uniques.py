"""Drop the unique constraints on current_hash and (actor_id, previous_hash): random-key indexes
that made every insert slower as the table grew (issue 16).

Revision ID: 0008
Revises: 0007

Why they can go: neither is read by any query, and neither guards anything the remaining keys
do not. A fork is two records of one actor with the same predecessor; every record the
processor writes has previous_hash = the current_hash of the actor's record at seq - 1, so two
records with one previous_hash have one seq, which the unique (actor_id, seq) already refuses
(a stale or zombie replica fails there, as docs/architecture.md describes). current_hash is a
SHA-256 over the record including its id, which the primary key keeps unique. A row written
around the processor with a forged link is found by `argus verify` and by the transparency
log's leaves (docs/transparency.md), with or without these indexes.

Why they cost: their keys are SHA-256 hex, so each insert lands on a random leaf page. Once
those indexes outgrow shared_buffers, nearly every insert reads a page from outside it and
dirties one that must be written back, and that cost grows with the table
(docs/benchmarks.md, "Cost grows with the table": EXPLAIN (ANALYZE, BUFFERS, WAL) of a
2,000-row batch). The other indexes are keyed by time, offset or actor and stay mostly cached.

Dropping a constraint is a catalog change (instant on any table size); the downgrade rebuilds
both indexes, which on a large table takes as long as a CREATE INDEX.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "audit_records"
CONSTRAINTS = {
    "uq_audit_records_current_hash": ["current_hash"],
    "uq_audit_records_actor_id_previous_hash": ["actor_id", "previous_hash"],
}


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        for name in CONSTRAINTS:
            batch.drop_constraint(name, type_="unique")


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        for name, columns in CONSTRAINTS.items():
            batch.create_unique_constraint(name, columns)
