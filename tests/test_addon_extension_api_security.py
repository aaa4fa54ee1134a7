"""Security of the extension API: every attack must fail (addon/api_security.py, api_token.py,
api_server.py).

The pure checks are tested as tables; then each attack is sent as raw HTTP to a real server on
127.0.0.1 (DNS rebinding Host headers, foreign and missing Origins, missing, wrong and
query-string tokens, preflights from bad origins), and the listening socket and token file are
inspected.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from addon.api_security import (
    OriginPolicy,
    bearer_token,
    check_request,
    host_allowed,
    parse_extension_origin,
    token_matches,
)
from addon.api_token import TOKEN_FILE, TokenError, load_or_create_token, new_token, token_path
from tests.test_addon_extension_api_client import (
    CHROME_ORIGIN,
    FIREFOX_ORIGIN,
    ApiClient,
    Reply,
    RunningApi,
    running_api,
)

OTHER_CHROME = "chrome-extension://" + "p" * 32

# --- pure checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, ok",
    [
        ("127.0.0.1:8765", True),
        ("localhost:8765", True),
        ("LOCALHOST:8765", True),
        ("[::1]:8765", True),
        ("127.0.0.1", False),  # no port
        ("127.0.0.1:8766", False),
        ("evil.example:8765", False),  # DNS rebinding
        ("127.0.0.1.nip.io:8765", False),
        ("localhost.:8765", False),
        ("127.0.0.1:8765 ", True),
        ("127.0.0.1:08765", False),
        ("user@127.0.0.1:8765", False),
        ("127.0.0.1:8765,evil.example", False),
        ("", False),
        (None, False),
        ("１２７.0.0.1:8765", False),
    ],
)
def test_host_allowed(host: str | None, ok: bool) -> None:
    assert host_allowed(host, 8765) is ok


@pytest.mark.parametrize(
    "extension_id, origin, ok",
    [
        ("", CHROME_ORIGIN, True),
        ("", FIREFOX_ORIGIN, True),
        ("", "https://evil.example", False),
        ("", "http://localhost", False),
        ("", "http://127.0.0.1:8765", False),
        ("", "null", False),
        ("", None, False),
        ("", "", False),
        ("", "chrome-extension://short", False),
        ("", CHROME_ORIGIN + "/", False),
        ("", CHROME_ORIGIN.upper(), False),
        ("", "moz-extension://not-a-uuid", False),
        ("", "safari-web-extension://abc", False),
        ("", CHROME_ORIGIN + ", https://evil.example", False),
        # with an id configured only that extension passes
        ("abcdefghijklmnopabcdefghijklmnop", CHROME_ORIGIN, True),
        ("abcdefghijklmnopabcdefghijklmnop", OTHER_CHROME, False),
        ("abcdefghijklmnopabcdefghijklmnop", FIREFOX_ORIGIN, False),
        (FIREFOX_ORIGIN, FIREFOX_ORIGIN, True),
        ("0f3c2a9e-7b1d-4c2e-9a8b-1234567890ab", FIREFOX_ORIGIN, True),
        ("0f3c2a9e-7b1d-4c2e-9a8b-1234567890ab", CHROME_ORIGIN, False),
    ],
)
def test_origin_policy(extension_id: str, origin: str | None, ok: bool) -> None:
    assert OriginPolicy(extension_id).allows(origin) is ok


@pytest.mark.parametrize(
    "value", ["nope", "https://evil.example", "chrome-extension://short", "ABCDEFGHIJKLMNOP" * 2]
)
def test_bad_extension_ids_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_extension_origin(value)


@pytest.mark.parametrize(
    "header, token",
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_token_matches() -> None:
    assert token_matches("Bearer secret", "secret")
    assert not token_matches("Bearer secreT", "secret")
    assert not token_matches("Bearer secre", "secret")
    assert not token_matches("Bearer sécret", "secret")
    assert not token_matches(None, "secret")
    assert not token_matches("Bearer ", "")


def test_checks_run_in_order() -> None:
    def check(
        host: str, origin: str | None, preflight: bool = False, sec_fetch_site: str | None = None
    ) -> tuple[int, bool] | None:
        refusal = check_request(
            host=host,
            origin=origin,
            authorization=None,
            port=1,
            origins=OriginPolicy(),
            token="t",
            sec_fetch_site=sec_fetch_site,
            preflight=preflight,
        )
        return None if refusal is None else (refusal.status, refusal.cors)

    assert check("evil:1", None) == (421, False)
    assert check("evil:1", None, sec_fetch_site="none") == (421, False)
    assert check("127.0.0.1:1", "null") == (403, False)
    assert check("127.0.0.1:1", CHROME_ORIGIN) == (401, True)
    assert check("127.0.0.1:1", CHROME_ORIGIN, preflight=True) is None


@pytest.mark.parametrize(
    "origin, method, sec_fetch_site, ok",
    [
        # Chromium: an extension's own GET carries no Origin but Sec-Fetch-Site: none
        (None, "GET", "none", True),
        ("", "HEAD", "None", True),
        # anything a web page can produce is refused
        (None, "GET", None, False),
        (None, "GET", "cross-site", False),
        (None, "GET", "same-site", False),
        (None, "GET", "same-origin", False),
        (None, "POST", "none", False),  # only safe methods: Chromium's POSTs carry an Origin
        (None, "OPTIONS", "none", False),
        ("https://evil.example", "GET", "none", False),  # a bad Origin is never excused
        ("null", "GET", "none", False),
    ],
)
def test_origin_less_requests(
    origin: str | None, method: str, sec_fetch_site: str | None, ok: bool
) -> None:
    refusal = check_request(
        host="127.0.0.1:1",
        origin=origin,
        authorization="Bearer t",
        port=1,
        origins=OriginPolicy(CHROME_ORIGIN),
        token="t",
        method=method,
        sec_fetch_site=sec_fetch_site,
    )
    assert (refusal is None) is ok
    if not ok:
        assert refusal is not None and (refusal.status, refusal.cors) == (403, False)


# --- the token file ------------------------------------------------------------------------------


def test_token_is_created_once_private_and_stable(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    assert len(token) == 43 and token == load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert path == token_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [TOKEN_FILE]
    assert new_token() != new_token()


def test_token_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    path.chmod(0o644)
    assert load_or_create_token(tmp_path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"", b"short", b"x" * 44, b"\xff" * 43])
def test_foreign_token_file_is_refused_not_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_bytes(content)
    with pytest.raises(TokenError, match="delete it"):
        load_or_create_token(tmp_path)
    assert path.read_bytes() == content


def test_token_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / TOKEN_FILE).mkdir()
    with pytest.raises(TokenError):
        load_or_create_token(tmp_path)


# --- attacks on a real server --------------------------------------------------------------------


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[RunningApi]:
    async with running_api(tmp_path / "data") as running:
        yield running


async def send(client: ApiClient, method: str, path: str, **kw: Any) -> Reply:
    return await asyncio.to_thread(functools.partial(client.request, method, path, **kw))


def assert_no_wildcard(reply: Reply) -> None:
    assert reply.headers.get("access-control-allow-origin") != "*"


async def test_a_good_request_passes_with_exact_cors(api: RunningApi) -> None:
    reply = await send(api.client, "GET", "/v1/status")
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == CHROME_ORIGIN
    assert reply.headers["vary"] == "Origin"
    assert reply.headers["cache-control"] == "no-store"
    assert "server" not in reply.headers
    assert reply.json()["api"] == "formshield"


@pytest.mark.parametrize(
    "authorization, query",
    [
        (None, ""),  # no token
        ("Bearer wrong-token-wrong-token-wrong-token-wro", ""),  # wrong token
        ("Basic {token}", ""),  # right token, wrong scheme
        (None, "?token={token}"),  # token in the query string is not accepted
        (None, "?access_token={token}"),
        ("Bearer {token}x", ""),
    ],
)
async def test_token_attacks_get_401(
    api: RunningApi, authorization: str | None, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = api.client.headers(Authorization=None)
    if authorization:
        headers["Authorization"] = authorization.format(token=api.token)
    for path in ("/v1/status", "/v1/held", "/v1/nowhere"):  # unknown paths too: no discovery
        reply = await send(api.client, "GET", path + query.format(token=api.token), headers=headers)
        assert reply.status == 401, path
        assert reply.json() == {"error": "missing or wrong token: pair the extension again"}
        # the extension may read the 401 (its origin is fine), nobody else could
        assert reply.headers["access-control-allow-origin"] == CHROME_ORIGIN
    assert api.token not in caplog.text  # not even the query-string attempt is logged


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", None, "http://localhost", "http://127.0.0.1", OTHER_CHROME],
)
async def test_origin_attacks_get_403_without_cors(tmp_path: Path, origin: str | None) -> None:
    async with running_api(tmp_path / "data", extension_id=CHROME_ORIGIN) as api:
        for method, path in (("GET", "/v1/status"), ("POST", "/v1/check"), ("GET", "/v1/events")):
            reply = await send(api.client, method, path, headers=api.client.headers(Origin=origin))
            assert reply.status == 403, (method, path)
            assert not any(h.startswith("access-control-") for h in reply.headers)
            assert reply.json() == {"error": "origin not allowed"}


async def test_chromium_origin_less_get_passes_with_the_token(api: RunningApi) -> None:
    headers = api.client.headers(Origin=None, Sec_Fetch_Site="none", Sec_Fetch_Mode="cors")
    reply = await send(api.client, "GET", "/v1/status", headers=headers)
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers  # not a CORS request
    no_token = {k: v for k, v in headers.items() if k != "Authorization"}
    assert (await send(api.client, "GET", "/v1/status", headers=no_token)).status == 401
    post = await send(api.client, "POST", "/v1/check", body={}, headers=headers)
    assert post.status == 403
    for value in ("cross-site", "same-site", "same-origin"):
        page = api.client.headers(Origin=None, Sec_Fetch_Site=value)
        assert (await send(api.client, "GET", "/v1/status", headers=page)).status == 403


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost",
        "127.0.0.1:1",
        "attacker.example",
    ],
)
async def test_dns_rebinding_hosts_are_refused(api: RunningApi, host: str) -> None:
    headers = api.client.headers(Host=host.format(port=api.port))
    reply = await send(api.client, "GET", "/v1/status", headers=headers)
    assert reply.status == 421
    assert not any(h.startswith("access-control-") for h in reply.headers)


async def test_missing_host_is_refused(api: RunningApi) -> None:
    headers = api.client.headers(Host=None)
    reply = await send(api.client, "GET", "/v1/status", headers=headers, skip_host=True)
    assert reply.status in (400, 421)
    assert_no_wildcard(reply)


@pytest.mark.parametrize("host", ["localhost:{port}", "[::1]:{port}"])
async def test_other_loopback_names_are_accepted(api: RunningApi, host: str) -> None:
    headers = api.client.headers(Host=host.format(port=api.port))
    assert (await send(api.client, "GET", "/v1/status", headers=headers)).status == 200


async def test_preflight(api: RunningApi) -> None:
    preflight = {
        "Host": f"127.0.0.1:{api.port}",
        "Origin": CHROME_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
        "Access-Control-Request-Private-Network": "true",
    }
    good = await send(api.client, "OPTIONS", "/v1/check", headers=preflight)
    assert good.status == 204
    assert good.headers["access-control-allow-origin"] == CHROME_ORIGIN
    assert good.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert "POST" in good.headers["access-control-allow-methods"]
    assert good.headers["access-control-allow-private-network"] == "true"
    assert good.headers["vary"] == "Origin"
    for bad in ("https://evil.example", "null"):
        reply = await send(api.client, "OPTIONS", "/v1/check", headers={**preflight, "Origin": bad})
        assert reply.status == 403
        assert not any(h.startswith("access-control-") for h in reply.headers)
    rebound = {**preflight, "Host": f"evil.example:{api.port}"}
    reply = await send(api.client, "OPTIONS", "/v1/check", headers=rebound)
    assert reply.status == 421
    assert not any(h.startswith("access-control-") for h in reply.headers)


async def test_listens_on_ipv4_loopback_only(api: RunningApi) -> None:
    assert api.server.addresses() == [("127.0.0.1", api.port)]
    # Another loopback address on the same port reaches nothing: the socket is bound to
    # 127.0.0.1 exactly (not 0.0.0.0, not ::).
    for family, address in ((socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            with pytest.raises(OSError):
                s.connect((address, api.port))


async def test_token_file_is_private(api: RunningApi) -> None:
    path = api.data_dir / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == api.token


async def test_no_response_ever_carries_a_wildcard(api: RunningApi) -> None:
    cases = [
        ("GET", "/v1/status", api.client.headers()),
        ("GET", "/v1/status", api.client.headers(Authorization=None)),
        ("GET", "/v1/status", api.client.headers(Origin="https://evil.example")),
        ("GET", "/v1/missing", api.client.headers()),
        ("POST", "/v1/check", api.client.headers()),
        ("OPTIONS", "/v1/status", api.client.headers(Origin="null")),
    ]
    for method, path, headers in cases:
        reply = await send(api.client, method, path, headers=headers)
        assert_no_wildcard(reply)
