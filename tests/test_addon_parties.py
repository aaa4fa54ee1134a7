"""Tests of addon.parties: registrable domains, page sites, destinations, third parties."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tutils

from addon.parties import (
    Located,
    Parties,
    destination,
    host_and_port,
    is_third_party,
    locate,
    normalize_host,
    page_site,
    pretty_url,
    registrable_domain,
    request_parties,
)
from policies import domains

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "host, expected",
    [
        # PSL private section: each github.io / blogspot / S3 customer is its own party
        ("a.github.io", "a.github.io"),
        ("b.github.io", "b.github.io"),
        ("x.a.github.io", "a.github.io"),
        ("a.b.blogspot.com", "b.blogspot.com"),
        # multi-label public suffixes of China
        ("www.bank.com.cn", "bank.com.cn"),
        ("pay.bank.com.cn", "bank.com.cn"),
        ("bank.com.cn", "bank.com.cn"),
        ("www.gov.cn", "www.gov.cn"),
        ("hm.baidu.com", "baidu.com"),
        ("a.b.c.example.net.cn", "example.net.cn"),
        # case and trailing dots (absolute names), ideographic full stops
        ("WWW.Bank.COM.CN", "bank.com.cn"),
        ("pay.bank.com.cn.", "bank.com.cn"),
        ("pay.bank.com.cn。", "bank.com.cn"),
        ("  www.bank.com.cn  ", "bank.com.cn"),
        # IP addresses are their own party, canonical form
        ("127.0.0.1", "127.0.0.1"),
        ("10.1.2.3", "10.1.2.3"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        # localhost and unknown suffixes: the PSL default rule "*"
        ("localhost", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("app.localhost", "app.localhost"),
        ("x.app.localhost", "app.localhost"),
        ("intranet.corp", "intranet.corp"),
        ("a.intranet.corp", "intranet.corp"),
        # a host that is itself a public suffix
        ("github.io", "github.io"),
        ("com.cn", "com.cn"),
        # IDN: ASCII (punycode) form, whichever form came in
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("WWW.例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("www.xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s"),
        ("WWW.XN--FSQU00A.XN--FIQS8S", "xn--fsqu00a.xn--fiqs8s"),
        ("shop.例子.公司", "xn--fsqu00a.xn--55qx5d"),
        ("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("straße.de", "xn--strae-oqa.de"),  # UTS 46 non-transitional, as browsers
        # labels IDNA rejects are kept, not dropped
        ("a_b.example.com", "example.com"),
        ("😀.com", "xn--e28h.com"),
        # ports are not part of a host, but tolerated
        ("shop.example.com:8080", "example.com"),
        ("[::1]:8443", "::1"),
        ("1.2.3.4:80", "1.2.3.4"),
        # not host names: their own party, whole
        ("a..b.com", "a..b.com"),
        ("x y.com", "x y.com"),
        ("evil.com/a.b.com", "evil.com/a.b.com"),
        # nothing
        ("", ""),
        ("   ", ""),
        (".", ""),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("a.github.io", "b.github.io", False),
        ("www.bank.com.cn", "pay.bank.com.cn", True),
        ("shop.example.com", "EXAMPLE.COM.", True),
        ("127.0.0.1", "localhost", False),
        ("127.0.0.1", "127.0.0.2", False),
        ("例子.中国", "www.xn--fsqu00a.xn--fiqs8s", True),
        ("a.localhost", "b.localhost", False),
    ],
)
def test_same_party(a: str, b: str, same: bool) -> None:
    assert (registrable_domain(a) == registrable_domain(b)) is same


_HOSTISH = st.sampled_from(list("aZ09.-_[]:%。 \t\r\xad\u200bé中ß😀/@?#⒈ｆ"))


@given(st.one_of(st.text(max_size=60), st.text(alphabet=_HOSTISH, max_size=30)))
def test_registrable_domain_never_raises_and_is_idempotent(host: str) -> None:
    result = registrable_domain(host)
    assert isinstance(result, str)
    # a party's own party is itself (policies store parties and compare them again)
    assert registrable_domain(result) == result


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(_LABEL, min_size=1, max_size=3))
def test_subdomains_of_a_party_are_that_party(labels: list[str]) -> None:
    host = ".".join([*labels, "bank.com.cn"])
    assert registrable_domain(host) == "bank.com.cn"
    assert registrable_domain(host.upper() + ".") == "bank.com.cn"


@pytest.mark.parametrize(
    "host, expected",
    [
        ("Example.COM.", "example.com"),
        ("[::1]", "::1"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("", ""),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


def _request(host: str = "pay.bank.com.cn") -> Any:
    """A request to ``host`` with no headers at all (tutils.treq adds a Host header otherwise)."""
    return tutils.treq(host=host, port=443, headers=())


@pytest.mark.parametrize(
    "headers, expected_site",
    [
        # Origin first
        ({"Origin": "https://www.bank.com.cn"}, "bank.com.cn"),
        (
            {"Origin": "https://shop.example.cn:8443", "Referer": "https://a.github.io/"},
            "example.cn",
        ),
        # "null" Origin falls through to Referer
        ({"Origin": "null", "Referer": "https://a.github.io/page?q=1"}, "a.github.io"),
        ({"Origin": "null"}, None),
        # a malformed Origin falls through too
        ({"Origin": "garbage", "Referer": "http://127.0.0.1:8080/x"}, "127.0.0.1"),
        ({"Origin": "https://[::1", "Referer": "http://localhost/"}, "localhost"),
        # Referer alone, trimmed to origin by the referrer policy
        ({"Referer": "https://www.shop.com.cn/"}, "shop.com.cn"),
        ({"Referer": "https://例子.中国/页面"}, "xn--fsqu00a.xn--fiqs8s"),
        # a Referer with no host is no help
        ({"Referer": "/relative/path"}, None),
        # fetch metadata hints: the destination is the site
        ({"Sec-Fetch-Site": "same-origin"}, "bank.com.cn"),
        ({"Sec-Fetch-Site": "same-site"}, "bank.com.cn"),
        ({"Sec-Fetch-Site": "none"}, "bank.com.cn"),
        ({"Sec-Fetch-Site": "cross-site"}, None),
        # nothing at all (curl, apps)
        ({}, None),
    ],
)
def test_page_site(headers: dict[str, str], expected_site: str | None) -> None:
    req = _request()
    for name, value in headers.items():
        req.headers[name] = value
    assert page_site(req) == expected_site


def test_destination_prefers_host_header() -> None:
    # A reverse-proxied request: connection to 127.0.0.1, Host header names the site.
    req = tutils.treq(host="127.0.0.1", port=8080, headers=((b"host", b"hm.Tracker.COM:8080"),))
    assert destination(req) == "tracker.com"
    assert destination(tutils.treq(host="10.0.0.1", headers=())) == "10.0.0.1"


@pytest.mark.parametrize(
    "site, dest, expected",
    [
        ("bank.com.cn", "bank.com.cn", False),
        ("bank.com.cn", "tracker.com", True),
        ("a.github.io", "b.github.io", True),
        (None, "tracker.com", False),  # unknown site: documented as not third-party
    ],
)
def test_is_third_party(site: str | None, dest: str, expected: bool) -> None:
    assert is_third_party(site, dest) is expected


@pytest.mark.parametrize(
    "host, headers, expected",
    [
        (
            "www.bank.com.cn",
            {"Origin": "https://pay.bank.com.cn"},
            ("bank.com.cn", "bank.com.cn", False),
        ),
        ("hm.tracker.com", {"Referer": "https://www.shop.cn/"}, ("shop.cn", "tracker.com", True)),
        ("hm.tracker.com", {"Sec-Fetch-Site": "cross-site"}, (None, "tracker.com", True)),
        ("hm.tracker.com", {}, (None, "tracker.com", False)),
        ("b.github.io", {"Sec-Fetch-Site": "none"}, ("b.github.io", "b.github.io", False)),
    ],
)
def test_request_parties(host: str, headers: dict[str, str], expected: tuple[Any, ...]) -> None:
    req = _request(host)
    for name, value in headers.items():
        req.headers[name] = value
    assert request_parties(req) == Parties(*expected)
    assert locate(req) == Located(*host_and_port(req), Parties(*expected))


def test_extractor_uses_only_the_bundled_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the extractor must not open a socket or resolve a name."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    domains._extractor.cache_clear()
    registrable_domain.cache_clear()
    try:
        assert registrable_domain("a.github.io") == "a.github.io"
        assert registrable_domain("www.bank.com.cn") == "bank.com.cn"
    finally:
        domains._extractor.cache_clear()
        registrable_domain.cache_clear()


def test_no_network_and_no_cache_files_in_a_fresh_process(tmp_path: Path) -> None:
    """A fresh interpreter with sockets disabled and HOME elsewhere writes nothing anywhere."""
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import socket\n"
        "def boom(*a, **k): raise SystemExit('network used')\n"
        "socket.socket.connect = boom\n"
        "socket.create_connection = boom\n"
        "socket.getaddrinfo = boom\n"
        "from addon.parties import registrable_domain\n"
        "assert registrable_domain('a.github.io') == 'a.github.io'\n"
        "assert registrable_domain('pay.bank.com.cn') == 'bank.com.cn'\n"
        "print('ok')\n"
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "http://192.0.2.1/never",
    }
    env.pop("TLDEXTRACT_CACHE", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert list(home.rglob("*")) == []


_HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), max_size=60
)


@given(origin=_HEADER_TEXT, referer=_HEADER_TEXT, fetch_site=_HEADER_TEXT)
def test_request_parties_never_raise(origin: str, referer: str, fetch_site: str) -> None:
    req = _request("www.shop.cn")
    req.headers["Origin"] = origin
    req.headers["Referer"] = referer
    req.headers["Sec-Fetch-Site"] = fetch_site
    site, dest, third = request_parties(req)
    assert dest == "shop.cn"
    assert site is None or isinstance(site, str)
    assert third is is_third_party(site, dest) or (site is None and third)
    assert locate(req).parties == (site, dest, third)


@pytest.mark.parametrize(
    "url, headers, http_version",
    [
        ("http://127.0.0.1:9/order?x=1", {"Host": "tracker.example"}, "HTTP/1.1"),
        ("http://127.0.0.1:9/order", {"Host": "tracker.example:8080"}, "HTTP/1.1"),
        ("https://10.0.0.1/a", {"Host": "[2001:db8::1]:8443"}, "HTTP/1.1"),
        ("https://shop.example/a", {"Host": "bad host!"}, "HTTP/1.1"),
        ("https://shop.example:444/a/b?q", {}, "HTTP/1.1"),
        ("https://shop.example/a", {}, "HTTP/2.0"),
        ("https://shop.example/a", {"Host": "other.example:8443"}, "HTTP/2.0"),
        ("http://shop.example/*", {"Host": "shop.example"}, "HTTP/1.1"),
    ],
)
def test_host_and_port_and_pretty_url_match_mitmproxy(
    url: str, headers: dict[str | bytes, str | bytes], http_version: str
) -> None:
    request = http.Request.make("GET", url, b"", headers)
    request.http_version = http_version
    for _ in range(2):  # the second time from the cache
        host, port = host_and_port(request)
        assert host == request.pretty_host
        assert pretty_url(request, host, port) == request.pretty_url
        assert locate(request)[:2] == (host, port)


def test_host_and_port_prefers_the_http2_authority_over_host() -> None:
    host: dict[str | bytes, str | bytes] = {"Host": "b.example"}
    request = http.Request.make("GET", "https://shop.example/a", b"", host)
    request.http_version = "HTTP/2.0"
    request.authority = "a.example:444"
    assert host_and_port(request) == ("a.example", 444)
    assert request.pretty_host == "a.example"
    assert locate(request)[:2] == ("a.example", 444)
