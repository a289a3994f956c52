"""Typed application keys: the gateway's resources, shared by handlers without globals."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from argus.config import Settings, Token
from argus.kafka_producer import AsyncProducer

#: Verifies a batch of normalized events; returns None per event that verifies, else the reason.
BatchVerifier = Callable[[list[dict[str, object]]], list[str | None]]

SETTINGS = web.AppKey("settings", Settings)
TOKENS = web.AppKey("tokens", tuple[Token, ...])
PRODUCER = web.AppKey("producer", AsyncProducer)
VERIFIER = web.AppKey("verifier", object)  # BatchVerifier | None; AppKey needs a runtime type
