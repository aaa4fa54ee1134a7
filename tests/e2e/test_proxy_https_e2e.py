"""End to end over HTTPS, as browsers send nearly everything: a real mitmdump intercepting TLS.

The client opens a CONNECT tunnel, checks the certificate mitmproxy shows against mitmproxy's
CA (what a user trusts), and speaks HTTP/1.1 or HTTP/2 inside it. The upstream serves HTTPS
and speaks HTTP/2 when offered, as most sites do; its ``h2`` rejects a body whose length differs
from its content-length, so a redacted body that arrives arrived whole and consistent (formshield
sets the length, and mitmproxy sets it again before sending). Each case runs over both
protocols and asserts what the upstream received.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
from collections.abc import Iterator

import h2.config
import h2.connection
import pytest

from addon.blockpage import RULE_HEADER
from detectors.engine import Scanner
from tests.e2e.harness import Mitmdump, Upstream, https_request

pytestmark = pytest.mark.e2e

ID = "11010519491231002X"
PHONE = "13912345678"
FORM = {"content-type": "application/x-www-form-urlencoded", "origin": "https://shop.test"}
PROTOCOLS = [pytest.param(False, id="HTTP/1.1"), pytest.param(True, id="HTTP/2")]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(tls=True) as up:
        yield up


@pytest.fixture(scope="module")
def proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    data = tmp_path_factory.mktemp("proxy-https")
    with Mitmdump(upstream.port, data, https_upstream_port=upstream.port) as mitm:
        yield mitm


def version(http2: bool) -> str:
    return "HTTP/2" if http2 else "HTTP/1.1"


@pytest.mark.parametrize("http2", PROTOCOLS)
def test_id_to_tracker_is_blocked(proxy: Mitmdump, upstream: Upstream, http2: bool) -> None:
    marker = f"b-{int(http2)}"
    status, headers, body = https_request(
        proxy, f"https://tracker.example/collect?m={marker}", f"idNo={ID}".encode(), FORM,
        http2=http2,
    )  # fmt: skip
    assert status == 403
    assert "third-party-ids" in headers[RULE_HEADER.lower()]
    assert json.loads(body)["findings"][0]["masked"] == "110***********002X"
    assert ID.encode() not in body
    assert upstream.requests(marker) == []


@pytest.mark.parametrize("http2", PROTOCOLS)
def test_phone_to_tracker_is_redacted(proxy: Mitmdump, upstream: Upstream, http2: bool) -> None:
    marker = f"r-{int(http2)}"
    payload = {"event": "form", "fields": {"mobile": PHONE, "city": "杭州"}}
    status, _, _ = https_request(
        proxy,
        f"https://tracker.example/collect?m={marker}",
        json.dumps(payload, ensure_ascii=False).encode(),
        {"content-type": "application/json", "origin": "https://shop.test"},
        http2=http2,
    )
    assert status == 200
    [got] = upstream.requests(marker)
    assert got.http_version == version(http2)
    assert got.host == "tracker.example"
    assert json.loads(got.body) == {
        "event": "form",
        "fields": {"mobile": "139****5678", "city": "杭州"},
    }
    assert got.headers["content-length"] == str(len(got.body))
    assert Scanner().scan_text(got.body.decode()) == []


@pytest.mark.parametrize("http2", PROTOCOLS)
def test_gzip_body_is_redacted_and_recompressed(
    proxy: Mitmdump, upstream: Upstream, http2: bool
) -> None:
    marker = f"z-{int(http2)}"
    status, _, _ = https_request(
        proxy, f"https://tracker.example/collect?m={marker}",
        gzip.compress(json.dumps({"tel": PHONE, "page": 2}).encode()),
        {"content-type": "application/json", "content-encoding": "gzip",
         "referer": "https://www.shop.test/cart"},
        http2=http2,
    )  # fmt: skip
    assert status == 200
    [got] = upstream.requests(marker)
    assert got.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(got.body)) == {"tel": "139****5678", "page": 2}


def test_http2_body_without_a_length_is_redacted(proxy: Mitmdump, upstream: Upstream) -> None:
    """HTTP/2 needs no content-length (the stream's end tells); the redacted request that
    arrives has a body and a length that agree."""
    status, _, _ = https_request(
        proxy, "https://tracker.example/collect?m=r-nolen", f"tel={PHONE}&city=hz".encode(),
        FORM, http2=True, http2_length=False,
    )  # fmt: skip
    assert status == 200
    [got] = upstream.requests("m=r-nolen")
    assert got.body == b"tel=139****5678&city=hz"
    assert got.headers.get("content-length", str(len(got.body))) == str(len(got.body))


@pytest.mark.parametrize("http2", PROTOCOLS)
def test_phone_in_a_query_to_tracker_is_redacted(
    proxy: Mitmdump, upstream: Upstream, http2: bool
) -> None:
    marker = f"q-{int(http2)}"
    status, _, _ = https_request(
        proxy, f"https://tracker.example/p?m={marker}&tel={PHONE}", None,
        {"referer": "https://shop.test/cart"}, method="GET", http2=http2,
    )  # fmt: skip
    assert status == 200
    [got] = upstream.requests(marker)
    assert got.http_version == version(http2)
    assert got.path == f"/p?m={marker}&tel=139****5678"


@pytest.mark.parametrize("http2", PROTOCOLS)
def test_first_party_post_passes_intact(proxy: Mitmdump, upstream: Upstream, http2: bool) -> None:
    marker = f"f-{int(http2)}"
    body = f"name=%E5%BC%A0%E4%B8%89&idNo={ID}&mobile={PHONE}".encode()
    status, _, _ = https_request(
        proxy, f"https://www.shop.test/order?m={marker}", body, FORM, http2=http2
    )
    assert status == 200
    [got] = upstream.requests(marker)
    assert (got.http_version, got.host, got.body) == (version(http2), "www.shop.test", body)


def test_https_verdicts_are_audited_masked(proxy: Mitmdump, upstream: Upstream) -> None:
    """The audit store names HTTPS sites and destinations as it does plain HTTP ones, and holds
    no raw value of what it recorded."""
    https_request(proxy, "https://tracker.example/audit?m=a-1", f"idNo={ID}".encode(), FORM,
                  http2=True)  # fmt: skip
    rows = proxy.audit_rows(
        "SELECT v.url, v.site, v.destination, f.entity_type, f.masked, f.action "
        "FROM findings f JOIN verdicts v ON v.id = f.verdict_id WHERE v.url LIKE '%/audit'"
    )
    assert rows == [
        ("https://tracker.example/audit", "shop.test", "tracker.example", "CN_RESIDENT_ID",
         "110***********002X", "block"),
    ]  # fmt: skip
    dump = proxy.audit_dump()
    assert ID not in dump and PHONE not in dump


def test_upstream_refuses_a_body_its_length_does_not_match(upstream: Upstream) -> None:
    """The check the redaction cases lean on: the HTTP/2 upstream records nothing of a request
    whose body is shorter than its content-length says."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # its own certificate
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", upstream.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="tracker.example") as tls,
    ):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "POST"), (":scheme", "https"),
                              (":authority", "tracker.example"), (":path", "/?m=len"),
                              ("content-length", "10")])  # fmt: skip
        conn.send_data(1, b"short", end_stream=True)
        tls.sendall(conn.data_to_send())
        while tls.recv(65536):  # the upstream ends the connection
            pass
    assert upstream.requests("m=len") == []
