"""POST /api/checkpoints/cosignatures: the log collects its witnesses' cosignatures.

A witness (`argus witness`, docs/witness.md) posts a checkpoint note carrying its C2SP
tlog-cosignature line. The gateway stores a line only when the note's text is exactly a stored
checkpoint and the line verifies with a witness key configured in ARGUS_WITNESS_KEYS, so the
endpoint cannot be used to attach anything else; GET /api/checkpoints then serves the cosigned
notes. Cosignatures are self-authenticating: storing them needs only an `ingest` token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from argus.db.engine import make_engine
from argus.tlog.store import add_cosignature, checkpoint_at
from argus_spec.cosignature import WitnessVerifier, split_note, verified_cosignatures
from argus_spec.note import NoteError
from argus_spec.tlog import Checkpoint, parse_origin
from ingest_gateway.app_keys import SETTINGS
from ingest_gateway.errors import error_response, json_response
from ingest_gateway.ingest import _read_json
from ingest_gateway.read.query import _database_errors, _run

WRITE_ENGINE = web.AppKey("cosign_engine", Engine)
WITNESSES = web.AppKey("witness_keys", list)


def parse_witness_keys(value: str | None) -> list[WitnessVerifier]:
    """Witness verifier keys: whitespace- or comma-separated, or the path of a file holding them."""
    if not value:
        return []
    path = Path(value)
    text = path.read_text(encoding="utf-8") if "+" not in value and path.exists() else value
    return [WitnessVerifier.parse(key) for key in text.replace(",", " ").split()]


def _store(engine: Engine, note: str, witnesses: list[WitnessVerifier]) -> tuple[int, str] | web.Response:
    text, _ = split_note(note)
    checkpoint = Checkpoint.parse(text)
    _, topic, partition = parse_origin(checkpoint.origin)
    found = verified_cosignatures(note, witnesses)
    if not found:
        return error_response(400, "invalid_cosignature", "no cosignature by a configured witness key", field="note")
    with engine.begin() as connection:
        stored = checkpoint_at(connection, topic, partition, checkpoint.size)
        if stored is None:
            return error_response(404, "not_found", f"no checkpoint of size {checkpoint.size} for {checkpoint.origin}")
        if split_note(stored.note)[0] != text:
            return error_response(409, "conflict", "the note's text is not the stored checkpoint", field="note")
        added = sum(add_cosignature(connection, stored, c.key, c.line) for c in found)
    return added, checkpoint.origin


@_database_errors
async def post_cosignatures(request: web.Request) -> web.Response:
    raw: Any = await _read_json(request)
    if isinstance(raw, web.Response):
        return raw
    if not isinstance(raw, dict) or not isinstance(raw.get("note"), str):
        return error_response(400, "invalid_field", "expected an object with a string `note`", field="note")
    witnesses: list[WitnessVerifier] = request.app[WITNESSES]
    if not witnesses:
        return error_response(403, "forbidden", "this log accepts no cosignatures: ARGUS_WITNESS_KEYS is not set")
    try:
        result = await _run(request, _store, request.app[WRITE_ENGINE], raw["note"], witnesses)
    except NoteError as exc:
        return error_response(400, "invalid_cosignature", str(exc), field="note")
    if isinstance(result, web.Response):
        return result
    added, origin = result
    return json_response({"origin": origin, "stored": added}, status=201 if added else 200)


async def _write_engine(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[WITNESSES] = parse_witness_keys(settings.witness_keys)
    app[WRITE_ENGINE] = make_engine(settings.database_url)
    yield
    await asyncio.get_running_loop().run_in_executor(None, app[WRITE_ENGINE].dispose)


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_write_engine)
    app.router.add_post("/api/checkpoints/cosignatures", post_cosignatures)
