"""WebSocket ends on 127.0.0.1 for end-to-end tests, speaking ``wsproto`` as mitmproxy does.

:class:`WsUpstream` accepts WebSocket connections and records every message it receives, with
the path the connection was opened on; it answers each message with ``ack N`` (N: messages
received so far on that connection), so a client knows, from the answer to its last message,
how many of its messages arrived; ``tls=True``: over TLS (``wss://``), under a certificate of
its own. :class:`WsClient` opens a WebSocket through an HTTP proxy as a browser does: for
``ws://`` an absolute-form ``GET`` with ``Upgrade: websocket``; for ``wss://`` a CONNECT tunnel,
TLS with the proxy (its certificate checked against the proxy's CA), then the same ``GET`` in
origin form.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from tests.e2e.harness import open_tunnel, upstream_tls_context

Received = tuple[str, str | bytes]  # the connection's path, a whole message


class WsUpstream:
    """A WebSocket server recording what it receives (see the module docstring)."""

    def __init__(self, *, tls: bool = False) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._certs: tempfile.TemporaryDirectory[str] | None = None
        self._tls: ssl.SSLContext | None = None
        if tls:
            self._certs = tempfile.TemporaryDirectory(prefix="formshield-ws-upstream-")
            # mitmproxy speaks WebSocket over HTTP/1.1 only.
            self._tls = upstream_tls_context(Path(self._certs.name), ["http/1.1"])

    def __enter__(self) -> WsUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        if self._certs is not None:
            self._certs.cleanup()

    def messages(self, path_part: str) -> list[str | bytes]:
        """Messages received on connections whose path contains ``path_part``, in order."""
        with self._lock:
            return [message for path, message in self.received if path_part in path]

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # closed by __exit__
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        # OSError covers ssl.SSLError too: the peer went away, or failed its handshake.
        with contextlib.suppress(OSError, LocalProtocolError):
            try:
                if self._tls is not None:
                    # In this connection's thread, so a slow handshake holds up no other. The
                    # TLS socket takes the connection over: it is the one to close.
                    sock = self._tls.wrap_socket(sock, server_side=True)
                self._converse(sock)
            finally:
                sock.close()

    def _converse(self, sock: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        path, count = "", 0
        text: list[str] = []
        binary: list[bytes] = []
        while True:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Request):
                    path = event.target
                    sock.sendall(ws.send(AcceptConnection()))
                elif isinstance(event, (TextMessage, BytesMessage)):
                    if isinstance(event, TextMessage):
                        text.append(event.data)
                    else:
                        binary.append(bytes(event.data))
                    if event.message_finished:
                        whole: str | bytes = "".join(text) if text else b"".join(binary)
                        text.clear()
                        binary.clear()
                        count += 1
                        with self._lock:
                            self.received.append((path, whole))
                        sock.sendall(ws.send(TextMessage(data=f"ack {count}")))
                elif isinstance(event, Ping):
                    sock.sendall(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    sock.sendall(ws.send(event.response()))
                    return
            if not data:
                return


class WsClient:
    """A WebSocket connection to ``url`` through the HTTP proxy on ``proxy_port``: ``ws://``, or
    ``wss://`` with ``ca``, the proxy's CA certificate, to check the certificate it shows."""

    def __init__(
        self, proxy_port: int, url: str, headers: dict[str, str], *, ca: Path | None = None
    ) -> None:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock: socket.socket
        if parts.scheme == "wss":
            if ca is None:
                raise ValueError("wss:// needs the proxy's CA certificate (ca=...)")
            host = parts.hostname or ""
            raw = open_tunnel(proxy_port, host, parts.port or 443)
            context = ssl.create_default_context(cafile=ca)
            context.set_alpn_protocols(["http/1.1"])
            try:
                self.sock = context.wrap_socket(raw, server_hostname=host)
            except BaseException:
                raw.close()
                raise
            target = path  # origin form inside the tunnel
        else:
            self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
            # Absolute-form target: a plain HTTP proxy takes the destination from it.
            target = f"http://{parts.netloc}{path}"
        self.ws = WSConnection(ConnectionType.CLIENT)
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.sock.sendall(
            self.ws.send(Request(host=parts.netloc, target=target, extra_headers=extra))
        )
        event = self._next_event()
        if not isinstance(event, AcceptConnection):
            self.sock.close()
            raise ConnectionError(f"the WebSocket handshake failed: {event!r}")

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.sock.sendall(self.ws.send(TextMessage(data=message)))
        else:
            self.sock.sendall(self.ws.send(BytesMessage(data=message)))

    def receive_text(self) -> str:
        """The next whole text message from the server."""
        parts: list[str] = []
        while True:
            event = self._next_event()
            if isinstance(event, TextMessage):
                parts.append(event.data)
                if event.message_finished:
                    return "".join(parts)
            elif isinstance(event, (CloseConnection, RejectConnection)):
                raise ConnectionError(f"the WebSocket connection ended: {event!r}")

    def close(self) -> None:
        # The proxy may have ended the connection already (wsproto then refuses to send).
        with contextlib.suppress(OSError, LocalProtocolError):
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        self.sock.close()

    def __enter__(self) -> WsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_event(self) -> object:
        while True:
            for event in self.ws.events():
                if isinstance(event, Ping):
                    self.sock.sendall(self.ws.send(event.response()))
                    continue
                return event
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the proxy closed the connection")
            self.ws.receive_data(data)
