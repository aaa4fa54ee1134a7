"""The extension API's endpoints over real parts (scanner, policy store, audit store, user file),
served by a real tornado server on 127.0.0.1 and called with raw HTTP.

The end-to-end behaviour through a real mitmdump is in test_addon_extension_api_e2e.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from addon.api_check import MAX_FIELDS
from addon.holds import Held, new_expiry
from detectors.engine import Scanner
from tests.test_addon_extension_api_client import (
    ApiClient,
    Reply,
    RunningApi,
    SseClient,
    running_api,
    scanner,
)

ID = "11010519491231002X"
PHONE = "13912345678"
CARD = "6222021234567890128"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[RunningApi]:
    async with running_api(tmp_path / "data", ping_interval=0.3) as running:
        yield running


async def call(client: ApiClient, method: str, path: str, body: object = None, **kw: Any) -> Reply:
    return await asyncio.to_thread(functools.partial(client.request, method, path, body, **kw))


async def next_event(sse: SseClient, timeout: float = 5.0, **kw: Any) -> tuple[str, Any]:
    return await asyncio.to_thread(functools.partial(sse.next, timeout, **kw))


@contextlib.asynccontextmanager
async def open_sse(client: ApiClient, path: str = "/v1/events") -> AsyncIterator[SseClient]:
    """An event stream opened off the loop (the server under test runs on this loop)."""
    sse = await asyncio.to_thread(SseClient(client, path).__enter__)
    try:
        yield sse
    finally:
        await asyncio.to_thread(sse.close)


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


# --- status ---------------------------------------------------------------------------------------


async def test_status(api: RunningApi) -> None:
    reply = await call(api.client, "GET", "/v1/status")
    assert reply.status == 200
    doc = reply.json()
    assert doc["api"] == "formshield"
    assert doc["version"]
    assert doc["policy_files"][-1] == str(api.user_file)
    assert (doc["held"], doc["listeners"], doc["audit"]) == (0, 0, True)
    assert doc["policy_error"] is None


# --- findings -------------------------------------------------------------------------------------


def record(api: RunningApi, site: str, destination: str, text: str, action: str) -> None:
    audit = api.parts.audit
    assert audit is not None
    findings = Scanner().scan_text(text, location="form.x", name="x")
    audit.record_verdict(
        flow_id=f"f-{site}-{action}",
        method="POST",
        url=f"https://{destination}/c?x={PHONE}",
        destination=destination,
        action=action,
        rule="default.yaml:1 (r)",
        site=site,
        third_party=site != destination,
        findings=findings,
    )


async def test_findings_filters_and_pages(api: RunningApi) -> None:
    record(api, "shop.test", "tracker.example", f"{PHONE} {ID}", "block")
    record(api, "jd.com", "jd.com", PHONE, "allow")
    assert api.parts.audit is not None and api.parts.audit.flush()
    everything = (await call(api.client, "GET", "/v1/findings")).json()
    assert (everything["limit"], everything["offset"], everything["audit"]) == (50, 0, True)
    assert len(everything["findings"]) == 3
    shop = (await call(api.client, "GET", "/v1/findings?site=shop.test&entity=CN_PHONE")).json()
    [row] = shop["findings"]
    assert (row["masked"], row["destination"], row["url"]) == (
        "139****5678",
        "tracker.example",
        "https://tracker.example/c",
    )
    page = (await call(api.client, "GET", "/v1/findings?limit=1&offset=1")).json()
    assert len(page["findings"]) == 1 and page["offset"] == 1
    reply = await call(api.client, "GET", "/v1/findings")
    assert ID.encode() not in reply.body and PHONE.encode() not in reply.body


@pytest.mark.parametrize(
    "query, reason",
    [
        ("limit=0", "'limit' must be between 1 and 500"),
        ("limit=x", "'limit' must be an integer"),
        ("offset=-1", "'offset' must be between 0 and 1000000000"),
    ],
)
async def test_findings_bad_paging(api: RunningApi, query: str, reason: str) -> None:
    reply = await call(api.client, "GET", f"/v1/findings?{query}")
    assert (reply.status, reply.json()) == (400, {"error": reason})


async def test_findings_without_audit(tmp_path: Path) -> None:
    async with running_api(tmp_path / "d", audit=False) as api:
        doc = (await call(api.client, "GET", "/v1/findings")).json()
        assert (doc["findings"], doc["audit"]) == ([], False)


# --- site policy ----------------------------------------------------------------------------------


async def test_site_policy_view_of_the_default(api: RunningApi) -> None:
    doc = (await call(api.client, "GET", "/v1/sites/shop.test/policy")).json()
    assert doc["site"] == "shop.test"
    assert (doc["trusted"], doc["user_trusted"], doc["user_rules"]) == ([], [], [])
    phone = doc["entities"]["CN_PHONE"]
    assert phone["first_party"]["action"] == "allow"
    assert phone["third_party"] == {"action": "redact", "rule": phone["third_party"]["rule"]}
    assert "third-party-contact" in phone["third_party"]["rule"]
    assert doc["entities"]["CN_RESIDENT_ID"]["third_party"]["action"] == "block"


async def test_host_in_path_is_reduced_to_its_site(api: RunningApi) -> None:
    doc = (await call(api.client, "GET", "/v1/sites/www.shop.test/policy")).json()
    assert doc["site"] == "shop.test"


async def test_site_policy_for_a_destination(api: RunningApi) -> None:
    path = "/v1/sites/shop.test/policy?destination=pay.shop.test"
    doc = (await call(api.client, "GET", path)).json()
    assert doc["entities"]["CN_PHONE"]["destination"]["action"] == "allow"  # first party


async def test_policy_change_is_written_and_in_force_at_once(api: RunningApi) -> None:
    store = api.parts.policies
    assert store is not None
    before = store.policy.decide("shop.test", "tracker.example", "CN_PHONE", 1.0, third_party=True)
    assert str(before.action) == "redact"
    change = {"entity": "CN_PHONE", "party": "third-party", "action": "allow"}
    reply = await call(api.client, "POST", "/v1/sites/shop.test/policy", change)
    assert reply.status == 200
    doc = reply.json()
    assert doc["entities"]["CN_PHONE"]["third_party"] == {
        "action": "allow",
        "rule": "user-policy.yaml:9 (user:shop.test:CN_PHONE:third-party)",
    }
    assert doc["user_rules"] == [
        {
            "id": "user:shop.test:CN_PHONE:third-party",
            "site": "shop.test",
            "entity": "CN_PHONE",
            "party": "third-party",
            "action": "allow",
        }
    ]
    after = store.policy.decide("shop.test", "tracker.example", "CN_PHONE", 1.0, third_party=True)
    assert str(after.action) == "allow"
    # other sites keep the default
    other = store.policy.decide("jd.com", "tracker.example", "CN_PHONE", 1.0, third_party=True)
    assert str(other.action) == "redact"
    # the GET shows the same as the POST answered
    assert (await call(api.client, "GET", "/v1/sites/shop.test/policy")).json() == doc


async def test_trust_untrust_and_reset(api: RunningApi) -> None:
    path = "/v1/sites/shop.test/policy"
    doc = (await call(api.client, "POST", path, {"trust": "pay.example.com"})).json()
    assert (doc["trusted"], doc["user_trusted"]) == (["pay.example.com"], ["pay.example.com"])
    store = api.parts.policies
    assert store is not None
    trusted = store.policy.decide("shop.test", "pay.example.com", "CN_RESIDENT_ID", 1.0)
    assert str(trusted.action) == "warn"  # first party now: warned, not blocked
    await call(api.client, "POST", path, {"entity": "*", "party": "third-party", "action": "ask"})
    doc = (await call(api.client, "POST", path, {"untrust": "pay.example.com"})).json()
    assert doc["trusted"] == [] and len(doc["user_rules"]) == 1
    assert doc["user_rules"][0]["fallback"] == "block"
    doc = (await call(api.client, "POST", path, {"reset": True})).json()
    assert (doc["trusted"], doc["user_rules"]) == ([], [])


@pytest.mark.parametrize(
    "path, body, reason",
    [
        ("/v1/sites/shop.test/policy", {"trust": "*"}, "cannot trust '*'"),
        ("/v1/sites/shop.test/policy", {"untrust": "x.example"}, "is not trusted on shop.test"),
        (
            "/v1/sites/shop.test/policy",
            {"entity": "CN_PHONE", "party": "third-party", "action": "blok"},
            "unknown action 'blok'",
        ),
        (
            "/v1/sites/shop.test/policy",
            {"entity": "PHONE", "party": "third-party", "action": "allow"},
            "unknown entity type 'PHONE'",
        ),
        ("/v1/sites/shop.test/policy", ["trust"], "a change must be a JSON object"),
        ("/v1/sites/com.cn/policy", {"trust": "a.com"}, "is a public suffix"),
    ],
)
async def test_bad_change_is_400_and_leaves_the_file(
    api: RunningApi, path: str, body: object, reason: str
) -> None:
    await call(api.client, "POST", "/v1/sites/shop.test/policy", {"trust": "pay.example.com"})
    before = api.user_file.read_bytes()
    reply = await call(api.client, "POST", path, body)
    assert reply.status == 400
    assert reason in reply.json()["error"]
    assert api.user_file.read_bytes() == before


async def test_body_that_is_not_json_is_400(api: RunningApi) -> None:
    reply = await call(api.client, "POST", "/v1/sites/shop.test/policy", raw=b"{trust")
    assert reply.status == 400
    assert reply.json()["error"].startswith("the body is not JSON")
    reply = await call(api.client, "POST", "/v1/check", raw=b"\xff\xfe")
    assert reply.json() == {"error": "the body is not UTF-8"}


async def test_broken_user_file_is_reported(api: RunningApi) -> None:
    api.user_file.write_text("mode: simulate\n")
    reply = await call(api.client, "GET", "/v1/sites/shop.test/policy")
    assert reply.status == 409
    assert "'mode' cannot be kept" in reply.json()["error"]
    reply = await call(api.client, "POST", "/v1/sites/shop.test/policy", {"reset": True})
    assert reply.status == 400
    assert api.user_file.read_text() == "mode: simulate\n"


# --- check ----------------------------------------------------------------------------------------

CHECK_FIELDS = [
    {"name": "idNo", "label": "身份证号", "value": ID},
    {"name": "mobile", "label": "手机", "value": PHONE},
    {"name": "note", "label": "备注", "value": "请尽快发货"},
]


async def test_check_to_a_third_party(api: RunningApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = {
        "page": "https://www.shop.test/checkout",
        "action": "https://t.tracker.example/c",
        "fields": CHECK_FIELDS,
    }
    reply = await call(api.client, "POST", "/v1/check", body)
    assert reply.status == 200
    doc = reply.json()
    assert (doc["site"], doc["destination"], doc["third_party"]) == (
        "shop.test",
        "tracker.example",
        True,
    )
    assert [(f["field"], f["entity_type"], f["masked"], f["action"]) for f in doc["findings"]] == [
        ("idNo", "CN_RESIDENT_ID", "110***********002X", "block"),
        ("mobile", "CN_PHONE", "139****5678", "redact"),
    ]
    assert doc["verdict"]["action"] == "block"
    assert "third-party-ids" in doc["verdict"]["rule"]
    # the values are nowhere but in the request: not in the answer, the audit store, the logs
    assert ID.encode() not in reply.body and PHONE.encode() not in reply.body
    assert api.parts.audit is not None and api.parts.audit.flush()
    for path in api.data_dir.iterdir():
        if path.is_file():
            data = path.read_bytes()
            assert ID.encode() not in data and PHONE.encode() not in data, path.name
    assert ID not in caplog.text and PHONE not in caplog.text
    assert api.parts.audit.totals().verdicts == 0  # a check is not a request: nothing recorded


async def test_check_first_party_and_defaults(api: RunningApi) -> None:
    body = {"page": "https://shop.test/checkout", "fields": CHECK_FIELDS}
    doc = (await call(api.client, "POST", "/v1/check", body)).json()
    assert (doc["destination"], doc["third_party"]) == ("shop.test", False)
    assert doc["verdict"]["action"] == "warn"  # first-party-ids-warn
    relative = {**body, "action": "/submit"}
    assert (await call(api.client, "POST", "/v1/check", relative)).json()["third_party"] is False
    clean = {"page": "https://shop.test/", "fields": [{"name": "q", "value": "shoes"}]}
    doc = (await call(api.client, "POST", "/v1/check", clean)).json()
    assert doc == {
        "findings": [],
        "verdict": {"action": "allow", "rule": "", "message": None},
        "site": "shop.test",
        "destination": "shop.test",
        "third_party": False,
    }


async def test_check_follows_user_policy(api: RunningApi) -> None:
    change = {"entity": "CN_RESIDENT_ID", "party": "tracker.example", "action": "ask"}
    await call(api.client, "POST", "/v1/sites/shop.test/policy", change)
    body = {
        "page": "https://shop.test/",
        "action": "https://tracker.example/c",
        "fields": CHECK_FIELDS[:1],
    }
    verdict = (await call(api.client, "POST", "/v1/check", body)).json()["verdict"]
    assert (verdict["action"], verdict["fallback"], verdict["timeout"]) == ("ask", "block", 30.0)


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"fields": []}, "'page' is required"),
        ({"page": "javascript:alert(1)", "fields": []}, "absolute http or https URL"),
        ({"page": "https://shop.test/", "fields": {}}, "'fields' must be a list"),
        ({"page": "https://shop.test/", "fields": [{"name": "a", "value": 1}]}, ".value must be"),
        ({"page": "https://shop.test/", "fields": [{"value": "x", "evil": 1}]}, "unknown keys"),
        ({"page": "https://shop.test/", "fields": [], "x": 1}, "unknown keys: x"),
        (
            {"page": "https://shop.test/", "fields": [{"value": ""}] * (MAX_FIELDS + 1)},
            f"at most {MAX_FIELDS} fields",
        ),
        (
            {"page": "https://shop.test/", "fields": [{"value": "1" * 100_001}]},
            "longer than 100000",
        ),
    ],
)
async def test_check_bad_bodies(api: RunningApi, body: object, reason: str) -> None:
    reply = await call(api.client, "POST", "/v1/check", body)
    assert reply.status == 400
    assert reason in reply.json()["error"]


async def test_check_errors_never_quote_values(api: RunningApi) -> None:
    body = {"page": "https://shop.test/", "fields": [{"name": ID, "value": {"v": PHONE}}]}
    reply = await call(api.client, "POST", "/v1/check", body)
    assert reply.status == 400
    assert PHONE.encode() not in reply.body and ID.encode() not in reply.body


# --- events ---------------------------------------------------------------------------------------


async def test_event_stream_pings_and_ends_on_disconnect(api: RunningApi) -> None:
    async with open_sse(api.client) as sse:
        assert sse.status == 200
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert sse.headers["access-control-allow-origin"] == api.client.origin
        assert await next_event(sse, skip_comments=False) == ("comment", "formshield events")
        assert await next_event(sse, skip_comments=False) == ("comment", "ping")
        await wait_until(lambda: len(api.backend.hub) == 1)
        status = (await call(api.client, "GET", "/v1/status")).json()
        assert status["listeners"] == 1
    await wait_until(lambda: len(api.backend.hub) == 0)


async def test_events_are_filtered_by_site(api: RunningApi) -> None:
    hub = api.backend.hub
    async with (
        open_sse(api.client, "/v1/events?site=shop.test") as shop,
        open_sse(api.client) as every,
    ):
        await wait_until(lambda: len(hub) == 2)
        assert hub.has_listener("jd.com") and hub.has_listener("shop.test")
        hub.publish("verdict", {"id": 1}, "jd.com")
        hub.publish("verdict", {"id": 2}, "shop.test")
        assert await next_event(every) == ("verdict", {"id": 1})
        assert await next_event(every) == ("verdict", {"id": 2})
        assert await next_event(shop) == ("verdict", {"id": 2})
        with pytest.raises(queue.Empty):
            await next_event(shop, 0.5)


async def test_server_stop_ends_streams(tmp_path: Path) -> None:
    async with running_api(tmp_path / "d") as api, open_sse(api.client) as sse:
        await wait_until(lambda: len(api.backend.hub) == 1)
        api.server.stop()
        assert await next_event(sse) == ("closed", None)


# --- held requests --------------------------------------------------------------------------------


def held_for(hold_id: str, site: str | None = "shop.test", host: str = "c.tracker.example") -> Held:
    findings = scanner().scan_text(f"身份证 {ID}", location="form.idNo", name="idNo")
    return Held(
        id=hold_id,
        site=site,
        destination="tracker.example",
        host=host,
        url=f"http://{host}/collect",
        rule="test.yaml:3 (ask-ids)",
        fallback="block",
        expires_at=new_expiry(5),
        findings_view=[{"entity_type": f.entity_type, "masked": f.masked} for f in findings],
        findings=findings,
        method="POST",
        path="/profile/save",
        third_party=True,
    )


async def test_held_list_and_answers(api: RunningApi) -> None:
    holds = api.backend.holds
    async with open_sse(api.client) as sse:
        await wait_until(lambda: len(api.backend.hub) == 1)
        one = asyncio.create_task(holds.wait(held_for("one"), 5))
        two = asyncio.create_task(holds.wait(held_for("two", site="jd.com"), 5))
        await wait_until(lambda: len(holds) == 2)
        listing = (await call(api.client, "GET", "/v1/held")).json()["held"]
        assert [h["id"] for h in listing] == ["one", "two"]
        assert listing[0]["findings"] == [
            {"entity_type": "CN_RESIDENT_ID", "masked": "110***********002X"}
        ]
        only_jd = (await call(api.client, "GET", "/v1/held?site=jd.com")).json()["held"]
        assert [h["id"] for h in only_jd] == ["two"]

        reply = await call(api.client, "POST", "/v1/held/one", {"answer": "send_once"})
        assert (reply.status, reply.json()) == (200, {"id": "one", "outcome": "send_once"})
        assert await one == "send_once"
        assert await next_event(sse) == ("resolved", {"id": "one", "outcome": "send_once"})
        reply = await call(api.client, "POST", "/v1/held/two", {"answer": "block"})
        assert await two == "block"
        # answered: gone
        again = await call(api.client, "POST", "/v1/held/one", {"answer": "block"})
        assert again.status == 404
    audit = api.parts.audit
    assert audit is not None and audit.flush()
    decisions = audit.recent_decisions()
    assert [(d.flow_id, d.answer, d.site, d.entity_types) for d in decisions] == [
        ("two", "block", "jd.com", ("CN_RESIDENT_ID",)),
        ("one", "send_once", "shop.test", ("CN_RESIDENT_ID",)),
    ]
    assert decisions[0].fingerprints[0] == audit.fingerprint("CN_RESIDENT_ID", ID)


ANSWER_SHAPE = 'the body must be {"answer": "send_once"|"always_allow"|"block"}'


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ({"answer": "maybe"}, 400, "'answer' must be one of send_once, always_allow, block"),
        ({"answer": "block", "x": 1}, 400, ANSWER_SHAPE),
        ("block", 400, ANSWER_SHAPE),
    ],
)
async def test_bad_answers(api: RunningApi, body: object, status: int, reason: str) -> None:
    task = asyncio.create_task(api.backend.holds.wait(held_for("h"), 5))
    await wait_until(lambda: len(api.backend.holds) == 1)
    reply = await call(api.client, "POST", "/v1/held/h", body)
    assert (reply.status, reply.json()) == (status, {"error": reason})
    assert not task.done()
    api.backend.holds.resolve("h", "block")
    await task


async def test_unknown_hold_is_404(api: RunningApi) -> None:
    reply = await call(api.client, "POST", "/v1/held/nope", {"answer": "block"})
    assert (reply.status, reply.json()) == (
        404,
        {"error": "no such held request (answered or expired)"},
    )


async def test_always_allow_writes_a_user_rule(api: RunningApi) -> None:
    task = asyncio.create_task(api.backend.holds.wait(held_for("h"), 5))
    await wait_until(lambda: len(api.backend.holds) == 1)
    reply = await call(api.client, "POST", "/v1/held/h", {"answer": "always_allow"})
    assert reply.json() == {"id": "h", "outcome": "always_allow"}
    assert await task == "always_allow"
    store = api.parts.policies
    assert store is not None
    decision = store.policy.decide(
        "shop.test", "c.tracker.example", "CN_RESIDENT_ID", 1.0, third_party=True
    )
    assert (str(decision.action), decision.rule.id) == (
        "allow",
        "user:shop.test:CN_RESIDENT_ID:c.tracker.example",
    )
    # exactly that host: another host of the same tracker is still blocked
    sibling = store.policy.decide(
        "shop.test", "d.tracker.example", "CN_RESIDENT_ID", 1.0, third_party=True
    )
    assert str(sibling.action) == "block"


async def test_always_allow_needs_a_site(api: RunningApi) -> None:
    task = asyncio.create_task(api.backend.holds.wait(held_for("h", site=None), 5))
    await wait_until(lambda: len(api.backend.holds) == 1)
    reply = await call(api.client, "POST", "/v1/held/h", {"answer": "always_allow"})
    assert reply.status == 400
    assert "site is unknown" in reply.json()["error"]
    assert not task.done() and not api.user_file.exists()
    reply = await call(api.client, "POST", "/v1/held/h", {"answer": "send_once"})
    assert await task == "send_once"


async def test_disconnect_is_noticed_between_pings(tmp_path: Path) -> None:
    # `ask` holds requests only while someone listens: a closed stream must stop counting at
    # once, not at the next ping 15 s later.
    async with running_api(tmp_path / "d") as api:
        async with open_sse(api.client):
            await wait_until(lambda: api.backend.hub.has_listener("shop.test"))
        await wait_until(lambda: not api.backend.hub.has_listener("shop.test"), timeout=2)


ASK_WITH_PATH = """\
{combine}rules:
  - id: ask-profile-ids
    site: shop.test
    destination: c.tracker.example
    entities: [CN_RESIDENT_ID]
    method: POST
    path: /profile/*
    action: ask
"""


async def test_always_allow_outranks_an_ask_rule_with_method_and_path(tmp_path: Path) -> None:
    policy = tmp_path / "ask.yaml"
    policy.write_text(ASK_WITH_PATH.format(combine=""))
    async with running_api(tmp_path / "d", policies=[policy]) as api:
        task = asyncio.create_task(api.backend.holds.wait(held_for("h"), 5))
        await wait_until(lambda: len(api.backend.holds) == 1)
        reply = await call(api.client, "POST", "/v1/held/h", {"answer": "always_allow"})
        assert reply.status == 200
        assert await task == "always_allow"
        store = api.parts.policies
        assert store is not None
        decision = store.policy.decide(
            "shop.test", "c.tracker.example", "CN_RESIDENT_ID", 1.0,
            method="POST", path="/profile/save", third_party=True,
        )  # fmt: skip
        assert (str(decision.action), decision.rule.id) == (
            "allow",
            "user:shop.test:CN_RESIDENT_ID:c.tracker.example",
        )
        view = (await call(api.client, "GET", "/v1/sites/shop.test/policy")).json()
        assert view["user_rules"][0]["outrank"] is True


async def test_always_allow_that_cannot_win_is_refused_and_undone(tmp_path: Path) -> None:
    policy = tmp_path / "ask.yaml"
    policy.write_text(ASK_WITH_PATH.format(combine="combine: most-severe\n"))
    async with running_api(tmp_path / "d", policies=[policy]) as api:
        await call(api.client, "POST", "/v1/sites/shop.test/policy", {"trust": "a.example"})
        before = api.user_file.read_bytes()
        task = asyncio.create_task(api.backend.holds.wait(held_for("h"), 5))
        await wait_until(lambda: len(api.backend.holds) == 1)
        reply = await call(api.client, "POST", "/v1/held/h", {"answer": "always_allow"})
        assert reply.status == 409
        # under most-severe, the bundled block for IDs to third parties wins over any allow
        assert "cannot override default.yaml:" in reply.json()["error"]
        assert "(third-party-ids)" in reply.json()["error"]
        assert api.user_file.read_bytes() == before
        assert not task.done()  # still held: the person can answer send_once or block
        await call(api.client, "POST", "/v1/held/h", {"answer": "block"})
        assert await task == "block"
