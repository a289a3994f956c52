"""Read the transparency log from a gateway: checkpoints and proofs (standard library only).

Answers are returned as the JSON the gateway sends; check them with argus_client.proofs
against the log's verifier key before relying on them.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


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
