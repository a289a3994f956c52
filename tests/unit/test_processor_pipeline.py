"""The replica's batch loop (processor/pipeline.py) and its faust app factory (processor/app.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from argus.runtime.settings import load_settings
from processor.app import create_app
from processor.decode import RawMessage
from processor.faust_seam import AGENT_NAME
from processor.pipeline import run_pipeline
from processor.prepare import PreparedBatch


def _batch(first: int) -> list[RawMessage]:
    return [RawMessage("t", 0, offset, None, b"", None) for offset in range(first, first + 3)]


async def _batches(count: int, until: asyncio.Event | None = None) -> AsyncIterator[list[RawMessage]]:
    for index in range(count):
        yield _batch(index * 3)
    if until is not None:  # the stream stays open until the last batch went through
        await until.wait()


async def test_every_batch_is_prepared_and_stored_once_in_the_order_consumed() -> None:
    stored: list[int] = []
    done = asyncio.Event()

    async def store(prepared: PreparedBatch) -> None:
        await asyncio.sleep(0.001 * (len(stored) % 3))  # uneven store times must not reorder
        stored.extend(m.offset for m in prepared.messages)
        if len(stored) == 60:
            done.set()

    def prepare(messages: list[RawMessage]) -> PreparedBatch:
        return PreparedBatch(messages, [])

    await asyncio.wait_for(run_pipeline(_batches(20, done), prepare, store), 30)
    assert stored == list(range(60))


async def test_a_failing_stage_stops_the_loop_instead_of_stalling_it() -> None:
    async def store(prepared: PreparedBatch) -> None:
        raise ValueError("a bug in the store step")

    with pytest.raises(ValueError, match="a bug"):
        await run_pipeline(_batches(50), lambda messages: PreparedBatch(messages, []), store)


def test_create_app_is_a_plain_factory() -> None:
    """No broker is reachable at this address: building the app must not try to reach it."""
    settings = load_settings({"ARGUS_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    app = create_app(settings)
    assert app.conf.id == settings.consumer_group and not app.agents and app.partition_starter is None
    assert AGENT_NAME == "processor.app.chain_and_store"  # faust's name for the agent, kept across the move
