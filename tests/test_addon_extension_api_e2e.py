"""End to end: the extension API of a real mitmdump (addon/mitm_script.py) on 127.0.0.1.

A client sends form posts through the proxy to a recording upstream while the test plays the
extension: it listens on /v1/events, answers held requests, changes the site policy and checks
form values. Assertions are on what the upstream received, on the proxy's answers and timing,
and on the audit store and log the proxy wrote.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Mitmdump, Upstream, free_port
from tests.test_addon_extension_api_client import ApiClient, SseClient

pytestmark = pytest.mark.e2e

ID = "11010519491231002X"
PHONE = "13912345678"
# Values only ever sent to /v1/check: they must appear nowhere in the proxy's files or log.
CHECK_ID = "440304199203158823"
CHECK_CARD = "6222021234567890128"
ASK_POLICY = """\
version: 1
rules:
  - id: ask-ids
    site: "*"
    destination: third-party
    entities: [CN_RESIDENT_ID]
    action: ask
    fallback: block
    timeout: 2
  # Held long enough for the test that measures other traffic meanwhile (a loaded machine must
  # not turn it into a timeout test).
  - id: ask-ids-slow
    site: "*"
    destination: slow.example
    entities: [CN_RESIDENT_ID]
    action: ask
    fallback: block
    timeout: 60
"""
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://shop.test"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


@pytest.fixture(scope="module")
def proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    data = tmp_path_factory.mktemp("api-e2e")
    policy = data / "ask.yaml"
    policy.write_text(ASK_POLICY)
    port = free_port()
    extra = ["--set", f"formshield_api_port={port}"]
    with Mitmdump(upstream.port, data, policies=[policy], extra=extra) as mitm:
        mitm.api_port = port  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        token_file = data / "api-token"
        while True:
            # The API starts in `running`, just after the proxy port opens. Ask it for its
            # status with its token: a bare port probe could meet another process that took
            # the free port meanwhile.
            if token_file.exists():
                client = ApiClient(port, token_file.read_text().strip(), timeout=1)
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if client.get("/v1/status").status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"API did not start:\n{mitm.output()}")
            time.sleep(0.1)
        yield mitm


@pytest.fixture(scope="module")
def client(proxy: Mitmdump) -> ApiClient:
    token = (proxy.data_dir / "api-token").read_text().strip()
    return ApiClient(proxy.api_port, token)  # type: ignore[attr-defined]


def send(proxy: Mitmdump, url: str, body: str, timeout: float = 20) -> tuple[int, float]:
    """POST ``body`` through the proxy; (status, seconds taken)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.proxy_url}))
    req = urllib.request.Request(url, data=body.encode(), headers=FORM, method="POST")
    start = time.monotonic()
    try:
        with opener.open(req, timeout=timeout) as resp:
            status = resp.status
            resp.read()
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.monotonic() - start


class Background:
    """A request through the proxy on its own thread (it may be held)."""

    def __init__(self, proxy: Mitmdump, url: str, body: str) -> None:
        self.result: tuple[int, float] | None = None
        self._thread = threading.Thread(target=self._run, args=(proxy, url, body), daemon=True)
        self._thread.start()

    def _run(self, proxy: Mitmdump, url: str, body: str) -> None:
        self.result = send(proxy, url, body)

    def join(self, timeout: float = 15) -> tuple[int, float]:
        self._thread.join(timeout)
        assert self.result is not None, "request did not finish"
        return self.result


def wait_for_listeners(client: ApiClient, n: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/v1/status").json()["listeners"] != n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} listeners")
        time.sleep(0.05)


def next_of(sse: SseClient, name: str, timeout: float = 5) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        event, data = sse.next(max(0.0, deadline - time.monotonic()))
        if event == name:
            assert isinstance(data, dict)
            return data


def decisions(proxy: Mitmdump) -> list[tuple[str, str]]:
    with sqlite3.connect(proxy.audit_path) as conn:
        return conn.execute("SELECT flow_id, answer FROM decisions ORDER BY id").fetchall()


def wait_for_decision(proxy: Mitmdump, flow_id: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fid, answer in decisions(proxy):
            if fid == flow_id:
                return answer
        time.sleep(0.1)
    raise AssertionError(f"no decision recorded for {flow_id}")


# --- status --------------------------------------------------------------------------------------


def test_status_lists_the_user_policy_last(proxy: Mitmdump, client: ApiClient) -> None:
    doc = client.get("/v1/status").json()
    assert doc["api"] == "formshield"
    assert doc["policy_files"][-2].endswith("ask.yaml")
    assert doc["policy_files"][-1] == str(proxy.data_dir / "user-policy.yaml")
    assert doc["held"] == 0


# --- ask -----------------------------------------------------------------------------------------


def test_ask_without_listener_applies_the_fallback_at_once(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    wait_for_listeners(client, 0)
    status, took = send(proxy, "http://tracker.example/c?m=nobody", f"idNo={ID}")
    assert status == 403
    assert took < 1.5  # not held for the rule's 2 s
    assert upstream.bodies("m=nobody") == []


def test_held_request_is_released_by_send_once(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    with SseClient(client) as sse:
        wait_for_listeners(client, 1)
        request = Background(proxy, "http://tracker.example/c?m=once", f"idNo={ID}&ev=1")
        ask = next_of(sse, "ask")
        assert ask["site"] == "shop.test" and ask["fallback"] == "block"
        assert ask["url"] == "http://tracker.example/c"
        assert ID not in json.dumps(ask)
        held = client.get("/v1/held").json()["held"]
        assert [h["id"] for h in held] == [ask["id"]]
        assert upstream.bodies("m=once") == []  # still held
        reply = client.post(f"/v1/held/{ask['id']}", {"answer": "send_once"})
        assert reply.json() == {"id": ask["id"], "outcome": "send_once"}
        status, _ = request.join()
        assert status == 200
        assert upstream.bodies("m=once") == [f"idNo={ID}&ev=1".encode()]
        assert next_of(sse, "resolved") == {"id": ask["id"], "outcome": "send_once"}
        verdict = next_of(sse, "verdict")
        assert (verdict["id"], verdict["action"], verdict["applied"]) == (ask["id"], "ask", "allow")
    assert wait_for_decision(proxy, str(ask["id"])) == "send_once"


def test_held_request_is_killed_by_block(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    with SseClient(client) as sse:
        wait_for_listeners(client, 1)
        request = Background(proxy, "http://tracker.example/c?m=kill", f"idNo={ID}")
        ask = next_of(sse, "ask")
        client.post(f"/v1/held/{ask['id']}", {"answer": "block"})
        status, _ = request.join()
    assert status == 403
    assert upstream.bodies("m=kill") == []
    assert wait_for_decision(proxy, str(ask["id"])) == "block"


def test_unanswered_request_gets_the_fallback_after_the_timeout(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    with SseClient(client) as sse:
        wait_for_listeners(client, 1)
        status, took = send(proxy, "http://tracker.example/c?m=late", f"idNo={ID}")
        resolved = next_of(sse, "resolved")
    assert status == 403
    assert 1.8 < took < 5  # the rule's timeout is 2 s
    assert resolved["outcome"] == "timeout"
    assert upstream.bodies("m=late") == []
    late = client.post(f"/v1/held/{resolved['id']}", {"answer": "send_once"})
    assert late.status == 404


def test_other_traffic_flows_while_a_request_is_held(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    with SseClient(client) as sse:
        wait_for_listeners(client, 1)
        held = Background(proxy, "http://slow.example/c?m=held", f"idNo={ID}")
        ask = next_of(sse, "ask")
        for i in range(5):
            status, took = send(proxy, f"http://shop.test/order?m=free{i}", f"mobile={PHONE}")
            assert (status, took < 1) == (200, True), took
            status, took = send(proxy, f"http://tracker.example/c?m=redact{i}", f"tel={PHONE}")
            assert (status, took < 1) == (200, True), took
        assert held.result is None  # still waiting for its answer
        client.post(f"/v1/held/{ask['id']}", {"answer": "block"})
        assert held.join()[0] == 403


# --- policy changes ------------------------------------------------------------------------------


def test_policy_change_changes_the_next_verdict(
    proxy: Mitmdump, upstream: Upstream, client: ApiClient
) -> None:
    status, _ = send(proxy, "http://tracker.example/c?m=before", f"tel={PHONE}")
    assert status == 200 and upstream.bodies("m=before") == [b"tel=139****5678"]
    change = {"entity": "CN_PHONE", "party": "third-party", "action": "block"}
    reply = client.post("/v1/sites/shop.test/policy", change)
    assert reply.status == 200
    assert reply.json()["entities"]["CN_PHONE"]["third_party"]["action"] == "block"
    status, _ = send(proxy, "http://tracker.example/c?m=after", f"tel={PHONE}")
    assert status == 403 and upstream.bodies("m=after") == []
    client.post("/v1/sites/shop.test/policy", {"reset": True})
    status, _ = send(proxy, "http://tracker.example/c?m=reset", f"tel={PHONE}")
    assert status == 200 and upstream.bodies("m=reset") == [b"tel=139****5678"]


def test_always_allow_is_remembered(proxy: Mitmdump, upstream: Upstream, client: ApiClient) -> None:
    with SseClient(client) as sse:
        wait_for_listeners(client, 1)
        request = Background(proxy, "http://allow.tracker.example/c?m=always1", f"idNo={ID}")
        ask = next_of(sse, "ask")
        client.post(f"/v1/held/{ask['id']}", {"answer": "always_allow"})
        assert request.join()[0] == 200
        status, took = send(proxy, "http://allow.tracker.example/c?m=always2", f"idNo={ID}")
    assert status == 200 and took < 1  # not asked again
    assert len(upstream.bodies("m=always2")) == 1
    rules = client.get("/v1/sites/shop.test/policy").json()["user_rules"]
    assert [(r["entity"], r["party"], r["action"]) for r in rules] == [
        ("CN_RESIDENT_ID", "allow.tracker.example", "allow")
    ]
    client.post("/v1/sites/shop.test/policy", {"reset": True})


def test_bad_change_is_refused_and_the_file_kept(proxy: Mitmdump, client: ApiClient) -> None:
    client.post("/v1/sites/shop.test/policy", {"trust": "pay.example.com"})
    user_file = proxy.data_dir / "user-policy.yaml"
    before = user_file.read_bytes()
    bad = {"entity": "CN_PHONE", "party": "third-party", "action": "sometimes"}
    reply = client.post("/v1/sites/shop.test/policy", bad)
    assert reply.status == 400
    assert "unknown action 'sometimes'" in reply.json()["error"]
    assert user_file.read_bytes() == before
    client.post("/v1/sites/shop.test/policy", {"reset": True})


# --- check ---------------------------------------------------------------------------------------


def test_check_answers_with_masks_and_leaves_no_trace(proxy: Mitmdump, client: ApiClient) -> None:
    body = {
        "page": "https://shop.test/checkout",
        "action": "https://pay.tracker.example/submit",
        "fields": [
            {"name": "idNo", "label": "身份证号", "value": CHECK_ID},
            {"name": "card", "label": "银行卡号", "value": CHECK_CARD},
        ],
    }
    reply = client.post("/v1/check", body)
    assert reply.status == 200
    doc = reply.json()
    assert [(f["field"], f["entity_type"]) for f in doc["findings"]] == [
        ("idNo", "CN_RESIDENT_ID"),
        ("card", "CN_BANK_CARD"),
    ]
    assert doc["verdict"]["action"] == "block"  # the card to a third party; the ID would ask
    assert CHECK_ID.encode() not in reply.body and CHECK_CARD.encode() not in reply.body
    time.sleep(1.5)  # let the audit writer and the log catch up, had they anything to write
    for path in proxy.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CHECK_ID.encode() not in data and CHECK_CARD.encode() not in data, path
    assert CHECK_ID not in proxy.output() and CHECK_CARD not in proxy.output()


def test_attacks_fail_against_the_real_proxy(proxy: Mitmdump, client: ApiClient) -> None:
    assert ApiClient(client.port, None).get("/v1/status").status == 401
    assert ApiClient(client.port, "x" * 43).get("/v1/status").status == 401
    assert client.get(f"/v1/status?token={client.token}", headers=client.headers(
        Authorization=None)).status == 401  # fmt: skip
    evil = ApiClient(client.port, client.token, origin="https://evil.example")
    reply = evil.get("/v1/status")
    assert reply.status == 403 and "access-control-allow-origin" not in reply.headers
    rebind = client.get("/v1/status", headers=client.headers(Host=f"evil.example:{client.port}"))
    assert rebind.status == 421
    assert client.token is not None and client.token not in proxy.output()


def test_token_file_is_private(proxy: Mitmdump) -> None:
    assert (proxy.data_dir / "api-token").stat().st_mode & 0o777 == 0o600


def test_verdict_events_are_masked(proxy: Mitmdump, client: ApiClient) -> None:
    with SseClient(client, "/v1/events?site=shop.test") as sse:
        wait_for_listeners(client, 1)
        send(proxy, "http://tracker.example/c?m=event", f"tel={PHONE}")
        verdict = next_of(sse, "verdict")
    assert verdict["applied"] == "redact" and verdict["site"] == "shop.test"
    assert verdict["url"] == "http://tracker.example/c"
    assert verdict["findings"] == [
        {
            "entity_type": "CN_PHONE",
            "location": "form.tel",
            "masked": "139****5678",
            "score": verdict["findings"][0]["score"],  # type: ignore[index]
            "action": "redact",
            "rule": verdict["findings"][0]["rule"],  # type: ignore[index]
        }
    ]
    assert PHONE not in json.dumps(verdict)


def test_findings_endpoint_reads_the_proxy_audit(proxy: Mitmdump, client: ApiClient) -> None:
    send(proxy, "http://tracker.example/c?m=audit", f"tel={PHONE}")
    deadline = time.monotonic() + 5
    while True:
        rows = client.get("/v1/findings?site=shop.test&entity=CN_PHONE&limit=5").json()
        if rows["findings"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rows["findings"]
    assert all(r["masked"] == "139****5678" for r in rows["findings"])
    assert PHONE not in json.dumps(rows)


def test_user_file_is_private_and_valid(proxy: Mitmdump, client: ApiClient) -> None:
    client.post("/v1/sites/shop.test/policy", {"reset": True})
    path: Path = proxy.data_dir / "user-policy.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("# formshield user policy")
