#!/usr/bin/env python3
"""Record real captured traffic for the tests: tests/fixtures/captures/{shop,clean}.{mitm,har}.

What it does, all on 127.0.0.1 and nothing else:

1. starts a tiny upstream HTTP server (``http.server``) that answers every request with a small
   JSON body and speaks just enough WebSocket (RFC 6455) to echo messages back;
2. starts the real ``mitmdump`` of this venv as a *reverse* proxy in front of it, with
   ``keep_host_header`` so that each request keeps the site name it was sent to (the Host
   header: ``www.demo-shop.cn``, ``hm.stats-demo.com``...) without any DNS or /etc/hosts
   change; it writes the flow file (``-w``) and the HAR (``--set hardump=``);
3. sends a fixed list of requests through it with ``http.client`` (plus a raw-socket WebSocket
   client), as a browser on a shop page would: forms, XHR, a tracker beacon, gzip, base64,
   multipart, and requests that carry no personal data;
4. stops mitmdump with SIGINT (it writes the HAR on shutdown) and copies the files.

The fake values used are written to ``people.json`` beside the captures.
Two sessions are recorded: ``shop`` (personal data, including hard negatives) and ``clean``
(no personal data at all). Every personal value is fake: the standard's ID test vectors
(``11010519491231002X``...) and Faker zh_CN names, addresses and phone numbers with a fixed seed.
The expected findings are asserted in tests/test_addon_cli_scan.py; change both together.

Usage: ``.venv/bin/python scripts/make_capture_fixtures.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import phonenumbers
from faker import Faker

REPO = Path(__file__).resolve().parent.parent
MITMDUMP = REPO / ".venv" / "bin" / "mitmdump"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "captures"

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# The fake people of the shop session (standard test vectors for IDs, see shared cn-pii notes).
ID_FORM = "11010519491231002X"
ID_GBK = "360426199101010071"
ID_JSON = "44011320141005001x"
ID_GZIP = "412723199010050012"
ID_MULTIPART = "110102199101010078"


def fake_people(seed: int = 20240520) -> dict[str, str]:
    """Names, addresses and valid CN mobile numbers from Faker zh_CN with a fixed seed."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    phones: list[str] = []
    while len(phones) < 6:
        number = fake.phone_number()
        parsed = phonenumbers.parse(number, "CN")
        # Only numbers that phonenumbers' CN metadata calls valid mobiles, all distinct.
        if (
            phonenumbers.is_valid_number(parsed)
            and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
            and number not in phones
        ):
            phones.append(number)
    return {
        "name_form": fake.name(),
        "name_gbk": fake.name(),
        "name_multipart": fake.name(),
        "address_gbk": fake.address(),
        "phone_form": phones[0],
        "phone_gbk": phones[1],
        "phone_json": phones[2],
        "phone_beacon": phones[3],
        "phone_base64": phones[4],
        "phone_ws": phones[5],
    }


# --------------------------------------------------------------------------- upstream server


def _ws_read_frame(rfile: object) -> tuple[int, bytes] | None:
    """Read one client frame (always masked, RFC 6455 5.3); None at end of stream."""
    read: Callable[[int], bytes] = rfile.read  # type: ignore[attr-defined]
    head = read(2)
    if len(head) < 2:
        return None
    opcode = head[0] & 0x0F
    length = head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read(8))
    mask = read(4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read(length)))
    return opcode, payload


def _ws_frame(opcode: int, payload: bytes, *, masked: bool) -> bytes:
    """One final frame; client frames are masked, server frames are not."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Upstream(http.server.BaseHTTPRequestHandler):
    """Answers everything with ``{"ok": true}``; ``GET /ws`` with Upgrade echoes WebSocket."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the script's output to what it recorded

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._reply()

    do_POST = _reply
    do_PUT = _reply

    def _websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while (frame := _ws_read_frame(self.rfile)) is not None:
            opcode, payload = frame
            if opcode == 0x8:  # close: answer it and stop
                self.wfile.write(_ws_frame(0x8, payload[:2], masked=False))
                self.wfile.flush()
                return
            self.wfile.write(_ws_frame(opcode, payload, masked=False))
            self.wfile.flush()


class TcpEcho(socketserver.BaseRequestHandler):
    """A line echo server: the non-HTTP flow of the shop capture (a scan skips and counts it)."""

    def handle(self) -> None:
        data = self.request.recv(1024)
        if data:
            self.request.sendall(data)


# --------------------------------------------------------------------------- client side


class Browser:
    """Sends requests to the proxy as a browser would send them to the named sites."""

    def __init__(self, proxy_port: int, tcp_port: int) -> None:
        self.port = proxy_port
        self.tcp_port = tcp_port

    def raw_tcp(self, payload: bytes) -> None:
        """A plain TCP exchange through the proxy's TCP mode (not HTTP)."""
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=10) as sock:
            sock.sendall(payload)
            if sock.recv(1024) != payload:
                raise RuntimeError("TCP echo mismatch")

    def send(
        self,
        method: str,
        host: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = {"Host": host, "User-Agent": UA, "Accept-Language": "zh-CN,zh;q=0.9"}
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{method} {host}{path}: HTTP {response.status}")
        finally:
            conn.close()

    def websocket(
        self, host: str, path: str, messages: list[tuple[int, bytes]], headers: dict[str, str]
    ) -> None:
        """Open a WebSocket, send ``messages`` (opcode, payload), read the echoes, close."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {UA}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            rfile = sock.makefile("rb")
            status = rfile.readline()
            if b" 101 " not in status:
                raise RuntimeError(f"WebSocket upgrade refused: {status!r}")
            while rfile.readline() not in (b"\r\n", b""):
                pass
            for opcode, payload in messages:
                sock.sendall(_ws_frame(opcode, payload, masked=True))
                echo = _ws_read_frame(rfile)
                if echo is None or echo[1] != payload:
                    raise RuntimeError("WebSocket echo mismatch")
            sock.sendall(_ws_frame(0x8, struct.pack("!H", 1000), masked=True))
            _ws_read_frame(rfile)


def shop_session(b: Browser, p: dict[str, str]) -> None:
    """The ``shop`` capture: what a shop page and its trackers send (order = entry index)."""
    shop = "http://www.demo-shop.cn"
    nav = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    # 0: the user opens the shop (no personal data)
    b.send("GET", "www.demo-shop.cn", "/", headers=nav)
    # (not HTTP: a TCP flow, which a scan skips and counts; it takes no entry index)
    b.raw_tcp(b"HELO demo-shop\r\n")
    # 1: checkout form posted to its own site, UTF-8 urlencoded
    form = urlencode(
        {
            "name": p["name_form"],
            "idNo": ID_FORM,
            "phone": p["phone_form"],
            "orderNo": "202405201234567890",  # hard negative: 18 digits, not an ID
        }
    ).encode()
    b.send(
        "POST",
        "www.demo-shop.cn",
        "/checkout",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": shop,
            "Referer": f"{shop}/cart",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    # 2: a GBK member form with no charset in Content-Type (old Chinese sites)
    gbk_form = urlencode(
        {
            "xm": p["name_gbk"],
            "sfzh": ID_GBK,
            "lxdh": p["phone_gbk"],
            "dz": p["address_gbk"],
        },
        encoding="gbk",
    ).encode()
    b.send(
        "POST",
        "www.gbk-mall.com.cn",
        "/member/register.do",
        gbk_form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "http://www.gbk-mall.com.cn",
            "Referer": "http://www.gbk-mall.com.cn/member/register.jsp",
        },
    )
    # 3: a JSON XHR to the shop's API host (same site) with a nested ID and phone
    profile = {
        "data": {
            "user": {"idNo": ID_JSON, "nickname": "小王"},
            "contacts": [{"relation": "self", "tel": p["phone_json"]}],
        },
        "ts": 1716182345678,  # hard negative: 13-digit millisecond timestamp
    }
    b.send(
        "POST",
        "api.demo-shop.cn",
        "/v1/user/profile",
        json.dumps(profile, ensure_ascii=False).encode(),
        {
            "Content-Type": "application/json;charset=UTF-8",
            "Origin": shop,
            "Referer": f"{shop}/account",
            "Sec-Fetch-Site": "same-site",
            "X-Requested-With": "XMLHttpRequest",
        },
    )
    # 4: a third-party tracker beacon carrying the phone in its query
    query = urlencode(
        {"si": "9f3c1a2b", "u": p["phone_beacon"], "t": "1716182345678", "ep": "checkout"}
    )
    b.send(
        "GET",
        "hm.stats-demo.com",
        f"/hm.gif?{query}",
        headers={"Referer": f"{shop}/checkout", "Sec-Fetch-Site": "cross-site"},
    )
    # 5: a gzip-compressed JSON body
    address = {"receiver": p["name_form"], "mobile": p["phone_form"], "idCard": ID_GZIP}
    b.send(
        "POST",
        "api.demo-shop.cn",
        "/v1/address",
        gzip.compress(json.dumps(address, ensure_ascii=False).encode(), mtime=0),
        {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Origin": shop,
            "Sec-Fetch-Site": "same-site",
        },
    )
    # 6: a tracker collecting a base64-wrapped JSON blob with the phone
    blob = base64.b64encode(json.dumps({"phone": p["phone_base64"]}).encode()).decode()
    b.send(
        "POST",
        "log.stats-demo.com",
        "/collect",
        urlencode({"v": "2", "d": blob}).encode(),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": shop,
            "Sec-Fetch-Site": "cross-site",
        },
    )
    # 7: a multipart form with a text file attached
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    resume = f"简历\n姓名：{p['name_multipart']}\n联系电话：{p['phone_form']}\n".encode()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="realName"\r\n\r\n'
        f"{p['name_multipart']}\r\n".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="idCardNo"\r\n\r\n'
        f"{ID_MULTIPART}\r\n".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="resume"; filename="resume.txt"'
        "\r\nContent-Type: text/plain\r\n\r\n".encode()
        + resume
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    b.send(
        "POST",
        "www.demo-shop.cn",
        "/upload/resume",
        b"".join(parts),
        {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Origin": shop,
            "Sec-Fetch-Site": "same-origin",
        },
    )
    # 8: hard negatives only: order number, timestamps, SKU ids, amounts
    _order_query(b, shop)
    # 9: a search for a phone case: the word 手机 without any number
    b.send(
        "GET",
        "www.demo-shop.cn",
        "/search?" + urlencode({"q": "手机壳", "page": "2"}),
        headers={"Referer": f"{shop}/", "Sec-Fetch-Site": "same-origin"},
    )
    # 10: a chat WebSocket: the client sends its phone in a text message
    b.websocket(
        "im.demo-shop.cn",
        "/ws",
        [
            (0x1, json.dumps({"type": "hello"}).encode()),
            (
                0x1,
                json.dumps(
                    {"type": "msg", "text": f"我的手机号是{p['phone_ws']}"}, ensure_ascii=False
                ).encode(),
            ),
            (0x2, bytes(range(16))),
        ],
        {"Origin": shop},
    )


def _order_query(b: Browser, shop: str) -> None:
    negatives = {
        "orderNo": "202405201234567890",
        "ts": 1716182345678,
        "skuIds": ["100012345678", "100098765432"],
        "amount": "199.00",
        "coupon": "SAVE2024",
    }
    b.send(
        "POST",
        "api.demo-shop.cn",
        "/v1/order/query",
        json.dumps(negatives).encode(),
        {"Content-Type": "application/json", "Origin": shop, "Sec-Fetch-Site": "same-site"},
    )


def clean_session(b: Browser, p: dict[str, str]) -> None:
    """The ``clean`` capture: browsing that carries no personal data."""
    del p
    shop = "http://www.demo-shop.cn"
    b.send("GET", "www.demo-shop.cn", "/", headers={"Sec-Fetch-Site": "none"})
    b.send("GET", "www.demo-shop.cn", "/static/app.js", headers={"Referer": f"{shop}/"})
    b.send(
        "GET",
        "www.demo-shop.cn",
        "/search?" + urlencode({"q": "手机壳", "page": "2"}),
        headers={"Referer": f"{shop}/"},
    )
    _order_query(b, shop)
    b.send(
        "POST",
        "hm.stats-demo.com",
        "/collect",
        json.dumps({"event": "pageview", "ts": 1716182345678, "path": "/"}).encode(),
        {"Content-Type": "text/plain;charset=UTF-8", "Origin": shop},
    )


# --------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited early with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"mitmdump did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def record(
    name: str,
    session: Callable[[Browser, dict[str, str]], None],
    *,
    people: dict[str, str],
    out: Path,
    upstream_port: int,
    echo_port: int,
    work: Path,
) -> None:
    """Run one mitmdump session through ``session`` and copy its flow file and HAR to ``out``."""
    flows, har = work / f"{name}.mitm", work / f"{name}.har"
    port, tcp_port = _free_port(), _free_port()
    cmd = [
        str(MITMDUMP),
        "--mode",
        f"reverse:http://127.0.0.1:{upstream_port}@127.0.0.1:{port}",
        "--mode",
        f"reverse:tcp://127.0.0.1:{echo_port}@127.0.0.1:{tcp_port}",
        "--set",
        "keep_host_header=true",
        "--set",
        f"confdir={work / 'mitmproxy-conf'}",  # its CA files go here, not to ~/.mitmproxy
        "--set",
        f"hardump={har}",
        "-w",
        str(flows),
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc)
        _wait_for_port(tcp_port, proc)
        session(Browser(port, tcp_port), people)
    finally:
        proc.send_signal(signal.SIGINT)  # mitmdump writes the HAR on a clean shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    if not har.exists():
        raise RuntimeError(f"mitmdump wrote no HAR for {name}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(flows, out / flows.name)
    shutil.copyfile(har, out / har.name)
    print(f"{name}: {flows.stat().st_size} B flows, {har.stat().st_size} B HAR -> {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    if not MITMDUMP.exists():
        print(f"error: {MITMDUMP} not found (run scripts/bootstrap.sh)", file=sys.stderr)
        return 2
    people = fake_people()
    # The fake values the captures hold, for the tests' expectations: reading them back keeps
    # the tests tied to the committed captures even if a later Faker draws other values.
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {**people, "ids": [ID_FORM, ID_GBK, ID_JSON, ID_GZIP, ID_MULTIPART]}
    (args.out / "people.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.daemon_threads = True
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TcpEcho)
    echo.daemon_threads = True
    for serve in (server.serve_forever, echo.serve_forever):
        threading.Thread(target=serve, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(
            prefix=f"formshield-capture-{uuid.uuid4().hex[:6]}-"
        ) as tmp:
            ports = (server.server_address[1], echo.server_address[1])
            for name, session in (("shop", shop_session), ("clean", clean_session)):
                record(
                    name,
                    session,
                    people=people,
                    out=args.out,
                    upstream_port=ports[0],
                    echo_port=ports[1],
                    work=Path(tmp),
                )
    finally:
        for srv in (server, echo):
            srv.shutdown()
            srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
