"""The batches' way through one replica: consume → prepare → store (→ publish), overlapped.

faust consumes batch N+2 on the event loop while a worker thread prepares (decodes, validates,
verifies) batch N+1 and another stores batch N (then publishes it). Each hand-over holds
PIPELINE_DEPTH batches, and batches are stored strictly in the order consumed.

faust acknowledges a batch once it is handed over, before it is stored; that is safe because
positions come from the database (processor/resume.py), never from those acks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from processor.decode import RawMessage
from processor.prepare import PreparedBatch

#: Batches waiting at each hand-over (consumed -> prepare -> store); bounds memory and redelivery.
PIPELINE_DEPTH = 1

Prepare = Callable[[list[RawMessage]], PreparedBatch]
Store = Callable[[PreparedBatch], Awaitable[None]]


async def run_pipeline(batches: AsyncIterator[list[RawMessage]], prepare: Prepare, store: Store) -> None:
    """Pass every consumed batch through `prepare` (in a worker thread) and `store`, in order."""
    to_prepare: asyncio.Queue[list[RawMessage]] = asyncio.Queue(maxsize=PIPELINE_DEPTH)
    to_store: asyncio.Queue[PreparedBatch] = asyncio.Queue(maxsize=PIPELINE_DEPTH)

    async def prepared(messages: list[RawMessage]) -> PreparedBatch:
        return await asyncio.to_thread(prepare, messages)

    stages = {
        asyncio.ensure_future(_forever(to_prepare, prepared, to_store)),
        asyncio.ensure_future(_forever(to_store, store)),
    }
    try:
        async for messages in batches:
            put = asyncio.ensure_future(to_prepare.put(messages))
            await asyncio.wait({put, *stages}, return_when=asyncio.FIRST_COMPLETED)
            for stage in stages:
                if stage.done():  # a bug in a stage must stop the worker, not silently stall it
                    put.cancel()
                    stage.result()
                    raise RuntimeError("a pipeline stage ended unexpectedly")
    finally:
        for stage in stages:
            stage.cancel()


async def _forever(inbox: asyncio.Queue[Any], work: Any, outbox: asyncio.Queue[Any] | None = None) -> None:
    """One pipeline stage: take an item, work on it, pass the result on (in order, one at a time)."""
    while True:
        result = await work(await inbox.get())
        if outbox is not None:
            await outbox.put(result)
