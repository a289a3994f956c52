"""Which of a request's ids are stored already, and with what content: a primary-key lookup.

Its own engine (two connections) and its own two threads, so an ingest request never waits
behind the read API's queries or executor. The lookup is a courtesy that lets the gateway answer
a retry or a conflict at once (200/409); the processor is the authority (it skips a retry and
dead-letters a conflict that got past). So a lookup that fails or takes longer than
LOOKUP_TIMEOUT_SECONDS is counted and skipped, never a reason to refuse an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from sqlalchemy.exc import SQLAlchemyError

from argus.db.engine import is_sqlite, make_engine
from argus.trust.identity import stored_digests
from argus.trust.receipt_keys import stored_statements
from ingest_gateway import metrics

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 1.0
POOL_SIZE = 2


class Known(NamedTuple):
    """A stored id's content digest and, when receipts are issued, its receipt statement."""

    digest: bytes
    statement: dict[str, Any] | None


class KnownIds:
    """`await known.digests(ids)` -> {stored id: Known}, or None if the store did not answer.

    With `statements`, a stored id also comes with what its receipt says (source, receivedAt,
    position, attestation), read only for the ids found, so a retry's 200 carries a receipt too.
    """

    def __init__(self, database_url: str, *, statements: bool = False) -> None:
        self._statements = statements
        self._postgres = not is_sqlite(database_url)
        options: dict[str, Any] = {}
        if self._postgres:
            options.update(pool_size=POOL_SIZE, max_overflow=0, pool_timeout=LOOKUP_TIMEOUT_SECONDS)
        self._engine = make_engine(database_url, **options)
        self._executor = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="known-ids")

    def _lookup(self, ids: Sequence[str]) -> dict[str, Known]:
        with self._engine.connect() as connection:
            if self._postgres:  # the server gives up too, so a stuck lookup frees its connection
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(LOOKUP_TIMEOUT_SECONDS * 1000)}")
            digests = stored_digests(connection, ids)
            statements = stored_statements(connection, sorted(digests)) if digests and self._statements else {}
        return {key: Known(digest, statements.get(key)) for key, digest in digests.items()}

    async def digests(self, ids: Sequence[str]) -> dict[str, Known] | None:
        if not ids:
            return {}
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._lookup, ids), LOOKUP_TIMEOUT_SECONDS
            )
        except (TimeoutError, SQLAlchemyError) as exc:
            metrics.ID_LOOKUP_FAILURES.inc()
            log.warning("id lookup skipped (the processor still deduplicates): %s", exc)
            return None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._engine.dispose()
