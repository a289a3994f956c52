"""Console sink: each committed record as one JSON line on stdout (or stderr)."""

from __future__ import annotations

import sys
from typing import TextIO

import orjson

from sinks.base import Record
from sinks.formats import RENDERS, Render


class ConsoleSink:
    def __init__(self, name: str, stream: TextIO | None = None, render: Render = RENDERS["record"]) -> None:
        self.name = name
        self._stream = stream or sys.stdout
        self._render = render

    async def send(self, records: list[Record]) -> None:
        self._stream.write("".join(orjson.dumps(self._render(record)).decode() + "\n" for record in records))
        self._stream.flush()

    async def close(self) -> None:
        self._stream.flush()
