"""The formshield addon driven through mitmproxy's test context (taddons/tflow).

Each test builds a real mitmproxy flow, calls the hook as mitmproxy would and asserts on
``flow.response``, the (possibly redacted) request, ``flow.metadata``, markers and the audit store.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import addonmanager, exceptions, http
from mitmproxy.addons import proxyserver
from mitmproxy.log import ALERT
from mitmproxy.test import taddons, tflow

from addon.blockpage import RULE_HEADER
from addon.parties import Located, locate
from addon.proxy import METADATA_KEY, FormShield, Verdict
from addon.quick_clean import clean_at_a_glance
from detectors.engine import Scanner

ID = "11010519491231002X"
PHONE = "13912345678"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def addon(data_dir: Path) -> Iterator[tuple[FormShield, taddons.context]]:
    fs = FormShield()
    with taddons.context(fs) as tctx:
        tctx.configure(fs, formshield_audit=str(data_dir / "audit.sqlite3"))
        yield fs, tctx
        fs.done()


def flow_for(
    method: str,
    url: str,
    body: bytes | str = b"",
    *,
    site: str | None = "https://shop.test/checkout",
    ctype: str = FORM,
    **headers: str,
) -> http.HTTPFlow:
    f = tflow.tflow()
    hdrs: dict[str | bytes, str | bytes] = {
        "content-type": ctype,
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    if site:
        hdrs["referer"] = site
    f.request = http.Request.make(method, url, body, hdrs)
    return f


def verdict(f: http.HTTPFlow) -> Verdict:
    v = f.metadata[METADATA_KEY]
    assert isinstance(v, Verdict)
    return v


def audit_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


# --- the default policy, per case -----------------------------------------------------------


@pytest.mark.parametrize(
    "url, body, applied, rule_id",
    [
        # an ID to a third party: blocked
        ("http://tracker.example/c", f"idNo={ID}", "block", "third-party-ids"),
        # a phone to a third party: redacted
        ("http://tracker.example/c", f"mobile={PHONE}", "redact", "third-party-contact"),
        # an ID to the page's own site: passes with a warning
        ("http://www.shop.test/order", f"idNo={ID}", "warn", "first-party-ids-warn"),
        # a phone to the page's own site: passes silently
        ("http://api.shop.test/order", f"mobile={PHONE}", "allow", "first-party-allow"),
        # nothing personal: passes, no rule involved
        ("http://tracker.example/c", "q=shoes&page=2", "allow", None),
    ],
)  # fmt: skip
async def test_default_policy_verdicts(
    addon: tuple[FormShield, taddons.context],
    url: str,
    body: str,
    applied: str,
    rule_id: str | None,
) -> None:
    fs, _ = addon
    f = flow_for("POST", url, body)
    await fs.request(f)
    v = verdict(f)
    assert v.applied == applied
    if rule_id is None:
        assert v.findings == []
    else:
        assert rule_id in v.rule
    if applied == "block":
        assert f.response is not None and f.response.status_code == 403
        assert rule_id and rule_id in f.response.headers[RULE_HEADER]
    else:
        assert f.response is None


async def test_block_page_for_navigation_and_json_for_fetch(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    nav = flow_for("POST", "http://tracker.example/c", f"idNo={ID}", sec_fetch_mode="navigate")
    await fs.request(nav)
    assert nav.response is not None
    assert nav.response.headers["content-type"].startswith("text/html")
    page = nav.response.get_text() or ""
    assert "110***********002X" in page and ID not in page and "tracker.example" in page

    xhr = flow_for("POST", "http://tracker.example/c", f"idNo={ID}", sec_fetch_mode="cors")
    await fs.request(xhr)
    assert xhr.response is not None
    doc = json.loads(xhr.response.content or b"")
    assert doc["blocked_by"] == "formshield"
    assert doc["findings"] == [
        {"entity_type": "CN_RESIDENT_ID", "location": "form.idNo", "masked": "110***********002X"}
    ]
    assert ID not in (xhr.response.get_text() or "")


async def test_a_clean_verdict_is_located_when_asked(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = flow_for("GET", "http://cdn.tracker.example:8080/p.gif?x=1")
    await fs.request(f)
    v = verdict(f)
    assert (v.action, v.rule, v.findings, v.issues) == ("allow", "", [], [])
    assert v.where is f.request  # not located yet
    expected = locate(f.request)
    assert (v.site, v.destination, v.third_party) == ("shop.test", "tracker.example", True)
    assert (v.host, v.port) == (expected.host, expected.port)
    assert v.host == "cdn.tracker.example"
    where: object = v.where  # located by the properties read above
    assert where == expected and isinstance(where, Located)
    assert v.summary()["destination"] == "tracker.example"


async def test_a_verdict_with_findings_keeps_the_parties_it_was_decided_on(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = flow_for("POST", "http://tracker.example/c", f"mobile={PHONE}")
    await fs.request(f)
    f.request.host = "elsewhere.example"  # e.g. a later addon routing the flow
    v = verdict(f)
    assert (v.destination, v.host) == ("tracker.example", "tracker.example")
    assert v.rule.endswith("(third-party-contact)")


async def test_redacted_request_carries_no_phone_and_keeps_format(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    body = json.dumps({"user": {"mobile": PHONE, "city": "杭州"}}, ensure_ascii=False)
    f = flow_for("POST", "http://tracker.example/c", body, ctype="application/json")
    await fs.request(f)
    assert verdict(f).applied == "redact"
    sent = f.request.get_text() or ""
    assert PHONE not in sent
    assert json.loads(sent) == {"user": {"mobile": "139****5678", "city": "杭州"}}
    assert f.request.headers["content-length"] == str(len(f.request.raw_content or b""))
    assert Scanner().scan_text(sent) == []
    # Nothing tells the destination that formshield rewrote the request.
    assert not [k for k in f.request.headers if k.lower().startswith("x-formshield")]


async def test_repeated_headers_are_learnt_but_a_leaking_cookie_is_caught_every_time(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, tctx = addon
    clean_cookie = "_ga=GA1.2.1234567890.1732812345; sid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e"
    for _ in range(3):
        f = flow_for("GET", "http://tracker.example/p.gif", cookie=clean_cookie)
        await fs.request(f)
        assert verdict(f).applied == "allow"
    assert len(fs.clean_headers) == 2  # the Cookie and the Referer
    for _ in range(3):
        f = flow_for("GET", "http://tracker.example/p.gif", cookie=f"{clean_cookie}; m={PHONE}")
        await fs.request(f)
        assert verdict(f).applied == "redact"
        assert PHONE not in f.request.headers["cookie"]
    assert len(fs.clean_headers) == 2
    # New limits make a new table: its field counts were made under the old ones.
    tctx.configure(fs, formshield_max_body=4096)
    assert len(fs.clean_headers) == 0


async def test_warn_marks_flow_and_comment_is_masked(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = flow_for("POST", "http://www.shop.test/order", f"idNo={ID}")
    await fs.request(f)
    assert f.marked == ":warning:"
    assert "CN_RESIDENT_ID 110***********002X in form.idNo" in f.comment
    assert ID not in f.comment


async def test_audit_store_records_verdict_without_raw_values(
    addon: tuple[FormShield, taddons.context], data_dir: Path
) -> None:
    fs, _ = addon
    f = flow_for("POST", f"http://tracker.example/c?tel={PHONE}", f"idNo={ID}")
    await fs.request(f)
    assert fs.audit is not None and fs.audit.flush()
    db = data_dir / "audit.sqlite3"
    rows = audit_rows(db, "SELECT entity_type, masked, action FROM findings ORDER BY entity_type")
    assert rows == [
        ("CN_PHONE", "139****5678", "redact"),
        ("CN_RESIDENT_ID", "110***********002X", "block"),
    ]
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert ID not in dump and PHONE not in dump


async def test_simulate_applies_nothing_but_records(
    addon: tuple[FormShield, taddons.context], data_dir: Path
) -> None:
    fs, tctx = addon
    tctx.configure(fs, formshield_simulate=True)
    f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
    await fs.request(f)
    v = verdict(f)
    assert (v.action, v.applied, v.simulate) == ("block", "allow", True)
    assert f.response is None
    assert (f.request.get_text() or "").endswith(ID)
    assert f.comment.startswith("formshield (simulate) would block")
    assert fs.audit is not None and fs.audit.flush()
    assert audit_rows(data_dir / "audit.sqlite3", "SELECT action, mode FROM verdicts") == [
        ("block", "simulate")
    ]


async def test_body_over_limit_applies_failure_mode(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, tctx = addon
    tctx.configure(fs, formshield_max_body=1024)
    big = "note=" + "x" * 4096
    third = flow_for("POST", "http://tracker.example/upload", big)
    await fs.request(third)
    # Third parties fail closed in the default policy ...
    assert verdict(third).applied == "block"
    assert third.response is not None and third.response.status_code == 403
    # ... the page's own site fails open: passes, with a warning.
    first = flow_for("POST", "http://www.shop.test/upload", big)
    await fs.request(first)
    assert verdict(first).applied == "warn"
    assert first.response is None


async def test_streamed_body_is_reported_and_failure_mode_applies(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = flow_for("POST", "http://tracker.example/upload", b"")
    f.request.stream = True
    await fs.request(f)
    v = verdict(f)
    assert v.issues == ["streamed"]
    assert v.applied == "block"


@pytest.mark.parametrize(
    "option, value, said",
    [
        ("stream_large_bodies", "1m", "request bodies larger than 1m are streamed and cannot be "
         "scanned"),
        ("ignore_hosts", ["bank\\.example"], "ignore_hosts is set (bank\\.example): connections "
         "to matching hosts pass through uninspected"),
        ("allow_hosts", ["shop\\.example"], "connections to all others pass through uninspected"),
        ("tcp_hosts", ["chat\\.example"], "relayed as raw TCP, uninspected"),
        ("udp_hosts", ["game\\.example"], "relayed as raw UDP, uninspected"),
    ],
)  # fmt: skip
def test_options_that_hide_traffic_are_said_loudly(
    addon: tuple[FormShield, taddons.context],
    caplog: pytest.LogCaptureFixture,
    option: str,
    value: object,
    said: str,
) -> None:
    fs, tctx = addon
    proxyserver.Proxyserver().load(addonmanager.Loader(tctx.master))  # declares stream_...
    with caplog.at_level(logging.INFO):
        tctx.configure(fs, **{option: value})
    alerts = [r.getMessage() for r in caplog.records if r.levelno == ALERT]
    assert any(said in text for text in alerts), alerts
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tctx.configure(fs, **{option: [] if isinstance(value, list) else None})
    assert not [r for r in caplog.records if r.levelno == ALERT]


async def test_large_body_is_scanned_off_the_event_loop(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, tctx = addon
    tctx.configure(fs, formshield_offload=10)
    f = flow_for("POST", "http://tracker.example/c", f"note=hello&idNo={ID}")
    await fs.request(f)
    assert verdict(f).applied == "block"


async def test_flows_already_answered_are_left_alone(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
    f.response = http.Response.make(200, b"cached")
    await fs.request(f)
    assert METADATA_KEY not in f.metadata


async def test_websocket_client_message_with_id_is_dropped(
    addon: tuple[FormShield, taddons.context],
) -> None:
    fs, _ = addon
    f = tflow.twebsocketflow()
    ws = f.websocket
    assert ws is not None
    f.request.headers["origin"] = "https://shop.test"
    f.request.host = "chat.tracker.example"
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    ws.messages.append(WebSocketMessage(Opcode.TEXT, True, json.dumps({"idNo": ID}).encode()))
    await fs.websocket_message(f)
    assert ws.messages[-1].dropped
    ws.messages.append(WebSocketMessage(Opcode.TEXT, True, json.dumps({"tel": PHONE}).encode()))
    await fs.websocket_message(f)
    last = ws.messages[-1]
    assert not last.dropped
    assert PHONE not in last.text and json.loads(last.text) == {"tel": "139****5678"}


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value",
    [
        ("formshield_max_body", 0),
        ("formshield_offload", -1),
        ("formshield_reload", -5),
        ("formshield_retention_days", -1),
    ],
)
def test_bad_option_values_are_rejected(
    addon: tuple[FormShield, taddons.context], option: str, value: int
) -> None:
    fs, tctx = addon
    with pytest.raises(exceptions.OptionsError):
        tctx.configure(fs, **{option: value})


def test_broken_policy_file_is_rejected_with_file_and_line(
    addon: tuple[FormShield, taddons.context], tmp_path: Path
) -> None:
    fs, tctx = addon
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - id: x\n    action: blok\n")
    with pytest.raises(exceptions.OptionsError, match=r"bad\.yaml:4: .*blok"):
        tctx.configure(fs, formshield_policy=[str(bad)])


ALLOW_IDS = (
    "version: 1\nrules:\n  - id: trust-tracker\n    site: shop.test\n"
    "    destination: tracker.example\n    entities: [CN_RESIDENT_ID]\n    action: {action}\n"
)


async def test_policy_edit_is_picked_up_and_broken_edit_keeps_last_good(
    addon: tuple[FormShield, taddons.context], tmp_path: Path
) -> None:
    fs, tctx = addon
    user = tmp_path / "user.yaml"
    user.write_text(ALLOW_IDS.format(action="allow"))
    tctx.configure(fs, formshield_policy=[str(user)], formshield_reload=1)
    f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
    await fs.request(f)
    assert verdict(f).applied == "allow"

    user.write_text(ALLOW_IDS.format(action="warn") + "# edited\n")
    fs.check_policy_files()  # what the watcher started by `running` does every second
    f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
    await fs.request(f)
    assert verdict(f).applied == "warn"

    user.write_text("version: 1\nrules: [oops\n")
    fs.check_policy_files()
    f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
    await fs.request(f)
    assert verdict(f).applied == "warn"  # the last good policy still rules
    assert fs.policies is not None and fs.policies.last_error is not None


async def test_running_proxy_reloads_an_edited_policy_without_traffic(
    addon: tuple[FormShield, taddons.context], tmp_path: Path
) -> None:
    """The policy files are watched on a timer of their own, started by `running`: an edit
    takes effect while no request comes, and `done` stops the watcher."""
    fs, tctx = addon
    user = tmp_path / "user.yaml"
    user.write_text(ALLOW_IDS.format(action="allow"))
    tctx.configure(fs, formshield_policy=[str(user)], formshield_reload=1)
    assert fs.policies is not None
    before = fs.policies.policy
    try:
        fs.running()
        user.write_text(ALLOW_IDS.format(action="block") + "# edited\n")
        for _ in range(200):  # up to ~10 s on a loaded machine; the watcher checks every 1 s
            if fs.policies.policy is not before:
                break
            await asyncio.sleep(0.05)
        assert fs.policies.policy is not before
        f = flow_for("POST", "http://tracker.example/c", f"idNo={ID}")
        await fs.request(f)
        assert verdict(f).applied == "block"

        watch = fs._policy_watch
        assert watch is not None and not watch.done()
        fs.done()
        await asyncio.sleep(0)
        assert watch.cancelled()
    finally:
        gc.unfreeze()


def test_running_freezes_the_startup_heap(addon: tuple[FormShield, taddons.context]) -> None:
    """After start-up the collector no longer walks the long-lived heap (a full collection of
    it stalls every connection for ~20 ms)."""
    fs, _ = addon
    try:
        fs.running()
        frozen = gc.get_freeze_count()
        assert frozen > 50_000  # mitmproxy and the scanner's tables: ~90,000 objects
        assert fs.scanner is not None and gc.is_tracked(fs.scanner)
        assert len(gc.get_objects(generation=2)) < frozen / 10
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("simulate", [False, True])
async def test_a_request_clean_at_a_glance_gets_the_full_paths_verdict(
    addon: tuple[FormShield, taddons.context], simulate: bool
) -> None:
    fs, tctx = addon
    tctx.configure(fs, formshield_simulate=simulate)
    seen: list[Verdict] = []
    fs.observers.append(lambda flow, v: seen.append(v))
    url = "http://cdn.tracker.example/item/12345?page=3&ts=1732812345678&sku=SKU12345"
    # The first request teaches the Referer (full path); the second is clean at a glance.
    flows = [flow_for("GET", url, cookie="sid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e") for _ in range(2)]
    assert fs._gate is not None
    for f, at_a_glance in zip(flows, (False, True), strict=True):
        assert clean_at_a_glance(f.request, fs._gate, fs.clean_headers, fs.limits) is at_a_glance
        await fs.request(f)
    full, glance = (verdict(f) for f in flows)
    assert glance.where is flows[1].request  # not located, like the full path's clean verdict
    fields = ("action", "rule", "message", "simulate", "findings", "decisions", "issues",
              "applied", "fallback", "timeout", "answer")  # fmt: skip
    assert [getattr(glance, k) for k in fields] == [getattr(full, k) for k in fields]
    assert (glance.action, glance.simulate) == ("allow", simulate)
    assert (glance.site, glance.destination, glance.third_party) == (
        full.site,
        full.destination,
        full.third_party,
    )
    assert seen == [full, glance]  # observers see both
    assert all(f.response is None and not f.marked and not f.comment for f in flows)
