"""Tests for policies/domains.py: host normalisation, sites, and domain patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.domains import (
    PatternKind,
    host_of_input,
    is_public_suffix,
    is_third_party,
    normalize_host,
    parse_domain_pattern,
    parse_site_pattern,
    registrable_domain,
)


@pytest.mark.parametrize(
    "host, expected",
    [
        ("WWW.JD.COM", "www.jd.com"),
        ("jd.com.", "jd.com"),
        ("api.jd.com:443", "api.jd.com"),
        ("  bank.com ", "bank.com"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("::1", "::1"),  # IPv6 literal: several colons, no port stripped
        ("a..b", "a..b"),  # not a valid name, returned as is (never raises)
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    "host, site",
    [
        ("www.jd.com", "jd.com"),
        ("jd.com", "jd.com"),
        ("zwfw.beijing.gov.cn", "beijing.gov.cn"),
        ("beijing.gov.cn", "beijing.gov.cn"),
        ("mapi.alipay.com", "alipay.com"),
        ("shop.example.com.cn", "example.com.cn"),
        ("user.github.io", "user.github.io"),  # private suffixes count, as in browsers
        ("192.168.1.1", "192.168.1.1"),
        ("localhost", "localhost"),
        ("gov.cn", "gov.cn"),  # a bare public suffix is its own site
        ("WWW.JD.COM:8443", "jd.com"),
    ],
)
def test_registrable_domain(host: str, site: str) -> None:
    assert registrable_domain(host) == site


@pytest.mark.parametrize(
    "site, destination, third",
    [
        ("jd.com", "api.jd.com", False),
        ("www.jd.com", "img.jd.com", False),
        ("jd.com", "hm.baidu.com", True),
        ("beijing.gov.cn", "gjzwfw.gov.cn", True),
        (None, "jd.com", True),
    ],
)
def test_is_third_party(site: str | None, destination: str, third: bool) -> None:
    assert is_third_party(site, destination) is third


@pytest.mark.parametrize(
    "name, suffix",
    [("gov.cn", True), ("com", True), ("github.io", True), ("jd.com", False), ("a.b.c", False)],
)
def test_is_public_suffix(name: str, suffix: bool) -> None:
    assert is_public_suffix(name) is suffix


@pytest.mark.parametrize(
    "text, kind, name, depth",
    [
        ("*", PatternKind.ANY, "*", 0),
        ("any", PatternKind.ANY, "*", 0),
        ("ANY", PatternKind.ANY, "*", 0),
        ("first-party", PatternKind.PARTY, "first-party", 0),
        ("third-party", PatternKind.PARTY, "third-party", 0),
        ("alipay.com", PatternKind.EXACT, "alipay.com", 2),
        ("Pay.Bank.COM.", PatternKind.EXACT, "pay.bank.com", 3),
        ("*.gov.cn", PatternKind.WILDCARD, "gov.cn", 2),
        ("*.cn", PatternKind.WILDCARD, "cn", 1),
        ("10.0.0.1", PatternKind.EXACT, "10.0.0.1", 4),
        ("例子.中国", PatternKind.EXACT, "xn--fsqu00a.xn--fiqs8s", 2),
    ],
)
def test_parse_domain_pattern(text: str, kind: PatternKind, name: str, depth: int) -> None:
    pattern = parse_domain_pattern(text, allow_party=True)
    assert (pattern.kind, pattern.name, pattern.depth, pattern.text) == (kind, name, depth, text)


@pytest.mark.parametrize(
    "text, reason",
    [
        # wildcards anywhere but as the whole first label
        ("cdn.*.example.com", "invalid wildcard"),
        ("*example.com", "invalid wildcard"),
        ("**.com", "invalid wildcard"),
        ("*.*.com", "invalid wildcard"),
        ("example.*", "invalid wildcard"),
        # not a domain
        ("*.", "invalid domain"),
        ("exa mple.com", "invalid domain"),
        ("-bad.com", "invalid domain"),
        ("a..com", "invalid domain"),
        ("https://bank.com/", "invalid domain"),
        ("", "invalid domain"),
    ],
)
def test_parse_domain_pattern_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_domain_pattern(text, allow_party=True)


def test_party_patterns_need_allow_party() -> None:
    with pytest.raises(ValueError, match="only valid as a destination"):
        parse_domain_pattern("first-party", allow_party=False)


@pytest.mark.parametrize(
    "pattern, host, matches",
    [
        # an explicit name covers itself and every name under it
        ("alipay.com", "alipay.com", True),
        ("alipay.com", "mapi.alipay.com", True),
        ("alipay.com", "notalipay.com", False),
        ("alipay.com", "alipay.com.evil.cn", False),
        # a wildcard covers only names under it
        ("*.gov.cn", "beijing.gov.cn", True),
        ("*.gov.cn", "www.beijing.gov.cn", True),
        ("*.gov.cn", "gov.cn", False),
        ("*.gov.cn", "xgov.cn", False),
        ("*", "anything.example", True),
        # party patterns are decided by the engine, never by the host alone
        ("first-party", "jd.com", False),
    ],
)
def test_matches_host(pattern: str, host: str, matches: bool) -> None:
    assert parse_domain_pattern(pattern, allow_party=True).matches_host(host) is matches


@pytest.mark.parametrize(
    "text", ["*", "jd.com", "beijing.gov.cn", "*.gov.cn", "*.com", "*.github.io"]
)
def test_site_patterns_accepted(text: str) -> None:
    parse_site_pattern(text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("www.jd.com", "not a registrable domain .*write 'jd.com'"),
        ("gov.cn", r"public suffix; write '\*.gov.cn'"),
        ("*.jd.com", "no site can match"),
        ("third-party", "only valid as a destination"),
    ],
)
def test_site_patterns_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_site_pattern(text)


@pytest.mark.parametrize(
    "text, host",
    [
        ("shop.com", "shop.com"),
        ("  WWW.Shop.COM.  ", "www.shop.com"),
        ("pay.shop.com:8443", "pay.shop.com"),
        ("shop.com/cart?id=1", "shop.com"),
        ("https://www.shop.com/cart", "www.shop.com"),
        ("https://pay.shop.com:8443/x?y=1#z", "pay.shop.com"),
        ("wss://chat.tracker.example/live", "chat.tracker.example"),
        ("http://user:pw@login.bank.com/", "login.bank.com"),
        ("https://例子.中国/", "xn--fsqu00a.xn--fiqs8s"),
        ("https://[2001:db8::1]:443/", "2001:db8::1"),
        ("[::1]:8080", "::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("", None),
        ("   ", None),
        ("not a host!", None),
        ("https:///path-only", None),
        ("https://[::1/", None),
        ("user@shop.com", None),
    ],
)
def test_host_of_input(text: str, host: str | None) -> None:
    assert host_of_input(text) == host


_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(st.lists(_labels, min_size=1, max_size=4), st.sampled_from(["http", "https", "wss"]))
def test_a_url_gives_the_host_it_names(labels: list[str], scheme: str) -> None:
    host = ".".join(labels)
    assert host_of_input(f"{scheme}://{host}:8080/a/b?c=d") == host_of_input(host) == host
