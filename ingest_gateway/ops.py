"""Public operational endpoints: liveness, readiness (Kafka reachable), version, Prometheus metrics."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest_gateway.app_keys import PRODUCER, SETTINGS
from ingest_gateway.errors import error_response, json_response


def argus_version() -> str:
    try:
        return version("argus")
    except PackageNotFoundError:
        return "0+unknown"


async def health(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    producer = request.app[PRODUCER]
    topic = request.app[SETTINGS].topic
    try:
        metadata = await asyncio.to_thread(producer.list_topics, 3.0)
    except Exception as exc:
        return error_response(503, "not_ready", f"Kafka is not reachable: {exc}", headers={"Retry-After": "5"})
    if not metadata.brokers:
        return error_response(503, "not_ready", "Kafka has no brokers", headers={"Retry-After": "5"})
    return json_response({"status": "ready", "kafka": {"brokers": len(metadata.brokers), "topic": topic}})


async def version_info(_request: web.Request) -> web.Response:
    return json_response({"name": "argus", "version": argus_version()})


async def metrics_endpoint(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
