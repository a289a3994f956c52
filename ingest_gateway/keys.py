"""Typed application keys: the gateway's resources, shared by handlers without globals."""

from __future__ import annotations

from aiohttp import web

from argus.config import Settings, Token
from argus.kafka_producer import AsyncProducer
from argus.signatures import BatchVerifier as BatchVerifier
from ingest_gateway.read_store import ReadStore

SETTINGS = web.AppKey("settings", Settings)
TOKENS = web.AppKey("tokens", tuple[Token, ...])
PRODUCER = web.AppKey("producer", AsyncProducer)
VERIFIER = web.AppKey("verifier", object)  # BatchVerifier | None; AppKey needs a runtime type
READ_STORE = web.AppKey("read_store", ReadStore)
