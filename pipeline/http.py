"""HTTP connections and bodies in -> bounded JSON documents or one-line 4xx answers, with our headers."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pydantic_core
from aiohttp import web as aioweb
from aiohttp.http_parser import HAS_BROTLI, HAS_ZSTD
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_server import Server
from faust.web.drivers.aiohttp import Web

from pipeline.errors import UserInputError
from pipeline.settings import HttpLimitsSettings

log = logging.getLogger(__name__)

SERVER_NAME = "SalesPulse"  # no framework or version for a scanner to match against advisories
# What aiohttp decompresses in this install; a body in any other coding would reach a handler still encoded.
ENCODINGS = frozenset({"identity", "gzip", "deflate"} | ({"br"} if HAS_BROTLI else set())
                      | ({"zstd"} if HAS_ZSTD else set()))
ANSWER_HEADERS = {"Server": SERVER_NAME, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
LIMITS = aioweb.AppKey("salespulse_http_limits", HttpLimitsSettings)


class BodyRefused(UserInputError):
    """A request body refused before any route logic: status, bounded metric reason, one line."""

    def __init__(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers or {}

    def body(self) -> dict:
        return {"error": self.message}

    def response(self) -> aioweb.Response:
        return aioweb.json_response(self.body(), status=self.status, headers=self.headers or None)


class BodyTimeout(TimeoutError):
    """Put into a request's body stream when the body has not arrived within body_timeout_s of its head."""


def one_line(text: str, limit: int = 200) -> str:
    return " ".join(str(text).split())[:limit]


# --- pure: headers and bytes -> verdicts ----------------------------------------------------------

def check_encoding(headers: Any) -> None:
    """415 for a Content-Encoding aiohttp would not decode (it passes those through untouched)."""
    enc = headers.get("Content-Encoding", "").strip().lower()
    if enc and enc not in ENCODINGS:
        offered = ", ".join(sorted(ENCODINGS))
        raise BodyRefused(415, "unsupported_encoding", f"Content-Encoding {one_line(enc, 40)!r} is not supported "
                          f"(accepted: {offered})", headers={"Accept-Encoding": offered})


def json_depth(doc: Any) -> int:
    """Deepest nesting of arrays and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(doc, 1)] if isinstance(doc, (list, dict)) else []
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, (list, dict)):
                stack.append((v, depth + 1))
    return deepest


def parse_json(body: bytes, max_depth: int) -> Any:
    """JSON bytes -> document; 400 for malformed, non-UTF-8 or too deep JSON (the parser stops at 200
    levels itself, so a hostile nesting never reaches Python's recursion limit)."""
    try:
        doc = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise BodyRefused(400, "invalid_json", f"JSON nested deeper than {max_depth} levels") from None
        raise BodyRefused(400, "invalid_json", f"malformed JSON: {one_line(str(exc))}") from None
    if json_depth(doc) > max_depth:
        raise BodyRefused(400, "invalid_json", f"JSON nested deeper than {max_depth} levels")
    return doc


# --- a request's body ----------------------------------------------------------------------------

def limits_of(request: Any) -> HttpLimitsSettings:
    return request.config_dict.get(LIMITS) or HttpLimitsSettings()


async def read_body(request: Any, max_bytes: int) -> bytes:
    """The decoded request body, refused as soon as it passes `max_bytes` (413), when its coding is
    unknown (415) or broken (400), when it comes too slowly (408) or when the client leaves."""
    check_encoding(request.headers)
    too_large = BodyRefused(413, "body_too_large", f"request body larger than {max_bytes} bytes")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise too_large
    chunks, size = [], 0
    try:
        while chunk := await request.content.read(65536):
            size += len(chunk)
            if size > max_bytes:  # counted after decompression: a small gzip bomb stops here too
                raise too_large
            chunks.append(chunk)
    except RequestPayloadError:
        enc = request.headers.get("Content-Encoding", "").strip().lower() or "identity"
        what = f"not valid {enc} (Content-Encoding)" if enc != "identity" else "malformed (Transfer-Encoding)"
        raise BodyRefused(400, "bad_encoding", f"request body is {what}") from None
    except BodyTimeout:
        raise BodyRefused(408, "body_timeout", f"request body not received within "
                          f"{limits_of(request).body_timeout_s:g} s", headers={"Connection": "close"}) from None
    except ConnectionError:
        raise BodyRefused(400, "client_disconnected", "the connection closed before the body ended") from None
    return b"".join(chunks)


async def read_json_body(request: Any, max_bytes: int | None = None, max_depth: int | None = None) -> Any:
    """The request's JSON document (None for an empty body), or BodyRefused (400/408/413/415);
    limits default to the worker's SALESPULSE_HTTP__MAX_BODY_BYTES and __MAX_JSON_DEPTH."""
    limits = limits_of(request)
    body = await read_body(request, max_bytes or limits.max_body_bytes)
    if not body.strip():
        return None
    return parse_json(body, max_depth or limits.max_json_depth)


# --- every route: middleware and answer headers ----------------------------------------------------

def _client_gone(request: Any) -> bool:
    return request.transport is None or request.transport.is_closing()


@aioweb.middleware
async def guard(request: aioweb.Request, handler) -> aioweb.StreamResponse:
    """A route that reads its body itself still answers a bad body with a one-line 4xx, never a 500."""
    try:
        if request.body_exists:
            check_encoding(request.headers)
        response = await handler(request)
    except BodyRefused as r:
        log.info("%s %s refused: %s %s", request.method, request.path, r.status, r.reason)
        response = r.response()
    except RequestPayloadError:
        response = BodyRefused(400, "bad_encoding", "request body could not be decoded (Content-Encoding or "
                               "Transfer-Encoding)").response()
    except BodyTimeout:
        response = BodyRefused(408, "body_timeout", "request body not received in time").response()
    except ConnectionError:
        if not _client_gone(request):
            raise  # a connection of the handler's own (database, broker): a real failure
        log.info("%s %s: the client left before the answer", request.method, request.path)
        response = aioweb.json_response({"error": "client disconnected"}, status=400)
    except (RecursionError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        if not request.body_exists:
            raise
        deep = isinstance(exc, RecursionError)
        response = BodyRefused(400, "invalid_json", "JSON nested too deeply" if deep else
                               f"request body is not valid JSON: {one_line(str(exc), 120)}").response()
    if request.body_exists and request.content.exception() is not None:
        # the body failed half-way (bad coding, too slow, client gone): its rest is not worth reading, and
        # aiohttp would log the stored error as unhandled when it drains the body after the answer
        response.force_close()
        request.content.feed_eof()
    return response


async def answer_headers(request: aioweb.Request, response: aioweb.StreamResponse) -> None:
    """Every routed answer: our Server name, nosniff, and no caching unless the route chose a rule."""
    response.headers["Server"] = SERVER_NAME
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")


# --- connections: header and body deadlines, the cap -------------------------------------------------

class LimitedRequestHandler(RequestHandler):
    """aiohttp's connection protocol with a deadline on each request body, the connection cap and
    one-line JSON errors for what aiohttp refuses itself (bad request line, oversized header, ...).

    The header deadline is aiohttp's keep-alive timer (keepalive_timeout = header_timeout_s): it runs
    from the connection's opening and from each answer, and closes the connection if no whole request
    head has arrived by then; bytes of an unfinished head do not reset it.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._bodies: list[tuple[asyncio.TimerHandle, Any]] = []  # (deadline, body stream) of unfinished bodies
        super().connection_made(transport)
        server = self._manager
        if isinstance(server, LimitedServer) and len(server.open) > server.limits.max_connections:
            server.refused += 1
            body = json.dumps({"error": f"more than {server.limits.max_connections} open connections; retry"})
            head = "".join(f"{k}: {v}\r\n" for k, v in ANSWER_HEADERS.items())
            transport.write((f"HTTP/1.1 503 Service Unavailable\r\n{head}Content-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                             f"{body}").encode())
            self.force_close()

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        heads = self._request_count - before
        if heads > 0 and self._messages:
            limits = self._manager.limits if isinstance(self._manager, LimitedServer) else HttpLimitsSettings()
            self._bodies = [(h, p) for h, p in self._bodies if not p.is_eof() and p.exception() is None]
            for _msg, payload in list(self._messages)[-heads:]:
                if not payload.is_eof():
                    late = self._loop.call_later(limits.body_timeout_s, self._body_late, payload, limits.body_timeout_s)
                    self._bodies.append((late, payload))

    def _body_late(self, payload: Any, timeout: float) -> None:
        # the route's read raises BodyTimeout (408); aiohttp then closes the connection, whose body is unfinished
        if not payload.is_eof() and payload.exception() is None:
            payload.set_exception(BodyTimeout(f"request body not received within {timeout:g} s"))

    def connection_lost(self, exc: BaseException | None) -> None:
        # aiohttp tells only a body whose route has begun; one queued or not yet started would wait for
        # its deadline and count as slow instead of gone
        for late, payload in getattr(self, "_bodies", ()):
            late.cancel()
            if not payload.is_eof() and payload.exception() is None:
                payload.set_exception(ConnectionResetError("the client closed the connection before the body ended"))
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> aioweb.StreamResponse:
        if status >= 500:
            log.error("HTTP request failed: %s", type(exc).__name__ if exc else status, exc_info=exc)
            text = "internal error; the worker's log has the details"
        else:  # the client's mistake: one line in the log, no traceback
            text = one_line(message or (exc and getattr(exc, "message", None)) or str(exc or status))
            log.info("HTTP %s refused before routing: %s", status, text)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had begun; the connection is closed instead")
        resp = aioweb.json_response({"error": text}, status=status, headers=ANSWER_HEADERS)
        resp.force_close()
        return resp


class LimitedServer(Server):
    """aiohttp's connection factory, counting open connections for the cap."""

    def __init__(self, *args: Any, limits: HttpLimitsSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.open: set[RequestHandler] = set()
        self.refused = 0

    def __call__(self) -> RequestHandler:
        return LimitedRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self.open.add(handler)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.open.discard(handler)
        super().connection_lost(handler, exc)


class LimitedAppRunner(aioweb.AppRunner):
    def __init__(self, app: aioweb.Application, *, limits: HttpLimitsSettings, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # aiohttp's start-up of the application, unchanged
        return LimitedServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation, loop=plain._loop,
                             limits=self.limits, **plain._kwargs)


def limited_runner(web_app: aioweb.Application, limits: HttpLimitsSettings) -> LimitedAppRunner:
    """An aiohttp runner for `web_app` with the guard, our answer headers, the deadlines and the cap."""
    web_app[LIMITS] = limits
    web_app.middlewares.append(guard)
    web_app.on_response_prepare.append(answer_headers)
    return LimitedAppRunner(web_app, limits=limits, access_log=None, keepalive_timeout=limits.header_timeout_s)


class SalesPulseWeb(Web):
    """faust's aiohttp driver whose every route has our limits."""

    def __init__(self, app: Any, limits: HttpLimitsSettings | None = None, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits or HttpLimitsSettings()
        self._runner = limited_runner(self.web_app, self.limits)
