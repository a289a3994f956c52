"""JSON error bodies: every 4xx/5xx names what went wrong, and the field when there is one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from argus_spec import exactjson


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=exactjson.dumps(body), status=status, content_type="application/json", headers=headers)


def error_response(
    status: int, error: str, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status=status, headers=headers)
