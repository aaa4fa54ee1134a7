"""formshield fails closed while it is not running inside a running proxy (addon.offline_guard).

Driven through mitmproxy's test master: addons are added and removed as a script reload does,
and requests go through the addon chain's own ``request`` hooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import addonmanager, eventsequence, exceptions, http
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from addon.blockpage import RULE_HEADER
from addon.offline_guard import ERROR_RULE, GUARD_NAME, OFFLINE_RULE, OfflineGuard
from addon.proxy import FormShield

ID = "11010519491231002X"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def tctx() -> Iterator[taddons.context]:
    with taddons.context() as context:
        yield context


def clean_request() -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = http.Request.make("GET", "http://tracker.example/p.gif?x=1")
    return flow


def through_chain(tctx: taddons.context, flow: http.HTTPFlow) -> http.HTTPFlow:
    """``flow``'s request through every addon of the master, as the proxy calls them."""
    hook = next(e for e in eventsequence.iterate(flow) if e.name == "request")
    asyncio.run(tctx.master.addons.trigger_event(hook))
    return flow


def refused(flow: http.HTTPFlow) -> bool:
    response = flow.response
    return (
        response is not None
        and response.status_code == 503
        and response.headers.get(RULE_HEADER) == OFFLINE_RULE
    )


def client_message(flow: http.HTTPFlow) -> WebSocketMessage:
    assert flow.websocket is not None
    flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, True, b"hello"))
    return flow.websocket.messages[-1]


def test_removed_from_a_running_proxy_it_leaves_a_guard_that_refuses_everything(
    tctx: taddons.context,
) -> None:
    shield = FormShield()
    tctx.master.addons.add(shield)
    tctx.configure(shield)
    assert not refused(through_chain(tctx, clean_request()))  # inspected and sent
    tctx.master.addons.remove(shield)  # what a script reload does first
    guard = tctx.master.addons.get(GUARD_NAME)
    assert isinstance(guard, OfflineGuard)
    assert refused(through_chain(tctx, clean_request()))
    ws = tflow.twebsocketflow()
    message = client_message(ws)
    guard.websocket_message(ws)
    assert message.dropped
    # The script loads again: once configured, the new FormShield takes the guard away.
    again = FormShield()
    tctx.master.addons.add(again)
    assert tctx.master.addons.get(GUARD_NAME) is guard  # loaded, not configured yet
    tctx.configure(again)
    assert tctx.master.addons.get(GUARD_NAME) is None
    assert not refused(through_chain(tctx, clean_request()))


def test_shutdown_leaves_no_guard(tctx: taddons.context) -> None:
    shield = FormShield()
    tctx.master.addons.add(shield)
    tctx.configure(shield)
    tctx.master.should_exit.set()
    shield.done()  # as at shutdown: still registered, should_exit set
    assert tctx.master.addons.get(GUARD_NAME) is None


async def test_a_formshield_whose_configuration_failed_refuses_requests(
    tctx: taddons.context, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules: [\n")
    # As when the script reloads: its options are set already, and configuring the new
    # FormShield fails (mitmproxy logs the error and proxies on).
    shield = FormShield()
    shield.load(addonmanager.Loader(tctx.master))
    tctx.options.update(formshield_policy=[str(broken)])
    with pytest.raises(exceptions.OptionsError, match=r"broken\.yaml"):
        shield.configure(set(tctx.options.keys()))
    flow = clean_request()
    flow.request.content = f"idNo={ID}".encode()
    await shield.request(flow)
    assert refused(flow)
    assert flow.response is not None
    assert b"its configuration failed" in (flow.response.content or b"")
    ws = tflow.twebsocketflow()
    message = client_message(ws)
    await shield.websocket_message(ws)
    assert message.dropped


def test_the_guard_leaves_an_answered_flow_alone() -> None:
    flow = clean_request()
    flow.response = http.Response.make(204)
    OfflineGuard("testing").request(flow)
    assert flow.response.status_code == 204


async def test_a_failure_past_the_scan_refuses_the_request_and_logs_no_value(
    tctx: taddons.context, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    shield = FormShield()
    tctx.master.addons.add(shield)
    tctx.configure(shield)

    def broken(*_: object) -> None:
        raise ValueError(f"cannot decide on {ID}")  # a message quoting a value

    monkeypatch.setattr(shield, "_decide", broken)
    flow = clean_request()
    flow.request.method = "POST"
    flow.request.headers["content-type"] = "application/x-www-form-urlencoded"
    flow.request.headers["origin"] = "https://shop.test"
    flow.request.content = f"idNo={ID}".encode()
    await shield.request(flow)
    assert flow.response is not None and flow.response.status_code == 503
    assert flow.response.headers[RULE_HEADER] == ERROR_RULE
    ws = tflow.twebsocketflow()
    assert ws.websocket is not None
    ws.websocket.messages.append(WebSocketMessage(Opcode.TEXT, True, f"idNo={ID}".encode()))
    await shield.websocket_message(ws)
    assert ws.websocket.messages[-1].dropped
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 2
    assert failures[0].startswith("formshield: deciding on POST tracker.example failed with ")
    assert "ValueError" in failures[0] and "a WebSocket message" in failures[1]
    assert ID not in caplog.text
