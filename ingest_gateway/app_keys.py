"""Typed application keys: the gateway's resources, shared by handlers without globals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from argus.kafka.producer import AsyncProducer
from argus.runtime.settings import Settings, Token
from argus.trust.key_registry import KeyRegistry
from argus.trust.signatures import BatchVerifier as BatchVerifier
from ingest_gateway.known_ids import KnownIds
from ingest_gateway.read.record_store import ReadStore
from ingest_gateway.recent_ids import RecentIds

SETTINGS = web.AppKey("settings", Settings)
TOKENS = web.AppKey("tokens", tuple[Token, ...])
PRODUCER = web.AppKey("producer", AsyncProducer)
VERIFIER = web.AppKey("verifier", object)  # BatchVerifier | None; AppKey needs a runtime type
#: The key registry (keys and mustSign policy): the verify endpoint checks stored signatures with it.
KEY_REGISTRY = web.AppKey("key_registry", KeyRegistry)
RECEIPTS = web.AppKey("receipts", object)  # argus.trust.receipt_keys.ReceiptSigner | None: who signs receipts
READ_STORE = web.AppKey("read_store", ReadStore)
#: Separate bounded thread pools, so slow reads can never delay ingest (and the other way round):
#: signature checks run on INGEST_POOL, database reads on READ_POOL, neither on asyncio's default.
INGEST_POOL = web.AppKey("ingest_pool", ThreadPoolExecutor)
READ_POOL = web.AppKey("read_pool", ThreadPoolExecutor)
KNOWN_IDS = web.AppKey("known_ids", KnownIds)
RECENT_IDS = web.AppKey("recent_ids", RecentIds)
