"""Tests for scripts/bench_proxy.py: its loads keep their meaning in every protocol, and a short
run over HTTP/2 works end to end (real mitmdumps on 127.0.0.1; nothing here is timed)."""

from __future__ import annotations

import random
import re

import pytest

from scripts import bench_proxy
from scripts.bench_proxy import browsing_mix, forms_only, h2_request, origin_form

UPSTREAM = "127.0.0.1:9"


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
         b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        (b"GET http://127.0.0.1:9/item/1?page=2&x=http://b HTTP/1.1\r\nHost: a.test\r\n\r\n",
         b"GET /item/1?page=2&x=http://b HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        (b"POST http://127.0.0.1:9/order HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\na=1",
         b"POST /order HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\na=1"),
    ],
)  # fmt: skip
def test_origin_form(raw: bytes, expected: bytes) -> None:
    assert origin_form(raw) == expected


def _loads() -> list[bytes]:
    return browsing_mix(random.Random(3), 300, UPSTREAM, cookies=True) + forms_only(
        random.Random(3), 50, UPSTREAM
    )


@pytest.mark.parametrize("raw", _loads()[:60] + _loads()[-20:])
def test_every_request_means_the_same_in_each_protocol(raw: bytes) -> None:
    head, body = raw.split(b"\r\n\r\n", 1)
    line, *fields = head.split(b"\r\n")
    method, url, _ = line.split(b" ")
    headers = {name.lower(): value for name, value in (f.split(b": ", 1) for f in fields)}

    tunneled = origin_form(raw)
    path = url.removeprefix(f"http://{UPSTREAM}".encode())
    assert tunneled.split(b"\r\n", 1)[0] == method + b" " + path + b" HTTP/1.1"
    assert tunneled.split(b"\r\n", 1)[1] == raw.split(b"\r\n", 1)[1]

    h2_headers, h2_body = h2_request(tunneled)
    assert h2_body == body
    assert h2_headers[:4] == [
        (b":method", method), (b":scheme", b"https"), (b":authority", headers[b"host"]),
        (b":path", path),
    ]  # fmt: skip
    rest = dict(h2_headers[4:])
    assert all(not name.startswith(b":") for name in rest)
    assert rest == {k: v for k, v in headers.items() if k != b"host"}
    if method == b"POST":
        assert rest[b"content-length"] == str(len(body)).encode()


@pytest.mark.e2e
def test_a_short_http2_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Both proxies answer over HTTP/2 in CONNECT tunnels; formshield blocks the third-party
    form posts (403), bare mitmdump passes everything; the report names the targets."""
    argv = ["--http2", "--rounds", "1", "--slice", "1", "--warm-up", "0.5", "--instances", "1",
            "--no-naive", "--rate", "20"]  # fmt: skip
    assert bench_proxy.main(argv) == 0
    out = capsys.readouterr().out
    assert "on 2 HTTP/2 connections (HTTPS: CONNECT tunnels, TLS)" in out
    rows = {
        (m.group(1), m.group(2)): m.group(3)
        for m in re.finditer(r"^(bare|formshield) +(browsing|forms) .*(\{.*\})$", out, re.M)
    }
    assert set(rows) == {(c, lo) for c in ("bare", "formshield") for lo in ("browsing", "forms")}
    assert all("403" not in statuses for (config, _), statuses in rows.items() if config == "bare")
    assert "403" in rows[("formshield", "forms")]
    assert re.search(r"^targets .*browsing >= 0\.90x: [0-9.]+x", out, re.M)
