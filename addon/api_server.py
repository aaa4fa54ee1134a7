"""The extension API's HTTP server: tornado on mitmproxy's asyncio loop, 127.0.0.1 only.

Routes (notes/extension-api.md has the bodies): ``GET /v1/status``, ``GET /v1/events``
(Server-Sent Events), ``GET /v1/findings``, ``GET|POST /v1/sites/<site>/policy``,
``POST /v1/check``, ``GET /v1/held``, ``POST /v1/held/<id>``; ``OPTIONS`` anywhere answers CORS
preflights. Every request first passes :func:`addon.api_security.check_request` (Host, Origin,
token), unknown paths included, so a refused caller learns nothing about the routes.

Logging: the access log records method, path (no query string: a token put there by mistake
must not land in a log) and status at DEBUG; uncaught exceptions are logged with their type and
frames only, since a message raised while handling a value can quote it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import traceback
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.iostream import StreamClosedError

from addon.api_backend import ApiBackend, ApiError
from addon.api_events import PING, Subscriber
from addon.api_security import OriginPolicy, Refusal, check_request

logger = logging.getLogger(__name__)

LISTEN_ADDRESS = "127.0.0.1"
MAX_BODY_BYTES = 2 * 1024 * 1024  # /v1/check's limit on values (1M chars) plus JSON overhead
PING_INTERVAL = 15.0
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"


class ApiContext:
    """What every handler needs: the backend, the security settings, the listening port."""

    def __init__(
        self,
        backend: ApiBackend,
        *,
        token: str,
        origins: OriginPolicy,
        port: int,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self.backend = backend
        self.token = token
        self.origins = origins
        self.port = port
        self.ping_interval = ping_interval


class BaseHandler(tornado.web.RequestHandler):
    """Security checks, CORS headers and JSON in and out."""

    ctx: ApiContext

    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def _refusal(self, *, preflight: bool) -> Refusal | None:
        headers = self.request.headers
        return check_request(
            host=headers.get("Host"),
            origin=headers.get("Origin"),
            authorization=headers.get("Authorization"),
            port=self.ctx.port,
            origins=self.ctx.origins,
            token=self.ctx.token,
            method=self.request.method or "",
            sec_fetch_site=headers.get("Sec-Fetch-Site"),
            preflight=preflight,
        )

    def _allow_origin(self) -> None:
        # The exact origin that passed the checks, never "*"; Vary so no cache mixes them up.
        # (Chromium's Origin-less extension GETs need no CORS headers: they are not CORS.)
        self.set_header("Vary", "Origin")
        origin = self.request.headers.get("Origin")
        if origin:
            self.set_header("Access-Control-Allow-Origin", origin)

    async def prepare(self) -> None:
        if self.request.method == "OPTIONS":
            return  # options() checks Host and Origin itself: preflights carry no token
        refusal = self._refusal(preflight=False)
        if refusal is None:
            self._allow_origin()
            return
        if refusal.cors:
            self._allow_origin()
        self.send_json(refusal.status, {"error": refusal.reason})

    def options(self, *args: str) -> None:
        refusal = self._refusal(preflight=True)
        if refusal is not None:
            # No CORS headers at all: the browser then refuses the actual request.
            self.send_json(refusal.status, {"error": refusal.reason})
            return
        self._allow_origin()
        self.set_header("Access-Control-Allow-Methods", ALLOW_METHODS)
        self.set_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        self.set_header("Access-Control-Max-Age", "600")
        if self.request.headers.get("Access-Control-Request-Private-Network") == "true":
            # Chrome's Private Network Access preflight for requests to loopback.
            self.set_header("Access-Control-Allow-Private-Network", "true")
        self.clear_header("Content-Type")
        self.set_status(204)
        self.finish()

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        """Finish the response with ``body`` as JSON."""
        self.set_status(status)
        self.finish(json.dumps(body, ensure_ascii=False))

    def json_body(self) -> object:
        """The request body parsed as JSON; :class:`ApiError` 400 otherwise."""
        try:
            return json.loads(self.request.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError(400, "the body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            # The message names a position, never the text.
            raise ApiError(400, f"the body is not JSON: {exc.msg} at {exc.pos}") from None

    async def run(self, call: Callable[[], Awaitable[dict[str, Any]] | dict[str, Any]]) -> None:
        """Answer with what ``call`` returns, or its :class:`ApiError`."""
        try:
            result = call()
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            self.send_json(exc.status, {"error": exc.reason})
            return
        assert isinstance(result, dict)
        self.send_json(200, result)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": self._reason or "error"}))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, tornado.web.HTTPError):
            logger.debug("formshield api: %d on %s", value.status_code, self.request.path)
            return
        frames = "".join(traceback.format_tb(tb))
        logger.error(
            "formshield api: %s %s failed with %s\n%s",
            self.request.method,
            self.request.path,
            typ.__name__ if typ else "error",
            frames,
        )


class StatusHandler(BaseHandler):
    async def get(self) -> None:
        await self.run(lambda: self.ctx.backend.status(len(self.ctx.backend.hub)))


class FindingsHandler(BaseHandler):
    async def get(self) -> None:
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        await self.run(lambda: self.ctx.backend.findings(args))


class SitePolicyHandler(BaseHandler):
    async def get(self, site: str) -> None:
        destination = self.get_query_argument("destination", None)
        await self.run(lambda: self.ctx.backend.site_policy(site, destination))

    async def post(self, site: str) -> None:
        await self.run(lambda: self.ctx.backend.change_site_policy(site, self.json_body()))


class CheckHandler(BaseHandler):
    async def post(self) -> None:
        await self.run(lambda: self.ctx.backend.check(self.json_body()))


class HeldListHandler(BaseHandler):
    async def get(self) -> None:
        site = self.get_query_argument("site", None)
        await self.run(lambda: self.ctx.backend.held(site))


class HeldAnswerHandler(BaseHandler):
    async def post(self, hold_id: str) -> None:
        await self.run(lambda: self.ctx.backend.answer(hold_id, self.json_body()))


class EventsHandler(BaseHandler):
    """``GET /v1/events[?site=]``: a Server-Sent-Events stream until either side ends it."""

    _sub: Subscriber | None = None

    async def get(self) -> None:
        site = self.get_query_argument("site", None) or None
        hub = self.ctx.backend.hub
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        sub = self._sub = hub.subscribe(site)
        try:
            self.write(": formshield events\n\n")
            await self.flush()
            while True:
                try:
                    chunk = await asyncio.wait_for(sub.queue.get(), self.ctx.ping_interval)
                except TimeoutError:
                    chunk = PING  # keeps the connection (and the extension's worker) alive
                if chunk is None:
                    break
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return
        finally:
            hub.unsubscribe(sub)
        if not self._finished:
            self.finish()

    def on_connection_close(self) -> None:
        # The client went away: end the loop now, so `ask` stops counting this listener.
        if self._sub is not None:
            self.ctx.backend.hub.unsubscribe(self._sub)


class NotFoundHandler(BaseHandler):
    """Unknown paths: 404 after the security checks (prepare)."""

    async def get(self, *args: str) -> None:
        self.send_json(404, {"error": "not found"})

    post = get


def make_app(ctx: ApiContext) -> tornado.web.Application:
    """The tornado application with every route."""
    kwargs = {"ctx": ctx}
    return tornado.web.Application(
        [
            (r"/v1/status", StatusHandler, kwargs),
            (r"/v1/events", EventsHandler, kwargs),
            (r"/v1/findings", FindingsHandler, kwargs),
            (r"/v1/sites/([^/]+)/policy", SitePolicyHandler, kwargs),
            (r"/v1/check", CheckHandler, kwargs),
            (r"/v1/held", HeldListHandler, kwargs),
            (r"/v1/held/([^/]+)", HeldAnswerHandler, kwargs),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=kwargs,
        log_function=_log_request,
        compress_response=False,
        xsrf_cookies=False,
    )


def _log_request(handler: tornado.web.RequestHandler) -> None:
    logger.debug(
        "formshield api: %s %s -> %d",
        handler.request.method,
        handler.request.path,  # never the query string
        handler.get_status(),
    )


class ApiServer:
    """The listening server; :meth:`start` needs the running event loop."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._server: tornado.httpserver.HTTPServer | None = None
        self.sockets: list[socket.socket] = []

    def start(self) -> None:
        """Bind 127.0.0.1:<port> (IPv4 loopback only) and serve; ``OSError`` when taken."""
        sockets = tornado.netutil.bind_sockets(
            self.ctx.port, address=LISTEN_ADDRESS, family=socket.AF_INET
        )
        server = tornado.httpserver.HTTPServer(
            make_app(self.ctx),
            max_body_size=MAX_BODY_BYTES,
            idle_connection_timeout=3600,
            body_timeout=30,
        )
        server.add_sockets(sockets)
        self._server, self.sockets = server, sockets
        if self.ctx.port == 0:  # an ephemeral port (tests): the Host check needs the real one
            self.ctx.port = int(sockets[0].getsockname()[1])

    def addresses(self) -> list[tuple[str, int]]:
        """The addresses actually bound (for checks and for ``port`` 0 in tests)."""
        return [s.getsockname()[:2] for s in self.sockets]

    def stop(self) -> None:
        """Stop listening and end every event stream."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.sockets = []
        self.ctx.backend.hub.close_all()
