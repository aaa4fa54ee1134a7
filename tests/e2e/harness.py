"""Real processes on 127.0.0.1 for end-to-end tests: a recording upstream and a real mitmdump.

:class:`Upstream` is a threaded HTTP server that records every request it receives (method,
Host, path, headers, body) and answers ``200 ok``; tests assert on what reached it. With
``tls=True`` it serves HTTPS under a certificate of its own and speaks HTTP/2 to a client that
offers it (ALPN), as most sites do.
:class:`Mitmdump` starts ``.venv/bin/mitmdump`` with the formshield addon and the test routing
addon, waits until it listens and stops it at the end; its output is kept for assertions and
for failure messages. :func:`send` sends one plain-HTTP request through it, and
:func:`https_request` one as a browser sends HTTPS through a proxy: a CONNECT tunnel, TLS
checked against the proxy's CA, HTTP/1.1 or HTTP/2.
"""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from mitmproxy.certs import CertStore

ROOT = Path(__file__).resolve().parents[2]
ROUTER = Path(__file__).with_name("route_to_upstream.py")
FORMSHIELD_SCRIPT = ROOT / "addon" / "mitm_script.py"


@dataclass(frozen=True)
class Received:
    method: str
    host: str  # the Host header, or HTTP/2's :authority
    path: str
    headers: dict[str, str]  # lower-case names, without HTTP/2's pseudo-headers
    body: bytes
    http_version: str = "HTTP/1.1"


class Upstream:
    """A local HTTP server recording what it receives; ``tls``: HTTPS, HTTP/2 when offered."""

    def __init__(self, *, tls: bool = False) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._certs: tempfile.TemporaryDirectory[str] | None = None
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with upstream._lock:
                    upstream.received.append(
                        Received(
                            self.command,
                            self.headers.get("host", ""),
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                payload = b"ok"
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                if isinstance(request, ssl.SSLSocket) and request.selected_alpn_protocol() == "h2":
                    upstream._serve_http2(request)
                else:
                    super().finish_request(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls:
            self._certs = tempfile.TemporaryDirectory(prefix="formshield-upstream-")
            context = upstream_tls_context(Path(self._certs.name), ["h2", "http/1.1"])
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._certs is not None:
            self._certs.cleanup()

    def requests(self, path_part: str) -> list[Received]:
        """Requests received whose path contains ``path_part`` (a test's marker), in order."""
        with self._lock:
            return [r for r in self.received if path_part in r.path]

    def bodies(self, path_part: str) -> list[bytes]:
        """The bodies of :meth:`requests`."""
        return [r.body for r in self.requests(path_part)]

    def _serve_http2(self, sock: ssl.SSLSocket) -> None:
        """One HTTP/2 connection: record each request, answer ``200 ok``. ``h2`` checks each
        body against its content-length and ends the connection on a mismatch, so a request
        the proxy rewrote with a wrong length never reaches :attr:`received`."""
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            while data := sock.recv(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (_text(event.headers), bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data or b"")
                        conn.acknowledge_received_data(
                            event.flow_controlled_length or 0, event.stream_id or 0
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id or 0)
                        self._record_http2(headers, bytes(body))
                        conn.send_headers(
                            event.stream_id or 0,
                            [(":status", "200"), ("content-type", "text/plain"),
                             ("content-length", "2")],
                        )  # fmt: skip
                        conn.send_data(event.stream_id or 0, b"ok", end_stream=True)
                sock.sendall(conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass  # the connection ends; what it had not finished is not recorded
        finally:
            sock.close()

    def _record_http2(self, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.received.append(
                Received(
                    headers[":method"],
                    headers[":authority"],
                    headers[":path"],
                    {k: v for k, v in headers.items() if not k.startswith(":")},
                    body,
                    "HTTP/2",
                )
            )


def _text(headers: Any) -> dict[str, str]:
    """HTTP/2 header fields as ``h2`` gives them (bytes), as text."""
    return {bytes(k).decode(): bytes(v).decode() for k, v in headers or []}


def upstream_tls_context(directory: Path, alpn: list[str]) -> ssl.SSLContext:
    """A TLS server context for a test upstream, offering ``alpn``. A CA of its own, made in
    ``directory`` as mitmproxy makes its CA, serves as its certificate: mitmproxy accepts it
    with ``ssl_insecure`` (:class:`Mitmdump`'s ``https_upstream_port``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CertStore.from_store(str(directory), "upstream", 2048)
    context.load_cert_chain(directory / "upstream-ca.pem")
    context.set_alpn_protocols(alpn)
    return context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mitmdump:
    """``mitmdump`` with formshield on 127.0.0.1, routed to ``upstream_port``; ``script``: the
    script that loads formshield (``addon/mitm_script.py``)."""

    def __init__(
        self,
        upstream_port: int,
        data_dir: Path,
        *,
        policies: list[Path] | None = None,
        extra: list[str] | None = None,
        https_upstream_port: int | None = None,
        script: Path = FORMSHIELD_SCRIPT,
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.audit_path = data_dir / "audit.sqlite3"
        self.args = [
            str(Path(sys.executable).with_name("mitmdump")),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(self.port),
            "-s",
            str(script),
            "-s",
            str(ROUTER),
            "--set",
            f"formshield_test_upstream=127.0.0.1:{upstream_port}",
            "--set",
            f"formshield_audit={self.audit_path}",
            "--set",
            f"confdir={data_dir / 'mitmproxy'}",
            "--set",
            "formshield_reload=1",
        ]
        if https_upstream_port is not None:
            # CONNECT tunnels lead there; its certificate is its own, which mitmproxy accepts
            # only when told not to check (a browser checks mitmproxy's, from its CA).
            tunnels = f"formshield_test_https_upstream=127.0.0.1:{https_upstream_port}"
            self.args += ["--set", tunnels, "--set", "ssl_insecure=true"]
        for policy in policies or []:
            self.args += ["--set", f"formshield_policy={policy}"]
        self.args += extra or []
        self.log_path = data_dir / "mitmdump.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Mitmdump:
        env = dict(os.environ, FORMSHIELD_DATA_DIR=str(self.data_dir))
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited early:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"mitmdump did not start listening:\n{self.output()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def audit_rows(self, query: str, *, at_least: int = 1, wait: float = 10.0) -> list[Any]:
        """``query``'s rows from the audit store, once it returns ``at_least`` of them (the
        writer commits in batches) or ``wait`` seconds have passed."""
        deadline = time.monotonic() + wait
        rows: list[Any] = []
        while True:
            if self.audit_path.exists():
                with sqlite3.connect(self.audit_path) as conn:
                    rows = conn.execute(query).fetchall()
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)

    def audit_dump(self) -> str:
        """The whole audit store as SQL text (to search it for raw values)."""
        with sqlite3.connect(self.audit_path) as conn:
            return "\n".join(conn.iterdump())

    @property
    def ca_cert(self) -> Path:
        """The CA certificate mitmproxy signs intercepted sites with (what a user trusts)."""
        return self.data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem"


Answer = tuple[int, dict[str, str], bytes]  # status, headers (lower-case names), body


def send(
    proxy: Mitmdump,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    method: str = "POST",
) -> Answer:
    """Send ``url`` (http) through ``proxy`` as a browser does: an absolute-form request to the
    proxy."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy.proxy_url, "https": proxy.proxy_url})
    )
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(req, timeout=20) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def https_request(
    proxy: Mitmdump,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    method: str = "POST",
    http2: bool = False,
    http2_length: bool = True,
) -> Answer:
    """Send ``url`` (https) through ``proxy`` as a browser does: CONNECT, then TLS with the
    proxy, its certificate checked against the proxy's CA, then HTTP/2 or HTTP/1.1 (ALPN).
    ``http2_length``: an HTTP/2 body comes with its content-length (a browser may leave it
    out: the DATA frames' end tells the length)."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path + (f"?{parts.query}" if parts.query else "")
    context = ssl.create_default_context(cafile=proxy.ca_cert)
    if not http2:
        conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, timeout=20, context=context)
        conn.set_tunnel(host, parts.port or 443)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()
    context.set_alpn_protocols(["h2"])
    raw = open_tunnel(proxy.port, host, parts.port or 443)
    try:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            if tls.selected_alpn_protocol() != "h2":
                raise ConnectionError(f"the proxy chose {tls.selected_alpn_protocol()!r}, not h2")
            return _http2_exchange(
                tls, host, method, path, headers=headers, body=body, length=http2_length
            )
    finally:
        raw.close()


def open_tunnel(proxy_port: int, host: str, port: int) -> socket.socket:
    """A connection to the proxy on ``proxy_port``, tunneled (CONNECT) to ``host:port``: what a
    browser opens before its TLS handshake with an HTTPS site through a proxy."""
    raw = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
    try:
        target = f"{host}:{port}"
        raw.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        # The answer ends the proxy's part; the client speaks first in TLS, so nothing follows.
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(4096)
            if not chunk:
                raise ConnectionError("the proxy closed the connection after CONNECT")
            head += chunk
        if head.split(b" ", 2)[1] != b"200":
            raise ConnectionError(f"CONNECT refused: {head.splitlines()[0]!r}")
    except BaseException:
        raw.close()
        raise
    return raw


def _http2_exchange(
    tls: ssl.SSLSocket,
    host: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    length: bool,
) -> Answer:
    """One request on a new HTTP/2 connection; the whole answer."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    fields = [(":method", method), (":scheme", "https"), (":authority", host), (":path", path)]
    fields += [(k.lower(), v) for k, v in headers.items()]
    if body and length:
        fields.append(("content-length", str(len(body))))
    conn.send_headers(stream, fields, end_stream=not body)
    if body:
        conn.send_data(stream, body, end_stream=True)
    tls.sendall(conn.data_to_send())
    status, answer_headers, answer = 0, dict[str, str](), bytearray()
    while True:
        data = tls.recv(65536)
        if not data:
            raise ConnectionError("the proxy closed the HTTP/2 connection mid-answer")
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                answer_headers = _text(event.headers)
                status = int(answer_headers.pop(":status"))
            elif isinstance(event, h2.events.DataReceived):
                answer.extend(event.data or b"")
                conn.acknowledge_received_data(event.flow_controlled_length or 0, stream)
            elif isinstance(event, h2.events.StreamReset):
                raise ConnectionError(f"the proxy reset the stream: {event.error_code!r}")
            elif isinstance(event, h2.events.StreamEnded):
                return status, answer_headers, bytes(answer)
        tls.sendall(conn.data_to_send())
