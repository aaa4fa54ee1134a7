"""End to end: a real mitmdump with formshield between a client and a local upstream.

Named hosts (shop.test, tracker.example) are routed to the upstream on 127.0.0.1 by the test-only
addon in ``route_to_upstream.py``; the assertions are on what the upstream really received and on
the audit store the proxy wrote.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.blockpage import RULE_HEADER
from detectors.engine import Scanner
from tests.e2e.harness import ROOT, Mitmdump, Upstream, free_port, send

pytestmark = pytest.mark.e2e

ID = "11010519491231002X"
PHONE = "13912345678"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


@pytest.fixture(scope="module")
def proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    with Mitmdump(upstream.port, tmp_path_factory.mktemp("proxy")) as mitm:
        yield mitm


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_tracker_beacon_with_id_never_leaves(proxy: Mitmdump, upstream: Upstream) -> None:
    status, headers, body = send(
        proxy,
        "http://tracker.example/collect?m=t1",
        f"idNo={ID}&ev=keyup".encode(),
        {**FORM, "Origin": "http://shop.test", "Sec-Fetch-Mode": "cors"},
    )
    assert status == 403
    assert "third-party-ids" in headers[RULE_HEADER.lower()]
    doc = json.loads(body)
    assert doc["findings"][0]["masked"] == "110***********002X"
    assert upstream.bodies("m=t1") == []


def test_phone_to_tracker_is_redacted_in_json(proxy: Mitmdump, upstream: Upstream) -> None:
    payload = {"event": "form", "fields": {"mobile": PHONE, "city": "杭州"}}
    status, _, _ = send(
        proxy,
        "http://tracker.example/collect?m=t2",
        json.dumps(payload, ensure_ascii=False).encode(),
        {"Content-Type": "application/json", "Origin": "http://shop.test"},
    )
    assert status == 200
    [got] = upstream.bodies("m=t2")
    assert PHONE.encode() not in got
    assert json.loads(got) == {"event": "form", "fields": {"mobile": "139****5678", "city": "杭州"}}


def test_gzip_body_is_redacted_and_recompressed(proxy: Mitmdump, upstream: Upstream) -> None:
    raw = json.dumps({"tel": PHONE}).encode()
    status, _, _ = send(
        proxy,
        "http://tracker.example/collect?m=t3",
        gzip.compress(raw),
        {"Content-Type": "application/json", "Content-Encoding": "gzip",
         "Referer": "http://www.shop.test/cart"},
    )  # fmt: skip
    assert status == 200
    [got] = upstream.bodies("m=t3")
    decoded = gzip.decompress(got)
    assert json.loads(decoded) == {"tel": "139****5678"}
    assert Scanner().scan_text(decoded.decode()) == []


def test_first_party_post_passes_intact(proxy: Mitmdump, upstream: Upstream) -> None:
    body = f"name=%E5%BC%A0%E4%B8%89&idNo={ID}&mobile={PHONE}".encode()
    status, _, _ = send(
        proxy, "http://www.shop.test/order?m=t4", body, {**FORM, "Origin": "http://shop.test"}
    )
    assert status == 200
    assert upstream.bodies("m=t4") == [body]


def test_request_without_personal_data_passes(proxy: Mitmdump, upstream: Upstream) -> None:
    status, _, _ = send(proxy, "http://tracker.example/pixel?m=t5&ts=1732812345678", None, {},
                        method="GET")  # fmt: skip
    assert status == 200
    assert len(upstream.bodies("m=t5")) == 1


def test_audit_store_holds_masked_records_only(proxy: Mitmdump, upstream: Upstream) -> None:
    origin = {"Origin": "http://shop.test"}
    send(proxy, "http://tracker.example/collect?m=a1", f"idNo={ID}".encode(), {**FORM, **origin})
    send(proxy, "http://tracker.example/collect?m=a2", f"tel={PHONE}".encode(), {**FORM, **origin})
    rows = proxy.audit_rows(
        "SELECT v.destination, f.entity_type, f.masked, f.action FROM findings f "
        "JOIN verdicts v ON v.id = f.verdict_id ORDER BY f.id",
        at_least=3,
    )
    assert ("tracker.example", "CN_RESIDENT_ID", "110***********002X", "block") in rows
    assert ("tracker.example", "CN_PHONE", "139****5678", "redact") in rows
    dump = proxy.audit_dump()
    assert ID not in dump and PHONE not in dump
    assert Scanner().scan_text(dump) == []


@pytest.mark.parametrize("port_from", ["flag", "config.yaml"])
def test_formshield_run_starts_a_working_proxy(
    tmp_path: Path, upstream: Upstream, port_from: str
) -> None:
    """The README's run command path on the bundled policy, listening where the person says:
    `formshield run -- -p PORT`, or a `listen_port` in their mitmproxy config.yaml."""
    port = free_port()
    exe = Path(sys.executable).with_name("formshield")
    env = {"FORMSHIELD_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    (tmp_path / "conf").mkdir()
    if port_from == "flag":
        extra = ["-p", str(port)]
    else:
        (tmp_path / "conf" / "config.yaml").write_text(f"listen_port: {port}\n")
        extra = []
    proc = subprocess.Popen(
        [str(exe), "run", "--", *extra, "--set", f"confdir={tmp_path / 'conf'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"})
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{upstream.port}/run-check?m=t6-{port_from}",
                    data=f"idNo={ID}".encode(),
                    headers={**FORM, "Origin": "http://shop.test"},
                )
                opener.open(req, timeout=5)
                status = 200
            except urllib.error.HTTPError as err:
                status = err.code
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
                continue
            break
        # 127.0.0.1 is a third party to shop.test: the ID is blocked.
        assert status == 403
        assert upstream.bodies(f"m=t6-{port_from}") == []
        # A first-party request with a phone in its query passes; mitmdump must not print the
        # URL as sent (its default flow log would put the number in the proxy's output).
        same_site = urllib.request.Request(
            f"http://127.0.0.1:{upstream.port}/run-check?m=t7-{port_from}&tel={PHONE}",
            headers={"Origin": f"http://127.0.0.1:{upstream.port}"},
        )
        opener.open(same_site, timeout=5)
        assert len(upstream.bodies(f"m=t7-{port_from}")) == 1
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    text = out.decode(errors="replace")
    assert "policies:" in text and "default.yaml" in text
    # The banner shows what the arguments after -- set, not the defaults they override.
    assert f"proxy:       http://127.0.0.1:{port}\n" in text
    ca_cert = tmp_path / "conf" / "mitmproxy-ca-cert.pem"
    assert f"CA cert:     {ca_cert} " in text and ca_cert.is_file()
    assert f"audit store: {tmp_path / 'audit.sqlite3'}\n" in text
    assert ID not in text and PHONE not in text
