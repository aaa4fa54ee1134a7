"""Proxy throughput and added latency: bare mitmdump vs mitmdump with formshield, one run.

Starts, on 127.0.0.1 only: a local upstream (asyncio, answers ``200 ok`` at once), then for each
configuration a real ``mitmdump`` routed to it, and drives each with the same load from a
keep-alive asyncio client:

(a) ``browsing``: a browsing mix: most requests are GETs without a body, some small JSON posts
    without personal data, a few form posts carrying personal data (first and third party);
(b) ``forms``: only form posts carrying personal data (IDs, phones, cards; first and third party);
(c) with ``--cookies`` (no target): ``cookies``, the browsing mix with the Cookie header a
    browser sends each site (analytics ids, a session token, a last-visit time that changes on
    every page view), which formshield scans too.

By default the client speaks plain HTTP/1.1 to the proxy (absolute-form requests). With
``--tls`` each connection is a CONNECT tunnel in which the client and the upstream speak TLS
with the proxy, as a browser's HTTPS does (mitmproxy intercepts: its CA, shared by every
proxy, signs what the client checks); with ``--http2``, the same tunnels speak HTTP/2 to the
client and to the upstream, as browsers and most sites do, all requests in flight sharing two
connections. The loads and the targets are the same in every mode; the bare proxy costs more
per request with TLS and more again with HTTP/2 (``h2`` is Python), while formshield's hook
does the same work whatever the protocol.

Configurations: ``bare`` (mitmdump alone), ``formshield`` (mitmdump with the
formshield addon on the bundled default policy, audit store on) and, unless ``--no-naive``,
``naive-presidio``: an addon that calls Presidio's ``AnalyzerEngine`` per request, the anchor
the issue names. Prints requests/s, p50/p99 latency, and the ratio to bare mitmdump.
Targets: formshield >= 0.9x bare throughput on (a), >= 0.8x on (b), p99 added latency < 5 ms.

Throughput is measured with the proxy saturated (each connection sends its next request as soon
as the last is answered), where latency is mostly queueing: p99 there says how long the queue
got, not what the addon adds to a request. So added latency is also measured in paced runs
(``--rate``, default 100 requests/s in all, below every configuration's capacity): each request
is sent at its scheduled time and timed from it, so a proxy that falls behind still pays for
its queue. Each request is sent through bare mitmdump and through formshield at the same
moment, so that both tails are taken over the same stretch of time: this VM stalls for tens of
ms at times, and runs made one after the other gave bare mitmdump's own p99 anywhere from 6 to
58 ms. The added p99 is formshield's p99 less bare's; the target is judged on the two loads
the issue names (the cookies load is shown, without a target). The median of each request's own
difference is shown too; its tail is not used: two identical bare proxies, paired this way,
differ by up to +-11 ms at the 1st and 99th percentiles (each stalls on its own). The two
copies go out one after the other, bare first and formshield first in turn, since whichever
goes second waits for the client and the upstream to serve the first.

How, on a machine whose speed drifts by tens of percent within seconds: all proxies run for
the whole benchmark, each client keeps its keep-alive connections open from run to run (as a
browser does), and the runs are short and interleaved: ``--rounds`` (20) rounds, each running
every load on every configuration for ``--slice`` (1) second, the configurations in rotating
order, then the paced pair. A ratio to bare mitmdump is taken over all rounds (total
requests over total time, each side), with a 95% bootstrap interval over the rounds; the
median and quartiles of the per-round ratios show how much a single short run would swing.
When a target lies inside the interval, this run cannot tell; run more ``--rounds``.
Each configuration also runs as ``--instances`` (2) mitmdump processes, the rounds taking them
in turn: a process has a speed of its own that interleaving cannot cancel (four identical bare
mitmdumps, interleaved in one run, differed by up to 2.7% in CPU per request), so a single
process per configuration would carry that into the ratio.

Where the cost goes (Linux): each throughput run also reads, from ``/proc``, the CPU time the
proxy's process spent in it, and the benchmark prints CPU per request: of the main thread (the
event loop, which bounds a mitmdump's throughput) and of all threads (with formshield's audit
writer). ``--hook-cpu`` loads formshield through ``scripts/hook_cpu_addon.py``, which times its
request hook (about 1 µs per request more), and prints that hook's own CPU per request by kind
of request (formshield's share of the main thread's cost) and the percentiles of its wall time
per call (what the hook itself adds to a request's latency, without the stalls of the machine
that the paced p99 mostly measures).

Usage: ``.venv/bin/python scripts/bench_proxy.py [--rounds 20] [--slice 1] [--instances 2]
[--no-naive] [--cookies] [--hook-cpu] [--tls | --http2]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FORMSHIELD = ROOT / "addon" / "mitm_script.py"
HOOK_CPU_ADDON = Path(__file__).with_name("hook_cpu_addon.py")
NAIVE = Path(__file__).with_name("naive_presidio_addon.py")
MITMDUMP = Path(sys.executable).with_name("mitmdump")

ID = "11010519491231002X"
IDS = ["11010519491231002X", "360426199101010071", "412723199010050012", "110102199101010078"]
PHONES = ["13912345678", "15812345670", "18698765432", "13700001111"]
CARD = "6222021234567890128"
SITES = ["www.shop.test", "cdn.shop.test", "tracker.example"]


# --- the load -------------------------------------------------------------------------------


def _raw(upstream: str, method: str, url: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """An absolute-form proxy request to the local upstream carrying ``url``'s host as Host.

    mitmproxy and formshield take the destination from the Host header (``pretty_host``), so
    the load looks like browsing named sites while every byte stays on 127.0.0.1.
    """
    host = url.split("/")[2]
    path = url.split(host, 1)[1]
    lines = [f"{method} http://{upstream}{path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def browsing_mix(
    rng: random.Random, n: int, upstream: str, *, cookies: bool = False
) -> list[bytes]:
    """Mostly GETs (pages, images, scripts, API reads), 15% small JSON posts, 5% PII forms.

    ``cookies``: every request carries its site's Cookie header, as a browser sends it
    (:func:`browser_cookies`; a new page view every 20 requests)."""
    out = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.80:
            path = rng.choice(["/", "/item/12345", "/static/app.js", "/img/a.png", "/api/cart"])
            query = f"?page={i % 7}&ts={1732812345678 + i}&sku=SKU{rng.randint(10000, 99999)}"
            host = rng.choice(SITES)
            headers = {"Referer": "http://www.shop.test/", "Accept": "*/*"}
            method, url, body = "GET", f"http://{host}{path}{query}", b""
        elif roll < 0.95:
            body = json.dumps({"event": "view", "item": rng.randint(1, 10**6), "ts": i}).encode()
            headers = {"Origin": "http://www.shop.test", "Content-Type": "application/json"}
            method, url, host = "POST", "http://tracker.example/collect", "tracker.example"
        else:
            out.append(pii_form(rng, i, upstream, cookie=cookies))
            continue
        if cookies:
            headers["Cookie"] = browser_cookies(host, i // 20)
        out.append(_raw(upstream, method, url, headers, body))
    return out


def browser_cookies(host: str, page_view: int) -> str:
    """The Cookie header a browser sends ``host`` on its ``page_view``-th page view: analytics
    ids and a session token that stay, and a last-visit time that changes on every view."""
    if host.endswith("tracker.example"):
        return (f"_ga=GA1.2.1234567890.1732812345; _fbp=fb.1.1732812345678.1234567890; "
                f"uid=1029384756; Hm_lpvt_abc123={1732812400 + page_view}")  # fmt: skip
    return ("_ga=GA1.2.1234567890.1732812345; _gid=GA1.2.987654321.1732812345; "
            "sessionid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e; "
            "csrftoken=Xy7kP2mQ9rT4vW6zA1bC3dE5fG8hJ0kL; lang=zh-CN; cart=3; "
            f"tz=Asia%2FShanghai; Hm_lpvt_abc123={1732812400 + page_view}")  # fmt: skip


def pii_form(rng: random.Random, i: int, upstream: str, *, cookie: bool = False) -> bytes:
    """A form post with an ID and a phone, to the page's own site or to a third party
    (``cookie``: with that site's Cookie header)."""
    first_party = rng.random() < 0.5
    host = "www.shop.test" if first_party else "tracker.example"
    body = (
        f"name=%E5%BC%A0%E4%B8%89&idNo={rng.choice(IDS)}&mobile={rng.choice(PHONES)}"
        f"&addr=%E6%9D%AD%E5%B7%9E&order={20241128000000 + i}"
    )
    if rng.random() < 0.2:
        body += f"&card={CARD}"
    headers = {"Origin": "http://www.shop.test",
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    if cookie:
        headers["Cookie"] = browser_cookies(host, i // 20)
    return _raw(upstream, "POST", f"http://{host}/order", headers, body.encode())


def forms_only(rng: random.Random, n: int, upstream: str) -> list[bytes]:
    return [pii_form(rng, i, upstream) for i in range(n)]


def origin_form(raw: bytes) -> bytes:
    """``raw`` (absolute-form, :func:`_raw`) as sent inside a CONNECT tunnel: ``GET /path``."""
    line, rest = raw.split(b"\r\n", 1)
    method, url, version = line.split(b" ")
    path = b"/" + url.split(b"/", 3)[3]
    return b" ".join((method, path, version)) + b"\r\n" + rest


# --- processes ------------------------------------------------------------------------------

UPSTREAM_CODE = r"""
import asyncio, ssl, sys
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
async def handle(reader, writer):
    tls = writer.get_extra_info("ssl_object")
    if tls is not None and tls.selected_alpn_protocol() == "h2":
        return await handle_h2(reader, writer)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(RESP)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def handle_h2(reader, writer):
    import h2.config, h2.connection, h2.events
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    try:
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    conn.send_headers(event.stream_id, [(":status", "200"),
                                      ("content-length", "2"), ("content-type", "text/plain")])
                    conn.send_data(event.stream_id, b"ok", end_stream=True)
            writer.write(conn.data_to_send())
    except ConnectionError:
        pass
    finally:
        writer.close()
async def main():
    tls = None
    if len(sys.argv) > 2:  # certificate and key (one PEM file): serve HTTPS, HTTP/2 if offered
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2])
        tls.set_alpn_protocols(["h2", "http/1.1"])
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), ssl=tls)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def upstream_certificate(workdir: Path) -> Path:
    """A certificate and its key (one PEM file in ``workdir``) for the HTTPS upstream: a CA of
    its own made the way mitmproxy makes its CA. The proxies do not check it
    (``ssl_insecure``), as they cannot know this one-off issuer."""
    from mitmproxy.certs import CertStore

    CertStore.from_store(workdir, "upstream", 2048)
    return workdir / "upstream-ca.pem"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (status {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start listening on {port}")


def start_mitmdump(
    config: str,
    workdir: Path,
    hook_cpu: Path | None = None,
    instance: int = 0,
    *,
    tls: bool = False,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``config``'s mitmdump (its ``instance``-th process, with a data directory of its
    own); ``hook_cpu``: load formshield through the hook timer, which writes its tally there
    on shutdown (see ``scripts/hook_cpu_addon.py``); ``tls``: the upstream speaks HTTPS with
    a certificate of its own (not checked). Every process shares ``workdir/conf``, so one CA
    signs what they all show the client."""
    port = free_port()
    args = [str(MITMDUMP), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={workdir / 'conf'}"]  # fmt: skip
    if tls:
        args += ["--set", "ssl_insecure=true"]
    data = workdir / f"{config}.{instance}"
    env = dict(os.environ, FORMSHIELD_DATA_DIR=str(data))
    if config == "formshield":
        script = FORMSHIELD if hook_cpu is None else HOOK_CPU_ADDON
        args += ["-s", str(script), "--set", f"formshield_audit={data / 'a.db'}"]
        if hook_cpu is not None:
            env["FORMSHIELD_HOOK_CPU"] = str(hook_cpu)
    elif config == "naive-presidio":
        args += ["-s", str(NAIVE)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_listening(port, proc, f"mitmdump ({config})")
    return proc, port


# --- the client -----------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of the sorted, non-empty ``ordered``: the value at rank
    ``q * len``, the last one for ``q`` = 1."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    cpu_main: float = 0.0  # seconds of the proxy's main thread during the run (see proxy_cpu)
    cpu_all: float = 0.0  # ... of all its threads

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        """The ``q`` quantile of the latencies, in ms."""
        return percentile(sorted(self.latencies), q) * 1000

    def add(self, other: Result) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.cpu_main += other.cpu_main
        self.cpu_all += other.cpu_all
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n


def proxy_cpu(pid: int) -> tuple[float, float] | None:
    """CPU seconds so far of process ``pid``'s main thread and of all its threads, from the
    scheduler's per-thread run time (``/proc/PID/task/TID/schedstat``, nanoseconds); None
    where there is no such file (not Linux)."""
    main = every = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
        every += ns
        if task.name == str(pid):
            main = ns
    return main / 1e9, every / 1e9


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


class _Http1:
    """One keep-alive HTTP/1.1 connection: one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        return await _read_response(self.reader)

    def close(self) -> None:
        self.writer.close()


H2Request = tuple[list[tuple[bytes, bytes]], bytes]  # headers (pseudo-headers first), body


def h2_request(raw: bytes) -> H2Request:
    """``raw`` (origin-form HTTP/1.1, :func:`origin_form`) as HTTP/2 headers and body."""
    head, body = raw.split(b"\r\n\r\n", 1)
    line, *lines = head.split(b"\r\n")
    method, path, _ = line.split(b" ")
    fields = [(k.strip().lower(), v.strip()) for k, v in (f.split(b":", 1) for f in lines)]
    host = next(v for k, v in fields if k == b"host")
    pseudo = [(b":method", method), (b":scheme", b"https"), (b":authority", host), (b":path", path)]
    return pseudo + [(k, v) for k, v in fields if k not in (b"host", b"connection")], body


class _Http2:
    """One HTTP/2 connection (``h2``, as mitmproxy uses): many requests at once, one stream each."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.config
        import h2.connection

        self.reader, self.writer = reader, writer
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.h2.initiate_connection()
        self.writer.write(self.h2.data_to_send())
        self.answers: dict[int, asyncio.Future[int]] = {}
        self.statuses: dict[int, int] = {}
        self.reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        import h2.events

        failure: Exception = ConnectionError("the proxy closed the connection")
        try:
            while data := await self.reader.read(65536):
                for event in self.h2.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        self.statuses[event.stream_id] = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        self.h2.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        status = self.statuses.pop(event.stream_id)
                        self.answers.pop(event.stream_id).set_result(status)
                    elif isinstance(event, h2.events.StreamReset):
                        self.answers.pop(event.stream_id).set_exception(
                            RuntimeError(f"stream reset: {event.error_code!r}")
                        )
                self.writer.write(self.h2.data_to_send())
        except Exception as exc:  # a protocol error: the requests waiting fail with it
            failure = exc
        for answer in self.answers.values():
            if not answer.done():
                answer.set_exception(failure)

    async def exchange(self, request: H2Request) -> int:
        headers, body = request
        stream = self.h2.get_next_available_stream_id()
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.answers[stream] = answer
        self.h2.send_headers(stream, headers, end_stream=not body)
        if body:
            self.h2.send_data(stream, body, end_stream=True)
        self.writer.write(self.h2.data_to_send())
        return await answer

    def close(self) -> None:
        self.reading.cancel()
        self.writer.close()


# HTTP/2 connections per client: a browser opens one per site and sends its requests on it
# at once; the client's workers share these.
H2_CONNECTIONS = 2


class Client:
    """``concurrency`` requests in flight to one proxy at any time, each on a keep-alive
    connection kept open from run to run (as a browser keeps its connections): one request at
    a time per connection, or with ``http2`` all of them on :data:`H2_CONNECTIONS` HTTP/2
    connections. Worker ``k`` sends its share of ``requests`` in turn.

    ``tunnel``: each connection is a CONNECT tunnel to that upstream (``host:port``) in which
    the client speaks TLS with the proxy, as a browser does for an HTTPS site: ``tls`` checks
    the proxy's certificate (its CA) for the name ``sni``; ``requests`` are then origin-form
    (:func:`origin_form`). ``http2`` needs a tunnel (ALPN ``h2``)."""

    def __init__(
        self,
        port: int,
        requests: list[bytes],
        concurrency: int,
        *,
        tunnel: str | None = None,
        tls: ssl.SSLContext | None = None,
        sni: str = SITES[0],
        http2: bool = False,
    ) -> None:
        if http2 and tunnel is None:
            raise ValueError("HTTP/2 is spoken inside a TLS tunnel: give tunnel")
        self.port = port
        # What each request is on the wire: bytes, or HTTP/2 headers and body.
        self.requests: list[Any] = [h2_request(r) for r in requests] if http2 else requests
        self.concurrency = concurrency
        self.tunnel, self.tls, self.sni, self.http2 = tunnel, tls, sni, http2
        self.connections: list[_Http1 | _Http2] = []
        self.next = list(range(concurrency))  # per worker: index of its next request

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        if self.tunnel is not None:
            writer.write(f"CONNECT {self.tunnel} HTTP/1.1\r\nHost: {self.tunnel}\r\n\r\n".encode())
            status_line = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]
            if status_line.split(b" ", 2)[1] != b"200":
                raise RuntimeError(f"CONNECT refused: {status_line!r}")
            context = self.tls or ssl.create_default_context()
            context.set_alpn_protocols(["h2"] if self.http2 else ["http/1.1"])
            await writer.start_tls(context, server_hostname=self.sni)
            chosen = writer.get_extra_info("ssl_object").selected_alpn_protocol()
            if chosen != ("h2" if self.http2 else "http/1.1"):
                raise RuntimeError(f"the proxy chose {chosen!r} (ALPN)")
        return reader, writer

    async def open(self) -> None:
        for _ in range(min(H2_CONNECTIONS, self.concurrency) if self.http2 else self.concurrency):
            reader, writer = await self._connect()
            self.connections.append(
                _Http2(reader, writer) if self.http2 else _Http1(reader, writer)
            )

    def close(self) -> None:
        for connection in self.connections:
            connection.close()

    async def exchange(self, k: int, index: int) -> int:
        """Worker ``k`` sends request ``index`` (modulo the list) and awaits the answer's status."""
        connection = self.connections[k % len(self.connections)]
        return await connection.exchange(self.requests[index % len(self.requests)])

    async def run(self, seconds: float) -> Result:
        """Send requests for ``seconds``, each worker its next one as soon as the answer to its
        last one is in (throughput), latency timed from the send. Paced runs:
        :func:`run_paired`."""
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        n = self.concurrency
        began = time.perf_counter()
        deadline = began + seconds

        async def worker(k: int) -> None:
            while (start := time.perf_counter()) < deadline:
                status = await self.exchange(k, self.next[k])
                self.next[k] += n
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(worker(k) for k in range(n)))
        return Result(len(latencies), time.perf_counter() - began, latencies, statuses)


async def _timed(answer: Awaitable[int]) -> tuple[int, float]:
    status = await answer
    return status, time.perf_counter()


async def run_paired(
    bare: Client, other: Client, seconds: float, rate: float
) -> tuple[Result, Result, list[float]]:
    """Paced runs of two proxies at once: each request goes through both at the same scheduled
    moment (``rate`` requests/s in all, each worker pair its share), both latencies timed
    from that moment. The third result is each request's latency through ``other`` less its
    latency through ``bare``.

    The two copies of a request go out one after the other, and the client and the upstream
    serve one at a time; whichever goes second waits for them. So the order alternates, or
    ``other`` would pay for it: with HTTP/2, where both are slower (``h2`` in Python), that
    put +0.27 ms on ``other``'s median even when its addon did nothing."""
    results = (Result(0, 0.0, [], {}), Result(0, 0.0, [], {}))
    added: list[float] = []
    n = bare.concurrency
    interval = n / rate
    began = time.perf_counter()
    deadline = began + seconds

    async def worker(k: int) -> None:
        due = began + k * interval / n
        while due < deadline:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            index = bare.next[k]
            bare.next[k] += n
            # Tasks start in the order they are made: every other request, `other` sends first.
            order = (bare, other) if (index // n) % 2 == 0 else (other, bare)
            sent = {c: asyncio.ensure_future(_timed(c.exchange(k, index))) for c in order}
            answers = [await sent[bare], await sent[other]]
            for result, (status, done) in zip(results, answers, strict=True):
                result.latencies.append(done - due)
                result.statuses[status] = result.statuses.get(status, 0) + 1
            added.append(answers[1][1] - answers[0][1])
            due += interval

    await asyncio.gather(*(worker(k) for k in range(n)))
    for result in results:
        result.requests = len(result.latencies)
        result.seconds = time.perf_counter() - began
    return results[0], results[1], added


Runs = dict[tuple[str, str], list[Result]]
Paced = dict[tuple[str, str], Result]


def _measure(
    clients: dict[tuple[str, str, int], Client],
    configs: list[str],
    loads: list[str],
    pids: dict[tuple[str, int], int],
    args: argparse.Namespace,
) -> tuple[Runs, Paced, dict[str, list[float]]]:
    """Run the interleaved rounds: per round and load, every config for ``args.slice``
    seconds at full speed (with its proxy's CPU time, :func:`proxy_cpu`, from process
    ``pids[(config, instance)]``), then (``args.rate``) bare and formshield paced side by
    side (:func:`run_paired`). Round ``r`` uses each config's instance ``r % args.instances``
    (``clients`` are keyed by config, load and instance); results are kept per config and
    load, one per round."""

    async def timed_run(config: str, load: str, instance: int) -> Result:
        pid = pids[(config, instance)]
        before = proxy_cpu(pid)
        result = await clients[(config, load, instance)].run(args.slice)
        after = proxy_cpu(pid)
        if before is not None and after is not None:
            result.cpu_main, result.cpu_all = after[0] - before[0], after[1] - before[1]
        return result

    async def go() -> tuple[Runs, Paced, dict[str, list[float]]]:
        for client in clients.values():
            await client.open()
        for client in clients.values():  # warm-up: connections, caches, the addon's first use
            await client.run(args.warm_up)
        runs: Runs = {(config, load): [] for config in configs for load in loads}
        paced: Paced = {}
        added: dict[str, list[float]] = {}
        for round_no in range(args.rounds):
            # Rotate which config goes first, so none always runs right after another.
            order = configs[round_no % len(configs) :] + configs[: round_no % len(configs)]
            instance = round_no % args.instances
            for load in loads:
                for config in order:
                    runs[(config, load)].append(await timed_run(config, load, instance))
                if args.rate:
                    bare, shield, extra = await run_paired(
                        clients[("bare", load, instance)],
                        clients[("formshield", load, instance)],
                        args.slice,
                        args.rate,
                    )
                    paced.setdefault(("bare", load), Result(0, 0.0, [], {})).add(bare)
                    paced.setdefault(("formshield", load), Result(0, 0.0, [], {})).add(shield)
                    added.setdefault(load, []).extend(extra)
            done = {key: rs[-1] for key, rs in runs.items()}
            print(f"  round {round_no + 1}/{args.rounds}: "
                  + "  ".join(f"{c}/{lo} {r.rps:.0f}" for (c, lo), r in done.items()),
                  file=sys.stderr, flush=True)  # fmt: skip
        for client in clients.values():
            client.close()
        return runs, paced, added

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=20, help="interleaved rounds of every config and load"
    )
    parser.add_argument(
        "--slice", type=float, default=1.0, help="seconds per config and load in each round"
    )
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds of warm-up per client")
    parser.add_argument(
        "--instances",
        type=int,
        default=2,
        help="mitmdump processes per config, taken in turn by the rounds",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive client connections")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive Presidio anchor")
    parser.add_argument(
        "--cookies",
        action="store_true",
        help="add a third load, 'cookies': the browsing mix with each site's Cookie header",
    )
    parser.add_argument(
        "--hook-cpu",
        action="store_true",
        help="time formshield's request hook inside mitmdump (scripts/hook_cpu_addon.py)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="HTTPS, as a browser mostly browses: each connection is a CONNECT tunnel in which "
        "the client and the upstream speak TLS (HTTP/1.1) with the proxy",
    )
    parser.add_argument(
        "--http2",
        action="store_true",
        help="as --tls, with HTTP/2 between the client and the proxy (as browsers speak to "
        "most HTTPS sites): all requests in flight on two connections",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="requests/s of the paced latency runs (below every config's capacity); 0: skip",
    )
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    args.tls = args.tls or args.http2

    upstream_port = free_port()
    target = f"127.0.0.1:{upstream_port}"
    rng = random.Random(7)
    loads = {
        "browsing": browsing_mix(rng, 4000, target),
        "forms": forms_only(rng, 2000, target),
    }
    if args.cookies:
        loads["cookies"] = browsing_mix(random.Random(7), 4000, target, cookies=True)
    if args.tls:
        loads = {load: [origin_form(r) for r in reqs] for load, reqs in loads.items()}
    configs = ["bare", "formshield"] + ([] if args.no_naive else ["naive-presidio"])
    workdir = tempfile.TemporaryDirectory()
    tmp = Path(workdir.name)
    upstream_args = [sys.executable, "-c", UPSTREAM_CODE, str(upstream_port)]
    if args.tls:
        upstream_args.append(str(upstream_certificate(tmp)))
    upstream = subprocess.Popen(upstream_args)
    procs: list[subprocess.Popen[bytes]] = []
    pids: dict[tuple[str, int], int] = {}
    hook_cpu: list[Path] = []  # one tally file per formshield instance
    if args.hook_cpu:
        for _ in range(args.instances):
            handle, name = tempfile.mkstemp(prefix="formshield-hook-cpu-", suffix=".json")
            os.close(handle)
            hook_cpu.append(Path(name))
    try:
        wait_listening(upstream_port, upstream, "upstream")
        # Every proxy runs for the whole benchmark (idle ones cost nothing) and the runs are
        # short and interleaved: this machine's speed drifts by tens of percent within
        # seconds, so a ratio is only fair between runs made seconds apart, and only steady
        # when taken over many of them.
        ports = {}
        for instance in range(args.instances):
            for config in configs:
                tally = hook_cpu[instance] if hook_cpu else None
                proc, port = start_mitmdump(config, tmp, tally, instance, tls=args.tls)
                procs.append(proc)
                pids[(config, instance)], ports[(config, instance)] = proc.pid, port
        tunnel: dict[str, Any] = {}
        if args.tls:  # the CA the first mitmdump made in the shared confdir
            ca = ssl.create_default_context(cafile=tmp / "conf" / "mitmproxy-ca-cert.pem")
            tunnel = {"tunnel": target, "tls": ca, "http2": args.http2}
        clients = {
            (config, load, instance): Client(port, reqs, args.concurrency, **tunnel)
            for (config, instance), port in ports.items()
            for load, reqs in loads.items()
        }
        runs, paced, added = _measure(clients, configs, list(loads), pids, args)
    finally:
        for proc in procs:
            proc.terminate()  # mitmdump shuts down cleanly: the hook timer writes its tally
            proc.wait(10)
        upstream.terminate()
        upstream.wait(10)
        workdir.cleanup()
    # The formshield instances' tallies, merged: CPU summed, wall times pooled, per kind.
    hook_tally: dict[str, dict[str, Any]] = {}
    for path in hook_cpu:
        text = path.read_text(encoding="utf-8")
        path.unlink()
        for kind, entry in (json.loads(text) if text else {}).items():
            merged = hook_tally.setdefault(kind, {"cpu_s": 0.0, "wall_s": []})
            merged["cpu_s"] += entry["cpu_s"]
            merged["wall_s"] += entry["wall_s"]

    def total(config: str, load: str) -> Result:
        pooled = Result(0, 0.0, [], {})
        for r in runs[(config, load)]:
            pooled.add(r)
        return pooled

    def ratio(config: str, load: str) -> float:
        """The config's throughput over bare mitmdump's, over the same interleaved rounds."""
        return total(config, load).rps / total("bare", load).rps

    def interval(config: str, load: str, draws: int = 2000) -> tuple[float, float]:
        """95% bootstrap interval of :func:`ratio`: rounds resampled with replacement (a
        round's runs stay paired), the ratio of totals recomputed each time."""
        pairs = [
            (r.requests, r.seconds, b.requests, b.seconds)
            for r, b in zip(runs[(config, load)], runs[("bare", load)], strict=True)
        ]
        rng = random.Random(1)
        stats = []
        for _ in range(draws):
            sample = rng.choices(pairs, k=len(pairs))
            n, t, bn, bt = (sum(col) for col in zip(*sample, strict=True))
            stats.append((n / t) / (bn / bt))
        stats.sort()
        return stats[int(0.025 * draws)], stats[int(0.975 * draws) - 1]

    def round_ratios(config: str, load: str) -> list[float]:
        return [
            r.rps / b.rps for r, b in zip(runs[(config, load)], runs[("bare", load)], strict=True)
        ]

    protocol = (
        f"on {H2_CONNECTIONS} HTTP/2 connections (HTTPS: CONNECT tunnels, TLS)" if args.http2
        else "on as many HTTP/1.1 connections (HTTPS: CONNECT tunnels, TLS)" if args.tls
        else "on as many keep-alive HTTP/1.1 connections (plain HTTP)"
    )  # fmt: skip
    print(f"\nProxy benchmark: {args.concurrency} requests in flight {protocol}, "
          f"{args.rounds} rounds "
          f"of {args.slice:g} s per config and load, interleaved, {args.instances} mitmdump "
          f"process(es) per config taken in turn, 127.0.0.1, {os.cpu_count()} cores")  # fmt: skip
    print(f"{'config':15} {'load':9} {'req/s':>8} {'x bare':>7} {'95% interval':>13} "
          f"{'rounds: median':>15} {'quartiles':>11} {'p50 ms':>7} {'p99 ms':>7}  "
          "statuses")  # fmt: skip
    for config, load in runs:
        pooled = total(config, load)
        each = sorted(round_ratios(config, load))
        q1, q3 = each[len(each) // 4], each[(3 * len(each)) // 4]
        lo, hi = interval(config, load)
        print(f"{config:15} {load:9} {pooled.rps:8.0f} {ratio(config, load):7.2f} "
              f"{lo:6.2f}-{hi:4.2f}  {statistics.median(each):15.2f} {q1:5.2f}-{q3:4.2f} "
              f"{pooled.pct(0.5):7.2f} {pooled.pct(0.99):7.2f}  "
              f"{dict(sorted(pooled.statuses.items()))}")  # fmt: skip
    if all(r.cpu_main for rs in runs.values() for r in rs):
        print("\nmitmdump CPU per request over the same runs, main thread (bounds throughput) "
              "and all threads, µs; + bare: formshield's or naive Presidio's share")  # fmt: skip
        print(f"{'config':15} {'load':9} {'main':>8} {'all':>8} {'+ bare main':>12}")
        for config, load in runs:
            pooled, bare = total(config, load), total("bare", load)
            main_us = 1e6 * pooled.cpu_main / pooled.requests
            all_us = 1e6 * pooled.cpu_all / pooled.requests
            extra = main_us - 1e6 * bare.cpu_main / bare.requests
            print(f"{config:15} {load:9} {main_us:8.0f} {all_us:8.0f} "
                  f"{'' if config == 'bare' else f'{extra:+12.0f}'}")  # fmt: skip
    if hook_tally:
        print("\nformshield's request hook inside mitmdump (--hook-cpu), by kind of request, over "
              "every run and the warm-up: CPU per request, and the wall time a call took "
              "(what the hook itself adds to a request's latency)")  # fmt: skip
        print(f"  {'kind':11} {'CPU µs':>7} {'wall p50 ms':>12} {'p99 ms':>7} {'max ms':>7}"
              "  requests")  # fmt: skip
        for kind, entry in sorted(hook_tally.items()):
            walls = sorted(entry["wall_s"])
            n = len(walls)
            print(f"  {kind:11} {1e6 * entry['cpu_s'] / n:7.0f} "
                  f"{1000 * percentile(walls, 0.5):12.3f} {1000 * percentile(walls, 0.99):7.3f} "
                  f"{1000 * percentile(walls, 1.0):7.1f}  {n}")  # fmt: skip
    if paced:
        print(
            f"\nLatency at a fixed {args.rate:g} requests/s (below capacity: no queue), each "
            "request sent through bare and formshield at the same scheduled moment and timed "
            "from it, same interleaved rounds"
        )
        print(f"{'config':15} {'load':9} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'+p99 ms':>8}"
              "  added to each request: median ms")  # fmt: skip
        for (config, load), p in paced.items():
            b50, b99 = paced[("bare", load)].pct(0.5), paced[("bare", load)].pct(0.99)
            each = sorted(added[load])
            median = f"{1000 * each[len(each) // 2]:35.2f}" if config != "bare" else ""
            print(f"{config:15} {load:9} {p.pct(0.5):7.2f} {p.pct(0.99):7.2f} "
                  f"{p.pct(0.5) - b50:8.2f} {p.pct(0.99) - b99:8.2f}{median}")  # fmt: skip
    fs_a, fs_b = ratio("formshield", "browsing"), ratio("formshield", "forms")
    (a_lo, a_hi), (b_lo, b_hi) = interval("formshield", "browsing"), interval("formshield", "forms")
    print(f"\ntargets (throughput over all rounds, x bare; 95% interval): "
          f"browsing >= 0.90x: {fs_a:.3f}x ({a_lo:.2f}-{a_hi:.2f}) "
          f"{'OK' if fs_a >= 0.9 else 'MISSED'}; "
          f"forms >= 0.80x: {fs_b:.3f}x ({b_lo:.2f}-{b_hi:.2f}) "
          f"{'OK' if fs_b >= 0.8 else 'MISSED'}")  # fmt: skip
    if not args.no_naive:
        print(f"naive Presidio addon (the anchor): browsing "
              f"{ratio('naive-presidio', 'browsing'):.2f}x, forms "
              f"{ratio('naive-presidio', 'forms'):.2f}x")  # fmt: skip
    if paced:
        added_p99 = {
            load: paced[("formshield", load)].pct(0.99) - paced[("bare", load)].pct(0.99)
            for load in loads
        }
        # The target covers the two loads; the cookies load has none of its own.
        worst = max(added_p99["browsing"], added_p99["forms"])
        per_load = ", ".join(f"{load} {ms:.2f}" for load, ms in added_p99.items())
        print(f"p99 added < 5 ms at {args.rate:g} req/s on browsing and forms: {worst:.2f} ms "
              f"{'OK' if worst < 5 else 'MISSED'} (each load, ms: {per_load})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
