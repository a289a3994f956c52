"""S3 sink with Object Lock (write once, read many): committed records as gzip NDJSON objects,
one per partition and commit range (layout in sinks/s3_layout.py), each locked for the configured
retention in the configured mode. The bucket must have Object Lock enabled (which implies
versioning): the sink checks it before its first write and refuses to write to one without,
because an unlocked copy would not be the tamper-proof archive auditors are promised.

A range sink: its lane reads the records back from the database (sinks/durable.py), so every
object is exactly one partition's commits first..through. The records object goes first, its
manifest second; a crash between the two re-sends the range, rewriting both keys (with Object
Lock a rewrite adds an identical version; the locked one stays).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from sinks import s3_layout
from sinks.base import Record, TreeHead
from sinks.s3_config import S3Config


class S3Sink:
    def __init__(self, name: str, config: S3Config) -> None:
        self.name = name
        self.config = config
        self.interval = config.interval
        self._client: Any = None
        self._checked = False

    async def send(self, records: list[Record]) -> None:
        raise TypeError("the S3 sink writes commit ranges: it needs a durable lane (send_range)")

    async def send_range(self, partition: int, first_seq: int, through_seq: int, records: list[Record],
                         tree: TreeHead | None = None) -> None:  # fmt: skip
        await asyncio.to_thread(self._write, partition, first_seq, through_seq, records, tree)

    def _write(self, partition: int, first_seq: int, through_seq: int, records: list[Record],
               tree: TreeHead | None) -> None:  # fmt: skip
        if self._client is None:
            self._client = self.config.client()
        if not self._checked:
            self._check_bucket()
        blob, manifest = s3_layout.encode(partition, first_seq, through_seq, records, self.config.format, tree)
        records_key, manifest_key = s3_layout.keys(self.config.prefix, partition, first_seq, through_seq)
        lock = {
            "ObjectLockMode": self.config.mode,
            "ObjectLockRetainUntilDate": datetime.now(UTC) + timedelta(days=self.config.retention_days),
        }
        self._client.put_object(
            Bucket=self.config.bucket, Key=records_key, Body=blob, ContentType="application/gzip",
            Metadata={"argus-sha256": manifest["sha256"], "argus-records": str(len(records))},
            ChecksumAlgorithm="SHA256", **lock,
        )  # fmt: skip
        self._client.put_object(
            Bucket=self.config.bucket, Key=manifest_key, Body=orjson.dumps(manifest),
            ContentType="application/json", ChecksumAlgorithm="SHA256", **lock,
        )  # fmt: skip

    def _check_bucket(self) -> None:
        found = self._client.get_object_lock_configuration(Bucket=self.config.bucket)
        if found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise RuntimeError(f"bucket {self.config.bucket!r} has no Object Lock: refusing to write")
        self._checked = True

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
