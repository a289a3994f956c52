"""Read the transparency log from a gateway: checkpoints, proofs and tiles (standard library only).

Answers are returned as the gateway sends them; check them with argus_spec.proofs (or, for
tiles, by recomputing a signed checkpoint's root from them) against the log's verifier key
before relying on them.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from argus_spec.tiles import TileId, TileReader, tile_path, tile_width


class LogClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = timeout

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, headers=self._headers)
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            return json.loads(response.read())

    def _get_bytes(self, path: str) -> bytes:
        headers = {**self._headers, "Accept": "*/*"}
        request = urllib.request.Request(f"{self._base}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            data: bytes = response.read()
            return data

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body (a witness submitting its cosignature); HTTP errors raise."""
        data = json.dumps(body).encode()
        headers = {**self._headers, "Content-Type": "application/json"}
        request = urllib.request.Request(f"{self._base}{path}", data=data, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            return json.loads(response.read())

    def checkpoints(
        self, partition: int | None = None, *, topic: str | None = None, after_size: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Latest checkpoint of every partition; with `partition`, its history (paged by `after_size`)."""
        result: dict[str, Any] = self._get("/api/checkpoints", topic=topic, partition=partition,
                                           afterSize=after_size, limit=limit)  # fmt: skip
        return result

    def inclusion_proof(self, record_id: str, tree_size: int | None = None) -> dict[str, Any]:
        """Leaf index, audit path and the checkpoint of `tree_size` (default: the latest)."""
        result: dict[str, Any] = self._get(f"/api/audit-logs/{urllib.parse.quote(record_id)}/proof",
                                           treeSize=tree_size)  # fmt: skip
        return result

    def consistency_proof(
        self, partition: int, first: int, second: int | None = None, *, topic: str | None = None
    ) -> dict[str, Any]:
        """Proof that the checkpoint of size `second` (default: the latest) extends the one of size `first`."""
        result: dict[str, Any] = self._get("/api/checkpoints/consistency", topic=topic, partition=partition,
                                           first=first, second=second)  # fmt: skip
        return result

    def _log_prefix(self, topic: str, partition: int) -> str:
        return f"/api/tlog/{urllib.parse.quote(topic, safe='')}/{partition}"

    def log_checkpoint(self, topic: str, partition: int) -> str:
        """The partition's latest signed checkpoint note (C2SP tlog-tiles `<prefix>/checkpoint`)."""
        return self._get_bytes(f"{self._log_prefix(topic, partition)}/checkpoint").decode()

    def tile(self, topic: str, partition: int, level: int, index: int, width: int = 256) -> bytes:
        """The `width` hashes of one tile of the partition's tree (C2SP tlog-tiles)."""
        return self._get_bytes(f"{self._log_prefix(topic, partition)}/{tile_path(level, index, width)}")

    def tile_reader(self, topic: str, partition: int, size: int) -> TileReader:
        """Reads the tiles of the partition's tree of `size` leaves, each as wide as that tree has it
        (for tiles.tile_node_source: any root or proof up to `size` from the served tiles)."""

        def read(ids: Sequence[TileId]) -> dict[TileId, bytes]:
            return {(level, index): self.tile(topic, partition, level, index, tile_width(size, level, index))
                    for level, index in ids if tile_width(size, level, index)}  # fmt: skip

        return read
