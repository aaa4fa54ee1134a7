"""The ExtensionApi addon next to a real FormShield, driven through mitmproxy's test context.

Options and their errors, the user policy layered last (and again after FormShield rebuilds its
store), FormShield's asker and observer, the ``ask`` action on real flows (held, answered, timed
out, nobody listening), the server's start, a taken port, shutdown, and ``pair_info``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from addon.api_backend import ApiError
from addon.api_token import TOKEN_FILE
from addon.extension_api import DEFAULT_API_PORT, ExtensionApi, pair_info, user_policy_path
from addon.proxy import METADATA_KEY, FormShield, Verdict
from policies.model import Action
from policies.user_policy import USER_POLICY_FILE, SetRule, UserPolicyFile

ID = "11010519491231002X"
PHONE = "13912345678"
ASK_POLICY = """\
version: 1
rules:
  - id: ask-ids
    site: "*"
    destination: third-party
    entities: [CN_RESIDENT_ID]
    action: ask
    fallback: block
    timeout: {timeout}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir(mode=0o700)
    return tmp_path / "data"


def ask_policy(tmp_path: Path, timeout: float = 2) -> Path:
    path = tmp_path / "ask.yaml"
    path.write_text(ASK_POLICY.format(timeout=timeout))
    return path


class Proxy:
    """FormShield + ExtensionApi in one test context, configured like mitm_script.py does."""

    def __init__(self, tctx: taddons.context, fs: FormShield, api: ExtensionApi) -> None:
        self.tctx, self.fs, self.api = tctx, fs, api


@pytest.fixture
async def proxy(data_dir: Path, tmp_path: Path) -> AsyncIterator[Proxy]:
    fs = FormShield()
    api = ExtensionApi(fs)
    with taddons.context(fs, api) as tctx:
        tctx.configure(
            api,
            formshield_audit=str(data_dir / "audit.sqlite3"),
            formshield_policy=[str(ask_policy(tmp_path, 0.5))],
            formshield_api_port=free_port(),
        )
        api.running()
        yield Proxy(tctx, fs, api)
        api.done()
        fs.done()


def beacon(url: str = "http://tracker.example/c") -> http.HTTPFlow:
    f = tflow.tflow()
    f.request = http.Request.make(
        "POST",
        url,
        f"idNo={ID}&ev=1",
        http.Headers(
            content_type="application/x-www-form-urlencoded", referer="https://shop.test/"
        ),
    )
    return f


def verdict(f: http.HTTPFlow) -> Verdict:
    v = f.metadata[METADATA_KEY]
    assert isinstance(v, Verdict)
    return v


async def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"formshield_api_port": -1}, "formshield_api_port must be 0"),
        ({"formshield_api_port": 65536}, "formshield_api_port must be 0"),
        ({"formshield_extension_id": "evil"}, "formshield_extension_id: 'evil' is not"),
        ({"formshield_extension_id": "https://evil.example"}, "not a browser extension origin"),
    ],
)
def test_bad_options_are_refused(data_dir: Path, options: dict[str, object], message: str) -> None:
    api = ExtensionApi(FormShield())
    with taddons.context(api) as tctx, pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(api, **options)


def test_options_defaults_and_good_values(data_dir: Path) -> None:
    fs = FormShield()
    api = ExtensionApi(fs)
    with taddons.context(fs, api) as tctx:
        assert tctx.options.formshield_api_port == DEFAULT_API_PORT
        tctx.configure(api, formshield_extension_id="abcdefghijklmnopabcdefghijklmnop")
        assert api.origins.origin == "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
        tctx.configure(api, formshield_api_port=0)
        api.running()
        assert api.server is None  # 0 disables the API
        api.done()
        fs.done()


def test_finds_formshield_by_its_addon_name(data_dir: Path) -> None:
    fs = FormShield()
    api = ExtensionApi()
    with taddons.context(fs, api) as tctx:
        tctx.configure(api, formshield_audit="off")
        assert fs.asker is api and len(fs.observers) == 1
        tctx.configure(api, formshield_audit="off", formshield_simulate=True)
        assert len(fs.observers) == 1  # attached once
        api.done()
        assert fs.asker is None and fs.observers == []


# --- the user policy layer -----------------------------------------------------------------------


def test_user_policy_is_layered_last_and_again_after_a_rebuild(
    data_dir: Path, tmp_path: Path
) -> None:
    fs = FormShield()
    api = ExtensionApi(fs)
    user = data_dir / USER_POLICY_FILE
    with taddons.context(fs, api) as tctx:
        tctx.configure(api, formshield_audit="off")
        assert fs.policies is not None
        assert fs.policies.paths[-1] == user and not user.exists()  # optional: missing is fine
        extra = ask_policy(tmp_path)
        UserPolicyFile(user).apply("shop.test", SetRule("CN_PHONE", "first-party", Action.WARN))
        tctx.configure(api, formshield_policy=[str(extra), str(user)])
        # FormShield rebuilt its store from the options; the user file is last, once
        assert list(fs.policies.paths[-2:]) == [extra, user]
        assert list(fs.policies.paths).count(user) == 1
        # a user choice beats the policy file given as an option
        UserPolicyFile(user).apply(
            "shop.test", SetRule("CN_RESIDENT_ID", "third-party", Action.BLOCK)
        )
        fs.policies.reload()
        decision = fs.policies.policy.decide("shop.test", "t.example", "CN_RESIDENT_ID", 1.0)
        assert decision.action is Action.BLOCK
        fs.done()


def test_broken_user_policy_refuses_to_start(data_dir: Path) -> None:
    (data_dir / USER_POLICY_FILE).write_text("rules: [\n")
    assert user_policy_path() == data_dir / USER_POLICY_FILE
    fs = FormShield()
    api = ExtensionApi(fs)
    with (
        taddons.context(fs, api) as tctx,
        pytest.raises(exceptions.OptionsError, match=r"user-policy\.yaml:2: YAML syntax error"),
    ):
        tctx.configure(api, formshield_audit="off")


# --- the server ----------------------------------------------------------------------------------


async def test_server_runs_on_loopback_and_stops(proxy: Proxy) -> None:
    server = proxy.api.server
    assert server is not None
    port = proxy.tctx.options.formshield_api_port
    assert server.addresses() == [("127.0.0.1", port)]
    token_file = proxy.tctx.options.formshield_audit.rpartition("/")[0] + "/" + TOKEN_FILE
    assert stat.S_IMODE(Path(token_file).stat().st_mode) == 0o600
    proxy.api.done()
    assert proxy.api.server is None
    with socket.socket() as s, pytest.raises(OSError):
        s.connect(("127.0.0.1", port))


async def test_taken_port_leaves_the_proxy_running(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # mitmproxy's ALERT level is 21
    fs = FormShield()
    api = ExtensionApi(fs)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with taddons.context(fs, api) as tctx:
            tctx.configure(api, formshield_audit="off", formshield_api_port=port)
            api.running()
            assert api.server is None
            assert f"extension API off: cannot listen on 127.0.0.1:{port}" in caplog.text
            flow = beacon()
            await fs.request(flow)  # the proxy still judges traffic
            assert verdict(flow).applied == "block"
            api.done()
            fs.done()


async def test_port_change_moves_the_server(proxy: Proxy) -> None:
    new_port = free_port()
    proxy.tctx.configure(proxy.api, formshield_api_port=new_port)
    assert proxy.api.server is not None
    assert proxy.api.server.addresses() == [("127.0.0.1", new_port)]


# --- ask -----------------------------------------------------------------------------------------


async def test_ask_without_listener_applies_the_fallback_at_once(proxy: Proxy) -> None:
    flow = beacon()
    start = time.monotonic()
    await proxy.fs.request(flow)
    assert time.monotonic() - start < 0.3
    v = verdict(flow)
    assert (v.action, v.answer, v.applied) == ("ask", None, "block")
    assert flow.response is not None and flow.response.status_code == 403


async def test_ask_is_held_and_released_by_send_once(proxy: Proxy) -> None:
    api = proxy.api
    sub = api.hub.subscribe()
    flow = beacon()
    task = asyncio.create_task(proxy.fs.request(flow))
    await wait_until(lambda: len(api.holds) == 1)
    event = sub.queue.get_nowait()
    assert event is not None and event.startswith("event: ask\n")
    assert ID not in event and "110***********002X" in event
    assert api.backend is not None
    assert api.backend.answer(flow.id, {"answer": "send_once"}) == {
        "id": flow.id,
        "outcome": "send_once",
    }
    await task
    v = verdict(flow)
    assert (v.answer, v.applied) == ("allow", "allow")
    assert flow.response is None  # goes upstream
    assert sub.queue.get_nowait() == (
        f'event: resolved\ndata: {{"id":"{flow.id}","outcome":"send_once"}}\n\n'
    )
    verdict_event = sub.queue.get_nowait()
    assert verdict_event is not None and verdict_event.startswith("event: verdict\n")
    assert '"applied":"allow"' in verdict_event and ID not in verdict_event


async def test_ask_block_answer_kills_the_request(proxy: Proxy) -> None:
    api = proxy.api
    api.hub.subscribe()
    flow = beacon()
    task = asyncio.create_task(proxy.fs.request(flow))
    await wait_until(lambda: len(api.holds) == 1)
    assert api.backend is not None
    api.backend.answer(flow.id, {"answer": "block"})
    await task
    assert verdict(flow).applied == "block"
    assert flow.response is not None and flow.response.status_code == 403
    assert proxy.fs.audit is not None and proxy.fs.audit.flush()
    [decision] = proxy.fs.audit.recent_decisions()
    assert (decision.answer, decision.flow_id, decision.site) == ("block", flow.id, "shop.test")


async def test_a_websocket_message_is_not_held_its_ask_takes_the_fallback_at_once(
    proxy: Proxy,
) -> None:
    """Holding one message would hold its whole socket: the rule's fallback (block) applies."""
    sub = proxy.api.hub.subscribe()  # someone listens: an HTTP request would be held
    flow = tflow.twebsocketflow()
    ws = flow.websocket
    assert ws is not None
    flow.request.host = "chat.tracker.example"
    flow.request.headers["origin"] = "https://shop.test"
    ws.messages.append(WebSocketMessage(Opcode.TEXT, True, f"idNo={ID}".encode()))
    seen: list[Verdict] = []
    proxy.fs.observers.append(lambda _flow, v: seen.append(v))
    await proxy.fs.websocket_message(flow)
    assert ws.messages[-1].dropped
    assert len(proxy.api.holds) == 0
    [v] = seen
    assert (v.action, v.rule, v.applied) == ("ask", "ask.yaml:3 (ask-ids)", "block")
    events = []
    while not sub.queue.empty():
        events.append(sub.queue.get_nowait())
    assert not any(e is not None and e.startswith("event: ask\n") for e in events)


async def test_ask_timeout_applies_the_fallback(proxy: Proxy) -> None:
    sub = proxy.api.hub.subscribe()
    flow = beacon()
    start = time.monotonic()
    await proxy.fs.request(flow)
    assert 0.4 < time.monotonic() - start < 2  # the rule's timeout is 0.5 s
    assert verdict(flow).applied == "block"
    events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert f'event: resolved\ndata: {{"id":"{flow.id}","outcome":"timeout"}}\n\n' in events
    assert proxy.fs.audit is not None and proxy.fs.audit.flush()
    [decision] = proxy.fs.audit.recent_decisions()
    assert (decision.answer, decision.flow_id, decision.site) == ("timeout", flow.id, "shop.test")
    assert proxy.api.backend is not None
    with pytest.raises(ApiError, match="no such held request"):
        proxy.api.backend.answer(flow.id, {"answer": "send_once"})


async def test_other_requests_flow_while_one_is_held(proxy: Proxy) -> None:
    api = proxy.api
    api.hub.subscribe()
    held = asyncio.create_task(proxy.fs.request(beacon()))
    await wait_until(lambda: len(api.holds) == 1)
    start = time.monotonic()
    for i in range(5):
        other = beacon(f"http://tracker.example/other{i}")
        other.request.content = f"mobile={PHONE}".encode()
        await proxy.fs.request(other)
        assert verdict(other).applied == "redact"
    assert time.monotonic() - start < 1
    assert not held.done()
    await held


async def test_listener_for_another_site_does_not_hold(proxy: Proxy) -> None:
    proxy.api.hub.subscribe("jd.com")
    flow = beacon()
    await proxy.fs.request(flow)
    assert verdict(flow).applied == "block" and len(proxy.api.holds) == 0


async def test_always_allow_lets_the_next_request_pass_without_asking(proxy: Proxy) -> None:
    api = proxy.api
    api.hub.subscribe()
    first = beacon()
    task = asyncio.create_task(proxy.fs.request(first))
    await wait_until(lambda: len(api.holds) == 1)
    assert api.backend is not None
    api.backend.answer(first.id, {"answer": "always_allow"})
    await task
    second = beacon()
    await proxy.fs.request(second)
    v = verdict(second)
    assert (v.action, v.applied) == ("allow", "allow")
    assert "user:shop.test:CN_RESIDENT_ID:tracker.example" in v.rule


async def test_shutdown_releases_held_requests_with_their_fallback(proxy: Proxy) -> None:
    proxy.api.hub.subscribe()
    flow = beacon()
    task = asyncio.create_task(proxy.fs.request(flow))
    await wait_until(lambda: len(proxy.api.holds) == 1)
    proxy.api.done()
    await task
    assert verdict(flow).applied == "block"
    assert proxy.api.server is None and len(proxy.api.hub) == 0


async def test_observer_skips_silent_allows(proxy: Proxy) -> None:
    sub = proxy.api.hub.subscribe()
    quiet = tflow.tflow()
    quiet.request = http.Request.make("GET", "http://shop.test/", b"", {})
    await proxy.fs.request(quiet)
    assert sub.queue.empty()


# --- pairing -------------------------------------------------------------------------------------


def test_pair_info(tmp_path: Path) -> None:
    text = pair_info(tmp_path / "d", port=9999)
    token = (tmp_path / "d" / TOKEN_FILE).read_text().strip()
    assert "backend URL: http://127.0.0.1:9999" in text
    assert f"token:       {token}" in text
    assert f"short form:  http://127.0.0.1:9999/#token={token}" in text
    assert stat.S_IMODE((tmp_path / "d" / TOKEN_FILE).stat().st_mode) == 0o600
    assert pair_info(tmp_path / "d", port=9999) == text  # the same token every time


def test_pair_info_default_dir(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    text = pair_info()
    assert f"http://127.0.0.1:{DEFAULT_API_PORT}" in text
    assert (data_dir / TOKEN_FILE).exists()


def test_broken_user_policy_at_run_time_keeps_the_policy_in_force(
    data_dir: Path, tmp_path: Path
) -> None:
    fs = FormShield()
    api = ExtensionApi(fs)
    user = data_dir / USER_POLICY_FILE
    UserPolicyFile(user).apply("shop.test", SetRule("CN_PHONE", "third-party", Action.BLOCK))
    with taddons.context(fs, api) as tctx:
        tctx.configure(api, formshield_audit="off")
        running = fs.policies
        assert running is not None
        user.write_text("rules: [\n")  # a broken hand edit
        with pytest.raises(exceptions.OptionsError, match="user policy file"):
            tctx.configure(api, formshield_policy=[str(ask_policy(tmp_path))])
        # the option change was rolled back and the policy in force is the one that ran
        assert tctx.options.formshield_policy == []
        assert fs.policies is running
        decision = running.policy.decide("shop.test", "t.example", "CN_PHONE", 1.0)
        assert decision.action is Action.BLOCK
        fs.done()
