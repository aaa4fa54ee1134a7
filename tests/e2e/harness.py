"""Real processes on 127.0.0.1 for end-to-end tests: a recording upstream and a real mitmdump.

:class:`Upstream` is a threaded HTTP server that records every request it receives (method,
Host, path, headers, body) and answers ``200 ok``; tests assert on what reached it.
:class:`Mitmdump` starts ``.venv/bin/mitmdump`` with the formshield addon and the test routing
addon, waits until it listens and stops it at the end; its output is kept for assertions and
for failure messages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ROUTER = Path(__file__).with_name("route_to_upstream.py")
FORMSHIELD_SCRIPT = ROOT / "addon" / "mitm_script.py"


@dataclass(frozen=True)
class Received:
    method: str
    host: str
    path: str
    headers: dict[str, str]
    body: bytes


class Upstream:
    """A local HTTP server recording what it receives."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mitmdump:
    """``mitmdump`` with formshield on 127.0.0.1, routed to ``upstream_port``."""

    def __init__(
        self,
        upstream_port: int,
        data_dir: Path,
        *,
        policies: list[Path] | None = None,
        extra: list[str] | None = None,
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
            str(FORMSHIELD_SCRIPT),
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
