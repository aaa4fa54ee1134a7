"""Tests of ``formshield scan`` over the real captures in tests/fixtures/captures.

The captures were recorded through a real mitmdump by scripts/make_capture_fixtures.py; the
expected findings below follow the requests that script sends (change both together).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from addon.cli import main

REPO = Path(__file__).resolve().parent.parent
CAPTURES = REPO / "tests" / "fixtures" / "captures"
FORMSHIELD = REPO / ".venv" / "bin" / "formshield"
# The fake values scripts/make_capture_fixtures.py put in the captures.
PEOPLE: dict[str, Any] = json.loads((CAPTURES / "people.json").read_text("utf-8"))
ID_FORM, ID_GBK, ID_JSON, ID_GZIP, ID_MULTIPART = PEOPLE["ids"]

# Every raw personal value in the shop capture: none may ever reach stdout.
RAW_VALUES = [
    ID_FORM,
    ID_FORM.lower(),
    ID_GBK,
    ID_JSON,
    ID_JSON.upper(),
    ID_GZIP,
    ID_MULTIPART,
    *(v for k, v in PEOPLE.items() if k.startswith("phone")),
    *(v for k, v in PEOPLE.items() if k.startswith(("name", "address"))),
]


def _mask_id(value: str) -> str:
    return value[:3] + "*" * 11 + value[-4:]


def _mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:]


P = PEOPLE
# (entry, ws_message, location, entity_type, masked, encodings, third_party)
SHOP_FINDINGS: list[tuple[Any, ...]] = [
    (1, None, "form.idNo", "CN_RESIDENT_ID", _mask_id(ID_FORM), ["utf-8"], False),
    (1, None, "form.phone", "CN_PHONE", _mask_phone(P["phone_form"]), ["utf-8"], False),
    # the GBK form without charset: decoded as GB18030
    (2, None, "form.sfzh", "CN_RESIDENT_ID", _mask_id(ID_GBK), ["gb18030"], False),
    (2, None, "form.lxdh", "CN_PHONE", _mask_phone(P["phone_gbk"]), ["gb18030"], False),
    (3, None, "json.data.user.idNo", "CN_RESIDENT_ID", _mask_id(ID_JSON), ["utf-8"], False),
    (
        3,
        None,
        "json.data.contacts[0].tel",
        "CN_PHONE",
        _mask_phone(P["phone_json"]),
        ["utf-8"],
        False,
    ),
    # the tracker beacon: third party
    (4, None, "query.u", "CN_PHONE", _mask_phone(P["phone_beacon"]), ["utf-8"], True),
    (5, None, "json.mobile", "CN_PHONE", _mask_phone(P["phone_form"]), ["gzip", "utf-8"], False),
    (5, None, "json.idCard", "CN_RESIDENT_ID", _mask_id(ID_GZIP), ["gzip", "utf-8"], False),
    # base64 JSON inside a form field of a third-party collector
    (
        6,
        None,
        "form.d.phone",
        "CN_PHONE",
        _mask_phone(P["phone_base64"]),
        ["utf-8", "base64", "json"],
        True,
    ),
    (7, None, "multipart.idCardNo", "CN_RESIDENT_ID", _mask_id(ID_MULTIPART), ["utf-8"], False),
    (7, None, "multipart.resume", "CN_PHONE", _mask_phone(P["phone_form"]), ["utf-8"], False),
    # the chat message the client sent over the WebSocket (message 2 of the flow)
    (10, 2, "ws.json.text", "CN_PHONE", _mask_phone(P["phone_ws"]), ["utf-8"], False),
]
# The binary WebSocket frame (message 4) is scanned for text runs only, and says so.
SHOP_ISSUES = [(10, 4, "binary_body", "ws.body")]


def _records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _findings(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["entry"],
            r["ws_message"],
            r["location"],
            r["entity_type"],
            r["masked"],
            r["encodings"],
            r["third_party"],
        )
        for r in records
        if r["type"] == "finding"
    ]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(FORMSHIELD), *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )


def _main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


# -- findings ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shop.mitm", "shop.har"])
def test_shop_capture_jsonl_exact_findings(capsys: pytest.CaptureFixture[str], name: str) -> None:
    status, out, err = _main(capsys, "scan", "--format", "jsonl", CAPTURES / name)
    records = _records(out)
    assert _findings(records) == SHOP_FINDINGS
    assert status == 1
    issues = [r for r in records if r["type"] == "issue"]
    assert [(r["entry"], r["ws_message"], r["kind"], r["location"]) for r in issues] == SHOP_ISSUES
    summary = records[-1]
    assert summary["type"] == "summary"
    assert summary["requests"] == 11
    assert summary["ws_messages"] == 3
    assert summary["findings"] == len(SHOP_FINDINGS)
    assert summary["skipped_flows"] == ({"tcp": 1} if name.endswith(".mitm") else {})
    for raw in RAW_VALUES:
        assert raw not in out and raw not in err


def test_finding_fields(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _main(capsys, "scan", "--format", "jsonl", CAPTURES / "shop.mitm")
    by_entry = {(r["entry"], r["location"]): r for r in _records(out) if r["type"] == "finding"}
    beacon = by_entry[(4, "query.u")]
    assert beacon["method"] == "GET"
    assert beacon["url"] == "http://hm.stats-demo.com/hm.gif?si=*&u=*&t=*&ep=*"
    assert (beacon["site"], beacon["destination"], beacon["third_party"]) == (
        "demo-shop.cn",
        "stats-demo.com",
        True,
    )
    assert beacon["file"] == str(CAPTURES / "shop.mitm")
    assert 0.5 <= beacon["score"] <= 1.0
    assert beacon["score"] == round(beacon["score"], 3)
    gbk = by_entry[(2, "form.sfzh")]
    assert (gbk["site"], gbk["destination"]) == ("gbk-mall.com.cn", "gbk-mall.com.cn")
    api = by_entry[(3, "json.data.user.idNo")]
    assert (api["site"], api["destination"], api["third_party"]) == (
        "demo-shop.cn",
        "demo-shop.cn",
        False,
    )
    ws = by_entry[(10, "ws.json.text")]
    assert ws["url"] == "http://im.demo-shop.cn/ws"
    assert ws["ws_message"] == 2


def test_entries_number_requests_across_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _main(
        capsys, "scan", "--format", "jsonl", CAPTURES / "clean.har", CAPTURES / "shop.har"
    )
    records = _records(out)
    found = _findings(records)
    # clean.har holds 5 requests: the shop's entries follow them
    assert found == [(e + 5, *rest) for e, *rest in SHOP_FINDINGS]
    assert {r["file"] for r in records if r["type"] == "finding"} == {str(CAPTURES / "shop.har")}
    assert records[-1]["requests"] == 16
    assert records[-1]["files"] == 2
    assert status == 1


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--entities", "CN_PHONE"], {"CN_PHONE"}),
        (["--entities", "cn_resident_id"], {"CN_RESIDENT_ID"}),
        (["--entities", "CN_PHONE,CN_RESIDENT_ID"], {"CN_PHONE", "CN_RESIDENT_ID"}),
        (
            ["--entities", "CN_PHONE", "--entities", "CN_RESIDENT_ID"],
            {"CN_PHONE", "CN_RESIDENT_ID"},
        ),
        (["--entities", "EMAIL_ADDRESS"], set()),
    ],
)
def test_entities_filter(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: set[str]
) -> None:
    status, out, _ = _main(capsys, "scan", "--format", "jsonl", *args, CAPTURES / "shop.mitm")
    found = {f[3] for f in _findings(_records(out))}
    assert found == expected
    assert status == (1 if expected else 0)


def test_min_score_filter(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _main(
        capsys, "scan", "--format", "jsonl", "--min-score", "0", CAPTURES / "shop.mitm"
    )
    everything = _findings(_records(out))
    _, out, _ = _main(
        capsys, "scan", "--format", "jsonl", "--min-score", "1", CAPTURES / "shop.mitm"
    )
    scores = [r["score"] for r in _records(out) if r["type"] == "finding"]
    assert all(s >= 1.0 for s in scores)
    assert len(scores) <= len(SHOP_FINDINGS) <= len(everything)


def test_clean_capture_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("clean.mitm", "clean.har"):
        status, out, err = _main(capsys, "scan", "--format", "jsonl", CAPTURES / name)
        records = _records(out)
        assert status == 0, err
        assert [r["type"] for r in records] == ["summary"]
        assert records[0]["requests"] == 5


# -- the table -----------------------------------------------------------------------------


def test_table_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # rich sizes tables to the terminal; without one it reads COLUMNS (80 when unset), which
    # would truncate the headers this test looks for.
    monkeypatch.setenv("COLUMNS", "200")
    status, out, _ = _main(capsys, "scan", CAPTURES / "shop.mitm")
    assert status == 1
    for text in (
        "Entry",
        "Destination",
        "stats-demo.com",
        "3P",
        "form.idNo",
        "CN_RESIDENT_ID",
        _mask_id(ID_FORM),
        "gzip > utf-8",
        "10.ws2",
        f"{len(SHOP_FINDINGS)} findings (2 to third parties) in 8 of 11 requests",
        "skipped non-HTTP flows: 1 tcp",
    ):
        assert text in out
    for raw in RAW_VALUES:
        assert raw not in out


def test_table_of_a_clean_capture(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _main(capsys, "scan", "--format", "table", CAPTURES / "clean.mitm")
    assert status == 0
    assert out.strip() == "0 findings (0 to third parties) in 0 of 5 requests, 1 file"


# -- unreadable input and usage errors -------------------------------------------------------


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    data = (CAPTURES / "shop.mitm").read_bytes()
    files = {
        "truncated.mitm": data[: len(data) // 2],
        "not-json.har": b"{this is not json",
        "not-a-capture.har": b"hello",
        "json-not-har.har": b'{"entries": []}',
        "bad-gzip.mitm.gz": gzip.compress(data)[:100],
    }
    for name, content in files.items():
        (tmp / name).write_bytes(content)
    return {name: tmp / name for name in files}


@pytest.mark.parametrize(
    "name, reason",
    [
        ("truncated.mitm", "corrupt flow file after"),
        ("not-json.har", "not valid JSON"),
        ("not-a-capture.har", "not a HAR (JSON) or mitmproxy flow file"),
        ("json-not-har.har", "not a HAR file"),
        ("bad-gzip.mitm.gz", "gzip-compressed but the stream is corrupt or truncated"),
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = _bad_inputs(tmp_path)[name]
    status, out, err = _main(capsys, "scan", "--format", "jsonl", path)
    assert status == 2
    assert f"formshield scan: error: {path}: " in err
    assert reason in err
    assert "Traceback" not in err
    for raw in RAW_VALUES:
        assert raw not in out and raw not in err


def test_truncated_file_still_reports_what_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_inputs(tmp_path)["truncated.mitm"]
    status, out, _ = _main(capsys, "scan", "--format", "jsonl", path, CAPTURES / "shop.har")
    records = _records(out)
    assert status == 2
    assert records[-1]["unreadable"] and records[-1]["files"] == 2
    shop = [f for f in _findings(records) if f[0] >= records[-1]["requests"] - 11]
    assert len(shop) == len(SHOP_FINDINGS)


def test_missing_file_exits_2_before_scanning(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _main(capsys, "scan", CAPTURES / "shop.mitm", "/nonexistent/x.har")
    assert status == 2
    assert out == ""
    assert err.strip() == "formshield scan: error: /nonexistent/x.har: no such file"


@pytest.mark.parametrize(
    "args",
    [
        ["scan"],
        ["scan", "--format", "xml", "x"],
        ["scan", "--min-score", "1.5", "x"],
        ["scan", "--min-score", "high", "x"],
        ["scan", "--entities", ",", "x"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_unknown_entity_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _main(capsys, "scan", "--entities", "CN_PHONE,NOPE", CAPTURES / "clean.har")
    assert out == ""
    assert status == 2
    assert "unknown entity type(s): NOPE" in err
    assert "CN_RESIDENT_ID" in err  # the known ones are listed


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "scan" in capsys.readouterr().err


# -- as a real process ---------------------------------------------------------------------


def test_subprocess_jsonl_and_exit_codes(tmp_path: Path) -> None:
    shop = _run("scan", "--format", "jsonl", CAPTURES / "shop.mitm")
    assert shop.returncode == 1, shop.stderr
    assert _findings(_records(shop.stdout)) == SHOP_FINDINGS
    assert shop.stderr == ""  # no progress bar for a small input or a non-terminal
    for raw in RAW_VALUES:
        assert raw not in shop.stdout
    clean = _run("scan", "--format", "jsonl", CAPTURES / "clean.har")
    assert clean.returncode == 0, clean.stderr
    missing = _run("scan", tmp_path / "missing.mitm")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    corrupt = _bad_inputs(tmp_path)["not-json.har"]
    bad = _run("scan", corrupt)
    assert bad.returncode == 2
    assert "not valid JSON" in bad.stderr and "Traceback" not in bad.stderr
    usage = _run("scan", "--min-score", "9", CAPTURES / "shop.mitm")
    assert usage.returncode == 2


def test_subprocess_table() -> None:
    result = _run("scan", "--format", "table", CAPTURES / "shop.har")
    assert result.returncode == 1
    assert _mask_phone(P["phone_beacon"]) in result.stdout
    assert "\x1b[" not in result.stdout
    for raw in RAW_VALUES:
        assert raw not in result.stdout


def test_cli_start_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from addon import cli\n"
        "cli.build_parser().parse_args(['scan', 'x'])\n"
        "heavy = [m for m in ('mitmproxy', 'presidio_analyzer', 'spacy', 'tldextract', 'rich')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


def test_sigint_exits_130(tmp_path: Path) -> None:
    """Ctrl-C during a long scan: status 130, one line on stderr, no traceback."""
    import signal
    import time

    big = tmp_path / "big.mitm"
    data = (CAPTURES / "shop.mitm").read_bytes()
    big.write_bytes(data * 400)
    proc = subprocess.Popen(
        [str(FORMSHIELD), "scan", "--format", "jsonl", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the scan is under way
    assert json.loads(first)["type"] == "finding"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "formshield: interrupted"
    assert time.monotonic() - started < 10


def test_progress_bar_goes_to_a_terminal_stderr_only(tmp_path: Path) -> None:
    """A large input with stderr on a terminal: a bar there, clean JSON Lines on stdout."""
    import pty
    import threading

    big = tmp_path / "big.mitm"
    data = (CAPTURES / "shop.mitm").read_bytes()
    big.write_bytes(data * (1 + (1 << 20) // len(data)))  # just over 1 MiB
    controller, terminal = pty.openpty()
    seen = bytearray()

    def drain() -> None:  # keep reading, or the bar's writes would fill the pty and block
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.Popen(
            [str(FORMSHIELD), "scan", "--format", "jsonl", str(big)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            cwd=REPO,
        )
        os.close(terminal)
        out, _ = proc.communicate(timeout=300)
        reader.join(timeout=10)
    finally:
        os.close(controller)
    assert proc.returncode == 1
    records = _records(out)  # every line of stdout is JSON: no bar, no escape codes
    assert records[-1]["type"] == "summary"
    assert b"scanning" in seen
    for raw in RAW_VALUES:
        assert raw.encode() not in seen
