"""GET endpoints of the transparency log: checkpoints, inclusion proofs, consistency proofs, and
each partition's tree as C2SP tlog-tiles (`/api/tlog/<topic>/<partition>/` is a tlog-tiles log
prefix: `checkpoint` and `tile/<L>/<N>[.p/<W>]`), so tile-based tools read it as they read Tessera.

Handlers parse and shape; `log_store` computes the proofs from the stored tiles. Clients verify
them with argus_spec (merkle.verify_inclusion / verify_consistency, tlog.open_checkpoint)
against the log's public key; nothing here needs to be trusted (docs/transparency.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from argus_spec.merkle import HASH_SIZE
from argus_spec.tiles import parse_tile_path
from ingest_gateway.app_keys import READ_STORE, SETTINGS
from ingest_gateway.errors import error_response, json_response
from ingest_gateway.read import query_params as qp
from ingest_gateway.read.log_store import LogStore, ProofUnavailable
from ingest_gateway.read.query import _database_errors, _run

MAX_HISTORY = 1000
_SIZE = qp.integer(0, 2**63 - 1)
_PARTITION = qp.integer(0, 2**31 - 1)
CHECKPOINT_PARAMS: dict[str, qp.Parser] = {
    "topic": qp.text(249),
    "partition": _PARTITION,
    "afterSize": qp.integer(-1, 2**63 - 1),
    "limit": qp.integer(1, MAX_HISTORY),
}
PROOF_PARAMS: dict[str, qp.Parser] = {"treeSize": qp.integer(1, 2**63 - 1)}
CONSISTENCY_PARAMS: dict[str, qp.Parser] = {"topic": qp.text(249), "partition": _PARTITION, "first": _SIZE,
                                            "second": qp.integer(1, 2**63 - 1)}  # fmt: skip


def _store(request: web.Request) -> LogStore:
    return LogStore(request.app[READ_STORE].engine)


def _parse(request: web.Request, spec: dict[str, qp.Parser]) -> dict[str, Any]:
    return qp.parse_query(request.rel_url.query, spec)


def _bad(exc: qp.ParamError) -> web.Response:
    return error_response(400, "invalid_parameter", exc.message, field=exc.field)


def _unavailable(exc: ProofUnavailable) -> web.Response:
    error = "not_found" if exc.status == 404 else "invalid_parameter"
    return error_response(exc.status, error, exc.message, field=exc.field)


@_database_errors
async def checkpoints(request: web.Request) -> web.Response:
    """Latest checkpoint of every partition; with `partition`, that partition's history by size."""
    try:
        params = _parse(request, CHECKPOINT_PARAMS)
        if ("afterSize" in params or "limit" in params) and "partition" not in params:
            raise qp.ParamError("partition", "is required for a history (afterSize, limit)")
    except qp.ParamError as exc:
        return _bad(exc)
    store = _store(request)
    if "partition" not in params:
        latest = await _run(request, store.latest, params.get("topic"))
        return json_response({"checkpoints": latest})
    topic = params.get("topic", request.app[SETTINGS].topic)
    limit = params.get("limit", 100)
    found, more = await _run(request, store.history, topic, params["partition"], params.get("afterSize", -1), limit)
    return json_response({"topic": topic, "partition": params["partition"], "checkpoints": found,
                          "nextAfterSize": found[-1]["treeSize"] if more else None})  # fmt: skip


@_database_errors
async def inclusion(request: web.Request) -> web.Response:
    try:
        record_id = qp.uuid_text("id", request.match_info["id"])
        params = _parse(request, PROOF_PARAMS)
    except qp.ParamError as exc:
        return _bad(exc)
    try:
        proof = await _run(request, _store(request).inclusion, record_id, params.get("treeSize"))
    except ProofUnavailable as exc:
        return _unavailable(exc)
    if proof is None:
        return error_response(404, "not_found", f"no audit record with id {record_id}")
    return json_response(proof)


@_database_errors
async def consistency(request: web.Request) -> web.Response:
    try:
        params = _parse(request, CONSISTENCY_PARAMS)
        for name in ("partition", "first"):
            if name not in params:
                raise qp.ParamError(name, "is required")
    except qp.ParamError as exc:
        return _bad(exc)
    topic = params.get("topic", request.app[SETTINGS].topic)
    try:
        partition, first, second = params["partition"], params["first"], params.get("second")
        proof = await _run(request, _store(request).consistency, topic, partition, first, second)
    except ProofUnavailable as exc:
        return _unavailable(exc)
    return json_response(proof)


#: A tile of a given width never changes (C2SP tlog-tiles): clients and private caches keep it.
TILE_CACHE = "private, max-age=31536000, immutable"
_TOPIC = qp.text(249)


def _log_prefix(request: web.Request) -> tuple[str, int]:
    """(topic, partition) of `/api/tlog/{topic}/{partition}/...`; raises ParamError."""
    return _TOPIC("topic", request.match_info["topic"]), _PARTITION("partition", request.match_info["partition"])


@_database_errors
async def tile(request: web.Request) -> web.Response:
    """The hashes of one tile, exactly `width` of them (a partial tile is a prefix of the stored one)."""
    try:
        topic, partition = _log_prefix(request)
        try:
            level, index, width = parse_tile_path("tile/" + request.match_info["tile"])
        except ValueError as exc:
            raise qp.ParamError("tile", str(exc)) from None
    except qp.ParamError as exc:
        return _bad(exc)
    data = await _run(request, _store(request).tile, topic, partition, level, index)
    if data is None or len(data) < width * HASH_SIZE:
        return error_response(404, "not_found", f"partition {partition} of {topic} has no tile {level}/{index} "
                              f"of {width} hashes", field="tile")  # fmt: skip
    return web.Response(body=data[: width * HASH_SIZE], content_type="application/octet-stream",
                        headers={"Cache-Control": TILE_CACHE})  # fmt: skip


@_database_errors
async def log_checkpoint(request: web.Request) -> web.Response:
    """The partition's latest signed checkpoint as a note (with any witness cosignatures), as text."""
    try:
        topic, partition = _log_prefix(request)
    except qp.ParamError as exc:
        return _bad(exc)
    note = await _run(request, _store(request).latest_note, topic, partition)
    if note is None:
        return error_response(404, "not_found", f"partition {partition} of {topic} has no checkpoint yet")
    return web.Response(text=note, content_type="text/plain", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/checkpoints", checkpoints)
    app.router.add_get("/api/checkpoints/consistency", consistency)
    app.router.add_get(f"/api/audit-logs/{qp.path_param('id')}/proof", inclusion)
    prefix = f"/api/tlog/{qp.path_param('topic')}/{qp.path_param('partition')}"
    app.router.add_get(f"{prefix}/checkpoint", log_checkpoint)
    app.router.add_get(prefix + "/tile/{tile:.+}", tile)
