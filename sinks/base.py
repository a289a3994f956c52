"""The sink contract. PostgreSQL is the critical store inside the processor's transaction;
every sink here is a *non-critical* copy that receives records only after they committed."""

from __future__ import annotations

from typing import Any, Protocol

Record = dict[str, Any]


class Sink(Protocol):
    """A destination for committed records. `send` raises on failure; the fan-out retries."""

    name: str

    async def send(self, records: list[Record]) -> None: ...

    async def close(self) -> None: ...
