"""The gateway application factory: `init(settings) -> web.Application`.

Resources (the Kafka producer, the key registry) open and close with the app;
handlers reach them through typed AppKeys, so there are no module globals to leak between apps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from argus.kafka.admin import ensure_topic
from argus.kafka.producer import AsyncProducer, durable_producer_config
from argus.runtime import logs
from argus.runtime.settings import Settings
from argus.trust.key_registry import KeyRegistry
from argus.trust.receipt_keys import load_receipt_signer
from argus.trust.signatures import load_key_registry, make_batch_verifier, watch_for_reload
from ingest_gateway import ingest, metrics, openapi, ops, server, tracing
from ingest_gateway.app_keys import (
    INGEST_POOL,
    KEY_REGISTRY,
    KNOWN_IDS,
    PRODUCER,
    RECEIPTS,
    RECENT_IDS,
    SETTINGS,
    TOKENS,
    VERIFIER,
)
from ingest_gateway.auth import authenticate
from ingest_gateway.errors import error_response
from ingest_gateway.known_ids import KnownIds
from ingest_gateway.read import cosign_api, log_api, query
from ingest_gateway.recent_ids import RecentIds

log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # metric labels stay bounded
INGEST_THREADS = 4  # signature checks release the GIL; more threads than cores gain nothing
PUBLIC_PATHS = frozenset({"/health", "/ready", "/version", "/metrics", "/openapi.json"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer is JSON and counted: aiohttp's HTTP errors (404, 405 with Allow, 413...), bodies
    it cannot read (a bad gzip stream, a client gone mid-body) and any unexpected failure (500)."""
    started = time.perf_counter()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = "499"  # stays so only if the handler is cancelled (the client left)
    try:
        response = await _answer(request, handler)
        status = str(response.status)
    finally:
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.HTTP_REQUESTS.labels(method, route, status).inc()
        metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in server.SUPPORTED_ENCODINGS:
        return error_response(415, "unsupported_content_encoding", server.UNSUPPORTED_ENCODING)
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(413, "payload_too_large", exc.text or "request body too large", field="$")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason, headers=allow)
    except server.CLIENT_ERRORS as exc:
        log.warning("could not read the request body from %s: %s", request.remote, server.describe_client_error(exc))
        response = error_response(400, "malformed_body", "the request body could not be read (bad encoding, cut short)")
        response.force_close()  # the rest of the body is unreadable: this connection cannot carry another request
        return response
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the gateway failed to handle the request")


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    token = authenticate(request.headers.get("Authorization"), request.app[TOKENS])
    if token is None:
        return error_response(
            401, "unauthorized", "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    required = "ingest" if request.method == "POST" else "read"
    if required not in token.scopes:
        return error_response(403, "forbidden", f"token {token.name!r} lacks the {required!r} scope")
    request[ingest.SOURCE_KEY] = token.name
    logs.bind(token=token.name)
    return await handler(request)


def init(settings: Settings, *, registry: KeyRegistry | None = None) -> web.Application:
    """Build the gateway app. The producer opens on startup; the topic is created if missing.

    Signatures are checked against `registry` (default: ARGUS_KEYS_CONFIG, reloaded on SIGHUP)
    unless ARGUS_GATEWAY_VERIFY_SIGNATURES is off; its mustSign policy is enforced either way.
    """
    app = web.Application(
        middlewares=[tracing.request_context, errors_as_json, bearer_auth], client_max_size=settings.max_body_bytes
    )
    registry = registry or load_key_registry(settings)
    app[SETTINGS] = settings
    app[TOKENS] = settings.tokens()
    app[RECENT_IDS] = RecentIds(settings.recent_ids)
    app[VERIFIER] = make_batch_verifier(settings, registry, signatures=settings.gateway_verify_signatures)
    app[KEY_REGISTRY] = registry
    app[RECEIPTS] = load_receipt_signer(settings)
    if app[RECEIPTS] is None:
        log.warning("no ARGUS_RECEIPT_KEY: no receipts are issued, so no source is attested (docs/receipts.md)")
    if not app[TOKENS]:
        log.warning("no ARGUS_AUTH_TOKEN(S) configured: every authenticated endpoint answers 401 (fail-closed)")

    async def kafka_producer(app: web.Application) -> AsyncIterator[None]:
        try:
            ensure_topic(
                settings.kafka_client_config(),
                settings.topic,
                settings.topic_partitions,
                timeout=10,
                max_message_bytes=settings.kafka_max_message_bytes,
            )
        except Exception as exc:  # the gateway still starts; /ready and 503s report Kafka's absence
            log.warning("could not ensure topic %s: %s", settings.topic, exc)
        config = durable_producer_config(
            settings.kafka_client_config(),
            delivery_timeout=settings.produce_timeout,
            max_message_bytes=settings.kafka_max_message_bytes,
        )
        app[PRODUCER] = AsyncProducer(config, observe_latency=metrics.PRODUCE_LATENCY.observe)
        yield
        app[PRODUCER].close(timeout=settings.produce_timeout)

    async def ingest_pool(app: web.Application) -> AsyncIterator[None]:
        with ThreadPoolExecutor(INGEST_THREADS, thread_name_prefix="ingest") as pool:
            app[INGEST_POOL] = pool
            yield

    async def known_ids(app: web.Application) -> AsyncIterator[None]:
        # the primary: a replica may lag behind
        app[KNOWN_IDS] = KnownIds(settings.database_url, statements=app[RECEIPTS] is not None)
        yield
        app[KNOWN_IDS].close()

    async def reload_keys_on_sighup(_app: web.Application) -> None:
        watch_for_reload(registry)

    app.cleanup_ctx.append(kafka_producer)
    app.cleanup_ctx.append(ingest_pool)
    app.cleanup_ctx.append(known_ids)
    app.on_startup.append(reload_keys_on_sighup)
    app.router.add_get("/health", ops.health)
    app.router.add_get("/ready", ops.ready)
    app.router.add_get("/version", ops.version_info)
    app.router.add_get("/metrics", ops.metrics_endpoint)
    app.router.add_post("/api/audit-logs", ingest.create_one)
    app.router.add_post("/api/audit-logs/bulk", ingest.create_bulk)
    query.add_routes(app)
    log_api.add_routes(app)
    cosign_api.add_routes(app)
    app.router.add_get("/openapi.json", openapi.serve)
    return app
