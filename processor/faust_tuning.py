"""Two per-message costs of faust that Argus never uses, removed at seams faust offers.

Profiled at saturation (docs/benchmarks.md), the processor's event-loop thread spent about a third
of its time on these, for every message:

1. The default `Monitor` sensor times and counts every message and stream event (per-stream
   string keys, time stamps, deques). Nothing reads it here: Argus exports its own Prometheus
   metrics. `QuietMonitor` keeps faust's Monitor (commits, rebalances, tables) but does nothing
   per message. faust.App takes it as `monitor=`.
2. The fetcher awaits each message's delivery as `wait_first(deliver(message), suspend_flow.wait())`,
   two tasks and an `asyncio.wait` per message, so that a delivery blocked on a full stream
   buffer is abandoned when a rebalance suspends the flow. A delivery can only block when the
   flow is suspended or a stream buffer is full; `LeanConsumer` awaits the delivery directly
   when neither holds and keeps faust's `wait_first` for the rest, so its rebalance behaviour is
   unchanged. Correctness never depended on it anyway: positions come from the database
   (processor/resume.py) and a stale message from a revoked partition is refused by the
   partition-progress constraint (processor/store.py).

`_drain_messages` overrides a method of faust-streaming 0.15.x, hence the pin `<0.16` in
pyproject.toml; tests/unit/test_faust_tuning.py fails if faust's own version changes shape.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import faust
from faust.sensors import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode import Service, ServiceT

from processor.resume import PartitionStarter


class QuietMonitor(Monitor):
    """faust's Monitor without its per-message and per-event bookkeeping."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> dict[Any, Any] | None:
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: Any, event: Any, state: dict[Any, Any] | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None


class LeanConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; messages that cannot block are delivered without wait_first, and
    partitions start where the app's `PartitionStarter` says (processor/resume.py)."""

    async def perform_seek(self) -> None:
        """faust's seek to the committed offsets, then ours to the database's progress."""
        await super().perform_seek()
        starter = cast(ArgusFaustApp, self.app).partition_starter
        if starter is not None:
            await starter.position(self)

    def _can_block(self) -> bool:
        """True when a delivery might wait: flow suspended (rebalance) or a stream buffer full."""
        if self.suspend_flow.is_set() or not self.app.flow_control.is_active():
            return True
        channels = self.app.topics._topics  # type: ignore[attr-defined]  # the Conductor's subscribed channels
        return any(channel.queue.full() for channel in channels)

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - faust's loop
        """faust 0.15.3's `Consumer._drain_messages`, with the direct-delivery fast path."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        can_block = self._can_block
        yield_every, num_since_yield = 100, 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)  # getmany may be called in a loop that never yields otherwise
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if can_block():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                await callback(message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class LeanTransport(faust_aiokafka.Transport):
    Consumer = LeanConsumer


class ArgusFaustApp(faust.App):
    """faust.App with the lean consumer (the monitor is passed in as `monitor=QuietMonitor()`);
    set `partition_starter` before the worker starts."""

    partition_starter: PartitionStarter | None = None

    def _new_transport(self) -> Any:
        return LeanTransport(self.conf.broker_consumer, self)
