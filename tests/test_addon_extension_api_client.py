"""HTTP and Server-Sent-Events clients shared by the extension API tests (plus their own tests).

They speak raw HTTP/1.1 with ``http.client`` so that tests control every header (Host, Origin,
Authorization), as an attacker would. Both are blocking; tests whose server runs on the test's
own event loop call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addon.api_backend import ApiBackend
from addon.api_events import EventHub
from addon.api_security import OriginPolicy
from addon.api_server import ApiContext, ApiServer
from addon.api_token import load_or_create_token
from addon.audit import AuditStore
from addon.holds import HoldRegistry
from detectors.engine import Scanner
from policies.loader import BUNDLED_DEFAULT
from policies.store import PolicyStore
from policies.user_policy import USER_POLICY_FILE, UserPolicyFile

CHROME_ORIGIN = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"
FIREFOX_ORIGIN = "moz-extension://0f3c2a9e-7b1d-4c2e-9a8b-1234567890ab"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ApiClient:
    """Requests to the API on 127.0.0.1:``port`` with a given token and origin."""

    port: int
    token: str | None
    origin: str | None = CHROME_ORIGIN
    timeout: float = 10.0

    def headers(self, **override: str | None) -> dict[str, str]:
        base: dict[str, str | None] = {
            "Host": f"127.0.0.1:{self.port}",
            "Origin": self.origin,
            "Authorization": f"Bearer {self.token}" if self.token else None,
        }
        base.update({k.replace("_", "-"): v for k, v in override.items()})
        return {k: v for k, v in base.items() if v is not None}

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        skip_host: bool = False,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            hdrs = dict(headers if headers is not None else self.headers())
            data = raw if raw is not None else None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode()
                hdrs.setdefault("Content-Type", "application/json")
            conn.putrequest(method, path, skip_host=skip_host or "Host" in hdrs)
            for key, value in hdrs.items():
                conn.putheader(key, value)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: object = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)


@dataclass
class SseClient:
    """A ``GET /v1/events`` stream read by a background thread into a queue of events.

    Each item is ``(event name, parsed JSON data)`` or ``("comment", text)`` for ``:`` lines.
    """

    client: ApiClient
    path: str = "/v1/events"
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> SseClient:
        self._conn = http.client.HTTPConnection("127.0.0.1", self.client.port, timeout=30)
        self._conn.putrequest("GET", self.path, skip_host=True)
        for key, value in self.client.headers().items():
            self._conn.putheader(key, value)
        self._conn.endheaders()
        resp = self._conn.getresponse()
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self._resp = resp
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        name, data = "message", []
        with contextlib.suppress(OSError, ValueError, AttributeError, http.client.HTTPException):
            while True:
                line = self._resp.readline()
                if not line:
                    break
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith(":"):
                    self.events.put(("comment", text[1:].strip()))
                elif text.startswith("event:"):
                    name = text[6:].strip()
                elif text.startswith("data:"):
                    data.append(text[5:].strip())
                elif text == "" and data:
                    self.events.put((name, json.loads("\n".join(data))))
                    name, data = "message", []
        self.events.put(("closed", None))

    def next(self, timeout: float = 5.0, *, skip_comments: bool = True) -> tuple[str, Any]:
        """The next event (comments skipped unless asked for); ``queue.Empty`` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if item[0] != "comment" or not skip_comments:
                return item

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)  # the reader sees end of stream, then the connection is closed
        self._conn.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.cache
def scanner() -> Scanner:
    return Scanner()


@dataclass
class Parts:
    """The parts of the proxy addon the API works on (real ones: scanner, policies, audit)."""

    scanner: Scanner | None
    policies: PolicyStore | None
    audit: AuditStore | None


@dataclass
class RunningApi:
    server: ApiServer
    backend: ApiBackend
    parts: Parts
    data_dir: Path
    token: str
    client: ApiClient

    @property
    def port(self) -> int:
        return self.server.ctx.port

    @property
    def user_file(self) -> Path:
        return self.data_dir / USER_POLICY_FILE


@contextlib.asynccontextmanager
async def running_api(
    data_dir: Path,
    *,
    extension_id: str = "",
    ping_interval: float = 15.0,
    policies: list[Path] | None = None,
    audit: bool = True,
) -> AsyncIterator[RunningApi]:
    """A real API server on 127.0.0.1 (ephemeral port) over real parts, on the running loop."""
    token = load_or_create_token(data_dir)
    user = data_dir / USER_POLICY_FILE
    store = PolicyStore([BUNDLED_DEFAULT, *(policies or []), user], optional={user})
    store_audit = AuditStore(data_dir / "audit.sqlite3", data_directory=data_dir) if audit else None
    parts = Parts(scanner(), store, store_audit)
    backend = ApiBackend(parts, UserPolicyFile(user), HoldRegistry(), EventHub())
    ctx = ApiContext(
        backend, token=token, origins=OriginPolicy(extension_id), port=0,
        ping_interval=ping_interval,
    )  # fmt: skip
    server = ApiServer(ctx)
    server.start()
    try:
        yield RunningApi(server, backend, parts, data_dir, token, ApiClient(ctx.port, token))
    finally:
        server.stop()
        if store_audit is not None:
            store_audit.close()


def test_client_headers_can_be_overridden_or_dropped() -> None:
    c = ApiClient(8765, "tok")
    assert c.headers() == {
        "Host": "127.0.0.1:8765",
        "Origin": CHROME_ORIGIN,
        "Authorization": "Bearer tok",
    }
    assert c.headers(Origin=None, Host="evil.example:8765") == {
        "Host": "evil.example:8765",
        "Authorization": "Bearer tok",
    }
