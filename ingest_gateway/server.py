"""The HTTP server around the gateway app: JSON for the errors aiohttp answers before the app runs.

aiohttp's parser refuses some requests (a URL over 8 KB, a malformed request line, a
Content-Encoding it cannot decode) before any middleware sees them, answering text/plain and
logging an ERROR traceback. Anyone can send such requests, so here they get the same JSON error
body as every other answer, are counted in `argus_http_requests_total`, and are logged as one
WARNING line. aiohttp has no public hook for this; `GatewayRunner` swaps in a request handler
whose `handle_error` does it (used by `argus gateway` and by the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from ingest_gateway import metrics
from ingest_gateway.errors import error_response

log = logging.getLogger(__name__)
SUPPORTED_ENCODINGS = frozenset({"gzip", "deflate", "identity"})
UNSUPPORTED_ENCODING = "Content-Encoding must be gzip, deflate or identity"


def describe_client_error(exc: BaseException | None) -> str:
    """One line saying what was wrong with a request aiohttp could not parse."""
    if isinstance(exc, LineTooLong):  # its message quotes the client's bytes
        return "the request line or a header is longer than aiohttp's 8190-byte limit"
    if isinstance(exc, HttpProcessingError) and exc.message:
        return ascii(exc.message.splitlines()[0][:160])[1:-1]  # printable, bounded: it may quote the client
    return type(exc).__name__ if exc is not None else "bad request"


#: What a client can cause on its own: a request aiohttp cannot parse, a body that does not decode,
#: a connection reset mid-body. Logged as one WARNING line, never as an ERROR traceback.
CLIENT_ERRORS = (HttpProcessingError, RequestPayloadError, ConnectionResetError)


class _JsonErrorHandler(RequestHandler):
    __slots__ = ()

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's own error log (e.g. a body that fails after the answer): client faults are one line."""
        exc = kw.get("exc_info")
        if isinstance(exc, CLIENT_ERRORS):
            log.warning("client error on a connection: %s", describe_client_error(exc))
        else:
            super().log_exception(*args, **kw)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500 and not isinstance(exc, CLIENT_ERRORS):
            log.error("error handling request from %s", request.remote, exc_info=exc)
        else:
            log.warning("refused a request from %s that could not be parsed: %s", request.remote,
                        describe_client_error(exc))  # fmt: skip
        if request.writer.output_size > 0:  # the answer has begun: the connection is all we can end
            raise ConnectionError("response already started, cannot send an error")
        if isinstance(exc, ContentEncodingError) and "Can not decode content-encoding" in str(exc):
            response = error_response(415, "unsupported_content_encoding", UNSUPPORTED_ENCODING)
        elif status >= 500:
            response = error_response(status, "internal_error", "the gateway failed to handle the request")
        else:
            response = error_response(status, "bad_request", describe_client_error(exc))
        metrics.HTTP_REQUESTS.labels("other", "unparsed", str(response.status)).inc()
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections answer parser-level errors as JSON (see the module doc)."""

    async def _make_server(self) -> web.Server:
        server: Any = await super()._make_server()
        server.__class__ = _JsonErrorServer  # same state, only __call__ differs
        return server


def run(app: web.Application, host: str, port: int) -> None:
    """Serve `app` on host:port until SIGINT/SIGTERM (what `web.run_app` does, with GatewayRunner)."""

    async def main() -> None:
        runner = GatewayRunner(app, handle_signals=True, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(main())
