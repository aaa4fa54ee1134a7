"""Tests for addon.audit_export: CSV and JSON Lines exports of the audit store."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addon.audit import AuditStore, AuditStoreError, FindingOutcome
from addon.audit_export import (
    COLUMNS,
    DECISION_COLUMNS,
    csv_cell,
    export,
    iso_time,
    parse_since,
)
from addon.secrets import ENV_DATA_DIR
from detectors.masking import mask
from detectors.model import Finding

SECRET = bytes(range(32))
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def finding(entity: str, value: str, location: str) -> Finding:
    return Finding(entity, 0.9, location, mask(entity, value), value)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with two verdicts (one without findings) and one decision."""
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path, secret=SECRET) as store:
        store.record_verdict(
            flow_id="f1", method="POST", url="https://shop.cn/pay?card=1", site="shop.cn",
            destination="tracker.net", third_party=True, action="block", rule="no-cards",
            findings=[
                finding("CN_BANK_CARD", "6222020200001234567", "form.卡号"),
                FindingOutcome(finding("CN_PHONE", "13812345678", "=HYPERLINK(1)"), "allow", "ok"),
            ],
            issues=["invalid_json"], ts=T0,
        )  # fmt: skip
        store.record_verdict(
            flow_id="f2", method="PUT", url="https://up.cn/file", destination="up.cn",
            action="block", rule="fail-closed", issues=["too_large"], ts=T0 + 3600,
        )  # fmt: skip
        store.record_decision(
            destination="tracker.net", site="shop.cn", answer="always_allow", flow_id="f1",
            findings=[finding("CN_PHONE", "13812345678", "form.tel")], rule="ask", ts=T0 + 60,
        )  # fmt: skip
    return path


@pytest.fixture
def store(db: Path) -> Iterator[AuditStore]:
    with AuditStore(db, secret=SECRET) as s:
        yield s


def test_jsonl_lines_parse_with_types(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert export(db, "jsonl", out) == 3
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [list(r) for r in records] == [list(COLUMNS)] * 3
    card, phone, bare = records
    assert card["time"] == "2023-11-14T22:13:20.000Z"
    assert (card["flow_id"], card["url"], card["third_party"], card["incomplete"]) == (
        "f1", "https://shop.cn/pay", True, True,
    )  # fmt: skip
    assert card["fields"] == ["form.卡号", "=HYPERLINK(1)"]
    assert card["issues"] == ["invalid_json"]
    assert (card["entity_type"], card["masked"], card["score"]) == (
        "CN_BANK_CARD", "6222***********4567", 0.9,
    )  # fmt: skip
    assert len(card["fingerprint"]) == 32
    assert (phone["action"], phone["rule"], phone["verdict_action"]) == ("allow", "ok", "block")
    assert phone["location"] == "=HYPERLINK(1)"  # JSON is data, not a formula: kept as is
    assert bare["finding_id"] is None
    assert bare["site"] is None
    assert bare["issues"] == ["too_large"]


def test_csv_parses_back(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert export(db, "csv", out) == 3
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert tuple(rows[0]) == COLUMNS
    card, phone, bare = rows
    assert card["third_party"] == "true"
    assert json.loads(card["fields"]) == ["form.卡号", "=HYPERLINK(1)"]
    assert card["location"] == "form.卡号"
    assert float(card["ts"]) == T0
    assert card["masked"] == "6222***********4567"
    # a cell a spreadsheet would run as a formula is defused
    assert phone["location"] == "'=HYPERLINK(1)"
    assert bare["finding_id"] == ""
    assert bare["site"] == ""
    assert bare["method"] == "PUT"
    assert out.read_bytes().count(b"\r\n") == 4  # header + 3 rows, RFC 4180 line ends


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_same_records_in_both_formats(db: Path, fmt: str) -> None:
    buf = io.StringIO()
    assert export(db, fmt, buf) == 3  # type: ignore[arg-type]
    text = buf.getvalue()
    assert "f1" in text
    assert "f2" in text


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_since_filters(db: Path, fmt: str) -> None:
    buf = io.StringIO()
    assert export(db, fmt, buf, since=T0 + 1) == 1  # type: ignore[arg-type]
    later = datetime.fromtimestamp(T0 + 7200, UTC)
    assert export(db, fmt, io.StringIO(), since=later) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("out", [None, "-"])
def test_stdout(db: Path, out: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(db, "jsonl", out) == 3
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["flow_id"] == "f1"


def test_open_store_is_accepted(store: AuditStore) -> None:
    buf = io.StringIO()
    assert export(store, "jsonl", buf) == 3
    store.record_decision(destination="x.com", answer="block")
    store.flush()
    assert export(store, "jsonl", io.StringIO(), kind="decisions") == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_decisions_export(db: Path, fmt: str) -> None:
    buf = io.StringIO()
    assert export(db, fmt, buf, kind="decisions") == 1  # type: ignore[arg-type]
    if fmt == "jsonl":
        record = json.loads(buf.getvalue())
        assert list(record) == list(DECISION_COLUMNS)
        assert record["entity_types"] == ["CN_PHONE"]
        assert len(record["fingerprints"]) == 1
    else:
        [record] = list(csv.DictReader(io.StringIO(buf.getvalue())))
        [fingerprint] = json.loads(record["fingerprints"])
        assert len(fingerprint) == 32
        assert record["answer"] == "always_allow"
        assert record["time"] == "2023-11-14T22:14:20.000Z"


def test_export_by_path_needs_no_secret(db: Path, tmp_path: Path) -> None:
    export(db, "csv", io.StringIO())
    assert not (tmp_path / "data" / "secret.key").exists()


def test_output_file_is_private_and_replaced_whole(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    out.write_text("old content\n")
    export(db, "csv", out)
    assert "old content" not in out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_failed_export_keeps_the_old_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text("previous export\n")
    closed = AuditStore(db, secret=SECRET)
    closed.close()
    with pytest.raises(AuditStoreError, match="closed"):
        export(closed, "jsonl", out)
    assert out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"fmt": "xml"}, ValueError),
        ({"fmt": "csv", "kind": "flows"}, ValueError),
    ],
)
def test_bad_arguments(db: Path, kwargs: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error, match="unknown export"):
        export(db, out=io.StringIO(), **kwargs)  # type: ignore[arg-type]


def test_missing_database_and_unwritable_target(tmp_path: Path, db: Path) -> None:
    with pytest.raises(AuditStoreError, match="no audit database"):
        export(tmp_path / "missing.db", "csv", io.StringIO())
    with pytest.raises(OSError):
        export(db, "csv", tmp_path / "no-such-dir" / "out.csv")


# --- cells and times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, cell",
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (0.25, "0.25"),
        (["a", "卡号"], '["a", "卡号"]'),
        ("plain", "plain"),
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
    ],
)
def test_csv_cell(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


@given(st.text())
def test_any_text_survives_csv(text: str) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([csv_cell(text), "end"])
    [[back, end]] = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert end == "end"
    assert back in (text, "'" + text)
    assert back == text or text.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_iso_time() -> None:
    assert iso_time(T0) == "2023-11-14T22:13:20.000Z"
    assert iso_time(T0 + 0.5) == "2023-11-14T22:13:20.500Z"


NOW = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("24h", NOW.timestamp() - 86400),
        ("7d", NOW.timestamp() - 7 * 86400),
        ("2w", NOW.timestamp() - 14 * 86400),
        ("90m", NOW.timestamp() - 5400),
        (" 1.5 h ", NOW.timestamp() - 5400),
        ("2024-11-01T08:00+08:00", datetime(2024, 11, 1, 0, 0, tzinfo=UTC).timestamp()),
        ("2024-11-01T00:00Z", datetime(2024, 11, 1, tzinfo=UTC).timestamp()),
    ],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text, now=NOW) == pytest.approx(expected)


def test_parse_since_naive_date_is_local() -> None:
    assert parse_since("2024-11-01") == datetime(2024, 11, 1).timestamp()


@pytest.mark.parametrize("text", ["", "yesterday", "7 days", "-3d", "2024-13-01"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration like 24h"):
        parse_since(text)
