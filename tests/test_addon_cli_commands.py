"""The formshield subcommands other than scan: policy check/explain, audit export, report, run's
argument checks. In-process through :func:`addon.cli.main`, on real files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from addon.audit import AuditStore
from addon.cli import main
from detectors.engine import Scanner

ID = "11010519491231002X"
PHONE = "13912345678"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """An audit store holding one blocked ID and one redacted phone."""
    path = tmp_path / "audit.sqlite3"
    findings = Scanner().scan_text(f"{ID} {PHONE}")
    with AuditStore(path, secret=b"k" * 32) as store:
        store.record_verdict(
            flow_id="f1", method="POST", url="http://tracker.example/c",
            destination="tracker.example", action="block",
            rule="default.yaml:77 (third-party-ids)", site="shop.test",
            third_party=True, findings=findings,
        )  # fmt: skip
        store.flush()
    return path


def test_policy_check_ok_and_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "policies/bundled/default.yaml"]) == 0
    assert "no errors" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - id: x\n    site: '*'\n    action: blok\n")
    assert main(["policy", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"{bad}:5: unknown action 'blok'" in out


@pytest.mark.parametrize(
    "entity, destination, verdict",
    [
        (
            "CN_RESIDENT_ID",
            "tracker.example",
            "verdict: block by default.yaml:77 (third-party-ids)",
        ),
        ("CN_PHONE", "tracker.example", "verdict: redact by default.yaml:87 (third-party-contact)"),
        ("CN_PHONE", "api.shop.test", "verdict: allow by default.yaml:48 (first-party-allow)"),
    ],
)
def test_policy_explain(
    entity: str, destination: str, verdict: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "explain", "--site", "shop.test", "--destination", destination,
                 "--entity", entity]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith(verdict)


@pytest.mark.parametrize(
    "site, destination",
    [
        ("https://www.shop.test/cart", "https://api.shop.test:8443/v1?x=1"),
        ("www.shop.test/cart", "api.shop.test:8443"),
    ],
)
def test_policy_explain_takes_urls_as_people_paste_them(
    site: str, destination: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "explain", "--site", site, "--destination", destination,
                 "--entity", "CN_PHONE"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    # The same verdict as for the bare hosts: same registrable domain, first party.
    assert out.startswith("verdict: allow by default.yaml:48 (first-party-allow)")
    assert "destination: api.shop.test (first party: same registrable domain)" in out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--destination", "not a host!", "--destination 'not a host!' is not a host name"),
        ("--destination", "", "--destination '' is not a host name"),
        ("--site", "", "omit --site if the site is unknown"),
    ],
)
def test_policy_explain_refuses_what_is_not_a_host(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--site": "shop.test", "--destination": "tracker.example", option: value}
    argv = ["policy", "explain", "--entity", "CN_PHONE"]
    for name, given in args.items():
        argv += [name, given]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_policy_explain_layers_user_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "user.yaml"
    user.write_text(
        "version: 1\nrules:\n  - id: trust-t\n    site: shop.test\n"
        "    destination: tracker.example\n    entities: [CN_PHONE]\n    action: allow\n"
    )
    assert main(["policy", "explain", "--site", "shop.test", "--destination", "tracker.example",
                 "--entity", "CN_PHONE", "--policy", str(user)]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("verdict: allow by user.yaml:3 (trust-t)")


def test_policy_explain_unknown_entity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", "--destination", "t.example", "--entity", "SSN"]) == 2
    assert "unknown entity 'SSN'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_audit_export(store_path: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"
    assert main(["audit", "export", "--db", str(store_path), "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text()
    assert ID not in text and PHONE not in text
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert sorted(r["masked"] for r in rows) == ["110***********002X", "139****5678"]


def test_audit_export_without_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--db", str(tmp_path / "none.sqlite3")]) == 2
    assert "no audit database" in capsys.readouterr().err


def test_audit_export_bad_since(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--db", str(store_path), "--since", "yesterdayish"]) == 2
    assert "formshield audit export: error:" in capsys.readouterr().err


def test_report_writes_html(store_path: Path, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    assert main(["report", "--db", str(store_path), "--html", str(page)]) == 0
    html = page.read_text()
    assert html.lower().startswith("<!doctype html")
    assert "tracker.example" in html and "<svg" in html
    assert ID not in html and PHONE not in html


def test_run_refuses_broken_policy_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules: [\n")
    assert main(["run", "--policy", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_run_wants_mitmproxy_arguments_after_double_dash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "-p", "9999"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: -p" in capsys.readouterr().err


def test_run_builds_mitmproxy_command_line() -> None:
    from addon.runner import build_mitmproxy_args

    args = build_mitmproxy_args(["p.yaml"], "off", ["-p", "9000"], simulate=True)
    # A --set, not a flag: the person's config.yaml, and flags after --, override it.
    assert args[:2] == ["--set", "listen_host=127.0.0.1"]
    assert args[-2:] == ["-p", "9000"]  # ours first: mitmproxy lets the later flag win
    assert "formshield_audit=off" in args and "formshield_simulate=true" in args
    assert "flow_detail=0" in args  # mitmdump's flow log would print URLs as sent
    assert "flow_detail=0" not in build_mitmproxy_args([], None, [], web=True)
    assert any(a.startswith("formshield_policy=") and a.endswith("p.yaml") for a in args)


@pytest.mark.parametrize(
    "extra, left_out",
    [
        (["--set", "listen_host=0.0.0.0"], "listen_host=127.0.0.1"),
        (["--set=flow_detail=2"], "flow_detail=0"),
    ],
)
def test_run_leaves_out_a_default_the_person_sets(extra: list[str], left_out: str) -> None:
    from addon.runner import build_mitmproxy_args

    # mitmproxy refuses two --set values for one option, so ours must give way.
    args = build_mitmproxy_args([], None, extra)
    assert left_out not in args
    assert args[-len(extra) :] == extra


@pytest.mark.parametrize(
    "args, names",
    [
        ([], set()),
        (["--set", "a=1", "-p", "9090", "--set=b=2"], {"a", "b"}),
        (["-s", "x.py", "--mode", "regular", "--set", "flag"], {"flag"}),
        (["--set"], set()),  # mitmproxy refuses it as it starts
    ],
)
def test_options_set(args: list[str], names: set[str]) -> None:
    from addon.runner import options_set

    assert options_set(args) == names


def test_pair_prints_url_and_a_private_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path))
    assert main(["pair", "--port", "9876"]) == 0
    out = capsys.readouterr().out
    token = (tmp_path / "api-token").read_text().strip()
    assert "http://127.0.0.1:9876" in out and token in out
    assert (tmp_path / "api-token").stat().st_mode & 0o777 == 0o600
    # Same token the second time: pairing once is enough.
    assert main(["pair", "--port", "9876"]) == 0
    assert token in capsys.readouterr().out


def test_pair_rejects_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pair", "--port", "70000"]) == 2
    assert "--port must be" in capsys.readouterr().err
