"""The faust-streaming application of one processor replica: a plain factory, no I/O.

Faust brings the consumer group, rebalancing and batching; correctness does not depend on
its offset commits. The database holds each partition's progress (committed with the records),
and after every assignment the consumer is moved to the stored offset + 1 (processor/resume.py),
through processor/faust_seam.py, the one module that touches faust's internals. What runs on
the app (the agent, the timers, the rebalance callbacks) is wired in processor/replica.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from argus.runtime.settings import Settings
from processor.faust_seam import ArgusFaustApp, broker_credentials

#: faust's stream buffer, in batches. faust stops fetching a partition once its buffer is 80% full
#: and resumes only when the buffer is found empty, so a buffer of two batches stalled the agent
#: on a fetch round trip every other batch: draining 60,000 events ran at 7,988 events/s with 2
#: batches, 8,682 with 5, 11,987 with 10 and 11,873 with 20 (docs/benchmarks.md). Ten batches of
#: raw envelopes are ~30 MB.
STREAM_BUFFER_BATCHES = 10


def create_app(settings: Settings) -> ArgusFaustApp:
    """The faust app, configured from `settings`; nothing runs on it yet and nothing is connected
    (its only side effect: faust's data directory, a temporary one, exists)."""
    datadir = Path(tempfile.gettempdir()) / "argus-faust" / settings.consumer_group  # unused by a memory store
    datadir.mkdir(parents=True, exist_ok=True)
    return ArgusFaustApp(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings.kafka_client_config()),
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        topic_disable_leader=True,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=max(1 << 20, settings.kafka_max_message_bytes),  # a fetch holds the largest record
        stream_buffer_maxsize=STREAM_BUFFER_BATCHES * settings.batch_size,
        broker_commit_interval=1.0,
        # A rebalance does not wait for the agent to finish the batches it holds: while the
        # database is down they cannot finish, and the member would stall the whole group until
        # it is expelled. Safe, because partitions restart from the database's progress and a
        # stale batch of a revoked partition conflicts on the progress constraint (store.py).
        stream_wait_empty=False,
        # A replica that dies without leaving the group is replaced after this long.
        broker_session_timeout=settings.processor_session_timeout,
        broker_heartbeat_interval=settings.processor_session_timeout / 4,
    )
