"""Tests for addon.audit: the SQLite audit store, its fingerprints and its queries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from addon.audit import AuditStore, AuditStoreError, FindingOutcome, _json_strings
from addon.audit_queries import BucketCount
from addon.audit_schema import MIGRATIONS, SCHEMA_VERSION, migrate
from addon.audit_values import Fingerprinter, canonical_value, sanitize_url
from addon.secrets import ENV_DATA_DIR
from detectors.masking import mask
from detectors.model import Finding, ScanIssue
from detectors.registry import build_analyzer_engine

SECRET = bytes(range(32))
DAY = 86400
# 2023-11-14 00:00:00 UTC: a fixed day start, so time buckets are exact.
DAY0 = 1_699_920_000.0
ROOT = Path(__file__).resolve().parent.parent


def finding(entity: str, value: str, location: str = "form.x", score: float = 0.95) -> Finding:
    return Finding(entity, score, location, mask(entity, value), value)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    with AuditStore(tmp_path / "audit.sqlite3", secret=SECRET) as s:
        yield s


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- canonical values and fingerprints -------------------------------------------------------

FP = Fingerprinter(SECRET)


@pytest.mark.parametrize(
    "entity, a, b",
    [
        # resident ID: spaces, dashes, lowercase x, full-width digits
        ("CN_RESIDENT_ID", "11010519491231002X", "110105 19491231 002x"),
        ("CN_RESIDENT_ID", "11010519491231002X", "110105-1949-1231-002X"),
        ("CN_RESIDENT_ID", "11010519491231002X", "１１０１０５１９４９１２３１００２ｘ"),
        # bank cards
        ("CN_BANK_CARD", "6222020200001234567", "6222 0202 0000 1234 567"),
        ("CREDIT_CARD", "4318609139099607", "4318-6091-3909-9607"),
        # phones: country code forms and separators
        ("CN_PHONE", "13812345678", "+86 138 1234 5678"),
        ("CN_PHONE", "13812345678", "0086-13812345678"),
        ("CN_PHONE", "13812345678", "86-138-1234-5678"),
        ("CN_PHONE", "13812345678", "138.1234.5678"),
        ("CN_PHONE", "01012345678", "+86-10-12345678"),
        ("CN_PHONE", "01012345678", "(010)12345678"),
        ("CN_PHONE", "075512345678", "（0755）12345678"),
        ("CN_PHONE", "075512345678", "+86 (0)755 1234 5678"),
        # email: case and stray spaces
        ("EMAIL_ADDRESS", "zhang.san@example.com", " Zhang.San@Example.COM"),
        ("CN_PASSPORT", "E12345678", "e1234 5678"),
    ],
)
def test_same_value_different_formatting_same_fingerprint(entity: str, a: str, b: str) -> None:
    assert canonical_value(entity, a) == canonical_value(entity, b)
    assert FP(entity, a) == FP(entity, b)


@pytest.mark.parametrize(
    "entity_a, a, entity_b, b",
    [
        ("CN_RESIDENT_ID", "11010519491231002X", "CN_RESIDENT_ID", "110105194912310029"),
        ("CN_PHONE", "13812345678", "CN_PHONE", "13812345679"),
        ("CN_PHONE", "01012345678", "CN_PHONE", "1012345678"),  # landline != short number
        ("EMAIL_ADDRESS", "zhangsan@example.com", "EMAIL_ADDRESS", "zhang.san@example.com"),
        ("PERSON", "张三", "PERSON", "李四"),  # CJK letters are kept, not stripped
        ("CN_BANK_CARD", "6222020200001234567", "CREDIT_CARD", "6222020200001234567"),
    ],
)
def test_different_values_different_fingerprints(
    entity_a: str, a: str, entity_b: str, b: str
) -> None:
    assert FP(entity_a, a) != FP(entity_b, b)


def test_fingerprint_format_and_key_dependence() -> None:
    fp = FP("CN_PHONE", "13812345678")
    assert re.fullmatch(r"[0-9a-f]{32}", fp)
    assert Fingerprinter(b"\x02" * 32)("CN_PHONE", "13812345678") != fp
    assert "13812345678" not in repr(FP)
    with pytest.raises(ValueError):
        Fingerprinter(b"short")


def test_fingerprint_is_the_documented_hmac() -> None:
    """HMAC-SHA256(secret, entity type + U+001F + canonical value), first 16 bytes, hex: the
    format stores written by earlier versions hold, so counts stay comparable."""
    secret = b"\x07" * 32
    expected = hmac.new(secret, b"CN_PHONE\x1f13812345678", hashlib.sha256).hexdigest()[:32]
    assert Fingerprinter(secret)("CN_PHONE", "+86 138-1234-5678") == expected


def test_punctuation_only_value_is_not_collapsed_to_empty() -> None:
    assert canonical_value("OTHER", "--") == "--"
    assert FP("OTHER", "--") != FP("OTHER", "..")


@given(
    digits=st.text(alphabet="0123456789", min_size=15, max_size=19),
    seps=st.lists(st.sampled_from([" ", "-", "  ", "\u3000", ".", "/", "\t"]), max_size=19),
)
def test_separators_never_change_the_fingerprint(digits: str, seps: list[str]) -> None:
    # Insert separators between digits at arbitrary positions.
    parts = [d + (seps[i] if i < len(seps) else "") for i, d in enumerate(digits)]
    spaced = "".join(parts)
    for entity in ("CN_RESIDENT_ID", "CN_BANK_CARD", "CREDIT_CARD"):
        assert FP(entity, spaced) == FP(entity, digits)


def test_fingerprint_stable_across_reopen_and_distinct_across_installs(tmp_path: Path) -> None:
    value = "11010519491231002X"
    with AuditStore(tmp_path / "a.db", data_directory=tmp_path / "install-a") as s1:
        first = s1.fingerprint("CN_RESIDENT_ID", value)
    with AuditStore(tmp_path / "a.db", data_directory=tmp_path / "install-a") as s2:
        again = s2.fingerprint("CN_RESIDENT_ID", value)
    with AuditStore(tmp_path / "b.db", data_directory=tmp_path / "install-b") as s3:
        other = s3.fingerprint("CN_RESIDENT_ID", value)
    assert first == again
    assert first != other


def test_default_secret_and_db_live_in_env_data_dir(tmp_path: Path) -> None:
    with AuditStore() as s:
        assert s.path == tmp_path / "data" / "audit.sqlite3"
    assert (tmp_path / "data" / "secret.key").is_file()


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://a.example.com/submit?phone=13812345678&x=1", "https://a.example.com/submit"),
        ("https://user:pw@a.example.com:8443/p#frag", "https://a.example.com:8443/p"),
        ("http://[::1]:8080/x?y=1", "http://[::1]:8080/x"),
        ("https://a.example.com", "https://a.example.com"),
        # a finding's value in the path is replaced by its mask
        ("https://a.com/u/13812345678/profile", "https://a.com/u/138****5678/profile"),
        # percent-encoded paths are decoded first, so an encoded value is masked too
        ("https://a.com/u/%31%33%38%31%32%33%34%35%36%37%38", "https://a.com/u/138****5678"),
        # a long digit run nobody detected is masked as a backstop; short ones stay
        ("https://a.com/o/620000199001011234/2024", "https://a.com/o/620*************34/2024"),
        ("https://a.com/o/1234567/2024", "https://a.com/o/1234567/2024"),
        # unparsable
        ("http://[::1/x", "<unparsable url>"),
        ("http://a.com:99999/x", "<unparsable url>"),
    ],
)
def test_sanitize_url(url: str, expected: str) -> None:
    assert sanitize_url(url, [("13812345678", "138****5678")]) == expected


def test_sanitize_url_clips_huge_urls() -> None:
    assert len(sanitize_url("https://a.com/" + "a" * 10_000)) == 2048


# --- recording and reading -------------------------------------------------------------------


def test_verdict_and_findings_round_trip(store: AuditStore) -> None:
    id_value, phone = "11010519491231002X", "13812345678"
    store.record_verdict(
        flow_id="flow-1",
        method="post",
        url=f"https://shop.example.com/checkout?sfz={id_value}",
        site="shop.example.com",
        destination="tracker.net",
        third_party=True,
        action="block",
        rule="no-ids-to-trackers",
        mode="simulate",
        findings=[
            finding("CN_RESIDENT_ID", id_value, "query.sfz", 1.0),
            FindingOutcome(finding("CN_PHONE", phone, "form.tel", 0.7), "allow", "phones-ok"),
        ],
        issues=[ScanIssue("truncated_body", "body", "body over 1 MiB"), "truncated_body"],
        ts=DAY0,
    )
    assert store.flush()
    rows = store.findings_for_flow("flow-1")
    assert [(r.location, r.entity_type, r.masked, r.action, r.rule) for r in rows] == [
        ("query.sfz", "CN_RESIDENT_ID", "110***********002X", "block", "no-ids-to-trackers"),
        ("form.tel", "CN_PHONE", "138****5678", "allow", "phones-ok"),
    ]
    first = rows[0]
    assert first.url == "https://shop.example.com/checkout"
    assert first.method == "POST"
    assert (first.site, first.destination) == ("shop.example.com", "tracker.net")
    assert first.third_party is True
    assert (first.mode, first.verdict_action) == ("simulate", "block")
    assert (first.ts, first.score) == (DAY0, 1.0)
    assert first.fingerprint == store.fingerprint("CN_RESIDENT_ID", id_value)
    exported = list(store.iter_export())
    assert exported[0]["fields"] == ["query.sfz", "form.tel"]
    assert exported[0]["issues"] == ["truncated_body"]
    assert exported[0]["incomplete"] is True
    assert store.written == 1


def test_verdict_without_findings_is_recorded(store: AuditStore) -> None:
    store.record_verdict(
        flow_id="f", method="POST", url="https://a.com/up", destination="a.com", action="block",
        rule="fail-closed", issues=["too_large"],
    )  # fmt: skip
    store.flush()
    assert store.totals().verdicts == 1
    assert store.totals().incomplete == 1
    assert store.recent_findings() == []
    [row] = list(store.iter_export())
    assert row["finding_id"] is None
    assert row["issues"] == ["too_large"]


def test_incomplete_flag_can_be_given_explicitly(store: AuditStore) -> None:
    store.record_verdict(
        flow_id="f", method="GET", url="https://a.com/", destination="a.com", action="allow",
        rule="r", incomplete=True,
    )  # fmt: skip
    store.flush()
    assert store.totals().incomplete == 1


@pytest.mark.parametrize("score", [float("nan"), float("inf")])
def test_non_finite_score_stored_as_null(store: AuditStore, score: float) -> None:
    store.record_verdict(
        flow_id="f", method="GET", url="https://a.com/", destination="a.com", action="allow",
        rule="r", findings=[finding("CN_PHONE", "13812345678", score=score)],
    )  # fmt: skip
    store.flush()
    assert store.recent_findings()[0].score is None


def test_bad_mode_and_answer_are_refused(store: AuditStore) -> None:
    with pytest.raises(ValueError, match="mode"):
        store.record_verdict(
            flow_id="f", method="GET", url="https://a.com/", destination="a.com",
            action="allow", rule="r", mode="dry-run",  # type: ignore[arg-type]
        )  # fmt: skip
    with pytest.raises(ValueError, match="answer"):
        store.record_decision(destination="a.com", answer="maybe")  # type: ignore[arg-type]


def test_decisions_round_trip(store: AuditStore) -> None:
    phone = finding("CN_PHONE", "13812345678")
    store.record_decision(
        destination="forms.example.org", site="example.org", answer="always_allow",
        findings=[phone, finding("CN_PHONE", "+86 138 1234 5678")], flow_id="f9",
        rule="ask:phone", ts=DAY0,
    )  # fmt: skip
    store.record_decision(destination="x.com", answer="block", ts=DAY0 + 1)
    store.flush()
    latest, earlier = store.recent_decisions()
    assert (latest.answer, latest.destination, latest.entity_types) == ("block", "x.com", ())
    assert earlier.answer == "always_allow"
    assert earlier.entity_types == ("CN_PHONE",)
    # the same number in two formats is one fingerprint
    assert earlier.fingerprints == (store.fingerprint("CN_PHONE", "13812345678"),)
    assert [d.id for d in store.iter_decisions()] == [earlier.id, latest.id]


def test_closed_store_refuses_writes_and_queries(tmp_path: Path) -> None:
    s = AuditStore(tmp_path / "a.db", secret=SECRET)
    s.close()
    s.close()  # idempotent
    with pytest.raises(AuditStoreError, match="closed"):
        s.record_decision(destination="a.com", answer="block")
    with pytest.raises(AuditStoreError, match="closed"):
        s.recent_findings()


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def filled(store: AuditStore) -> AuditStore:
    """A small known history over three days (UTC)."""
    rid, card = "11010519491231002X", "6222020200001234567"
    plan = [
        # (ts, site, destination, third_party, action, entity, value)
        (DAY0 + 3600, "shop.cn", "shop.cn", False, "allow", "CN_PHONE", "13812345678"),
        (DAY0 + 7200, "shop.cn", "tracker.net", True, "block", "CN_PHONE", "13812345678"),
        (DAY0 + 7300, "shop.cn", "tracker.net", True, "block", "CN_RESIDENT_ID", rid),
        (DAY0 + DAY + 60, "news.cn", "ads.com", True, "redact", "CN_PHONE", "13912345678"),
        (DAY0 + DAY + 120, "news.cn", "tracker.net", True, "block", "CN_BANK_CARD", card),
        (DAY0 + 2 * DAY + 5, "shop.cn", "ads.com", True, "block", "CN_PHONE", "138 1234 5678"),
        (DAY0 + 2 * DAY + 6, None, "api.bank.cn", False, "allow", "CN_BANK_CARD", card),
    ]  # fmt: skip
    for i, (ts, site, dest, third, action, entity, value) in enumerate(plan):
        store.record_verdict(
            flow_id=f"f{i}", method="POST", url=f"https://{dest}/c", site=site, destination=dest,
            third_party=third, action=action, rule=f"rule-{action}",
            findings=[finding(entity, value)], ts=ts, mode="enforce" if i % 2 == 0 else "simulate",
            issues=["invalid_json"] if i == 3 else (),
        )  # fmt: skip
    store.flush()
    return store


@pytest.mark.parametrize(
    "filters, expected_flows",
    [
        ({}, ["f6", "f5", "f4", "f3", "f2", "f1", "f0"]),
        ({"site": "shop.cn"}, ["f5", "f2", "f1", "f0"]),
        ({"destination": "tracker.net"}, ["f4", "f2", "f1"]),
        ({"destination": ["ads.com", "api.bank.cn"]}, ["f6", "f5", "f3"]),
        ({"entity": "CN_PHONE"}, ["f5", "f3", "f1", "f0"]),
        ({"action": "block"}, ["f5", "f4", "f2", "f1"]),
        ({"action": "block", "entity": "CN_PHONE"}, ["f5", "f1"]),
        ({"since": DAY0 + DAY}, ["f6", "f5", "f4", "f3"]),
        ({"since": DAY0 + DAY, "until": DAY0 + 2 * DAY}, ["f4", "f3"]),
        ({"mode": "simulate"}, ["f5", "f3", "f1"]),
        ({"site": "nowhere"}, []),
    ],
)
def test_recent_findings_filters(
    filled: AuditStore, filters: dict[str, object], expected_flows: list[str]
) -> None:
    rows = filled.recent_findings(100, **filters)  # type: ignore[arg-type]
    assert [r.flow_id for r in rows] == expected_flows


def test_recent_findings_paging(filled: AuditStore) -> None:
    pages = [filled.recent_findings(3, offset) for offset in (0, 3, 6, 9)]
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    ids = [r.id for page in pages for r in page]
    assert ids == [r.id for r in filled.recent_findings(100)]
    assert len(set(ids)) == 7


def test_counts_by_destination_entity(filled: AuditStore) -> None:
    counts = {(c.destination, c.entity_type): c for c in filled.counts_by_destination_entity()}
    assert set(counts) == {
        ("shop.cn", "CN_PHONE"), ("tracker.net", "CN_PHONE"), ("tracker.net", "CN_RESIDENT_ID"),
        ("ads.com", "CN_PHONE"), ("tracker.net", "CN_BANK_CARD"), ("api.bank.cn", "CN_BANK_CARD"),
    }  # fmt: skip
    ads = counts[("ads.com", "CN_PHONE")]
    assert ads.findings == 2
    assert ads.by_action == (("block", 1), ("redact", 1))
    assert ads.third_party is True
    assert counts[("shop.cn", "CN_PHONE")].third_party is False
    assert ads.last_ts == DAY0 + 2 * DAY + 5
    # ordered by count, most first
    assert filled.counts_by_destination_entity()[0].findings == 2
    assert len(filled.counts_by_destination_entity(since=DAY0 + 2 * DAY)) == 2


def test_counts_over_time_by_day_and_hour(filled: AuditStore) -> None:
    by_day = filled.counts_over_time("day", key=None, tz_offset=0)
    assert by_day == [
        BucketCount(DAY0, None, 3),
        BucketCount(DAY0 + DAY, None, 2),
        BucketCount(DAY0 + 2 * DAY, None, 2),
    ]
    by_entity = filled.counts_over_time("day", key="entity", tz_offset=0)
    assert BucketCount(DAY0, "CN_PHONE", 2) in by_entity
    assert BucketCount(DAY0, "CN_RESIDENT_ID", 1) in by_entity
    by_hour = filled.counts_over_time("hour", key="destination", tz_offset=0, until=DAY0 + DAY)
    assert by_hour == [
        BucketCount(DAY0 + 3600, "shop.cn", 1),
        BucketCount(DAY0 + 7200, "tracker.net", 2),
    ]
    only_ads = filled.counts_over_time("day", key="entity", tz_offset=0, destination="ads.com")
    assert only_ads == [
        BucketCount(DAY0 + DAY, "CN_PHONE", 1),
        BucketCount(DAY0 + 2 * DAY, "CN_PHONE", 1),
    ]
    blocked_ids = filled.counts_over_time(
        "day", key="site", tz_offset=0, entity="CN_RESIDENT_ID", action="block"
    )
    assert blocked_ids == [BucketCount(DAY0, "shop.cn", 1)]


def test_counts_over_time_respects_time_zone(store: AuditStore) -> None:
    # 20:00 UTC is 04:00 the next day in UTC+8.
    store.record_verdict(
        flow_id="f", method="GET", url="https://a.com/", destination="a.com", action="allow",
        rule="r", findings=[finding("CN_PHONE", "13812345678")], ts=DAY0 + 20 * 3600,
    )  # fmt: skip
    store.flush()
    [utc] = store.counts_over_time("day", key=None, tz_offset=0)
    [cst] = store.counts_over_time("day", key=None, tz_offset=8 * 3600)
    assert utc.start == DAY0
    assert cst.start == DAY0 + DAY - 8 * 3600


def test_top_sites(filled: AuditStore) -> None:
    shop, news = filled.top_sites()
    assert (shop.site, shop.findings, shop.verdicts) == ("shop.cn", 3, 3)
    assert [(d.destination, d.findings, d.entity_types) for d in shop.destinations] == [
        ("tracker.net", 2, ("CN_PHONE", "CN_RESIDENT_ID")),
        ("ads.com", 1, ("CN_PHONE",)),
    ]
    assert news.site == "news.cn"
    # first-party traffic (shop.cn -> shop.cn) and unknown sites are not leaks
    assert all(d.destination != "shop.cn" for d in shop.destinations)
    assert [s.site for s in filled.top_sites(1)] == ["shop.cn"]
    assert filled.top_sites(since=DAY0 + 3 * DAY) == []


def test_repeated_values(filled: AuditStore) -> None:
    repeated = {r.entity_type: r for r in filled.repeated_values()}
    phone = repeated["CN_PHONE"]
    # "13812345678" three times, one of them written as "138 1234 5678"
    assert (phone.findings, phone.destinations, phone.sites) == (3, 3, 1)
    assert phone.fingerprint == filled.fingerprint("CN_PHONE", "13812345678")
    assert "*" in phone.masked
    card = repeated["CN_BANK_CARD"]
    assert (card.findings, card.destinations, card.sites) == (2, 2, 1)  # one site unknown
    assert "CN_RESIDENT_ID" not in repeated


def test_totals_rules_and_issues(filled: AuditStore) -> None:
    totals = filled.totals()
    assert (totals.verdicts, totals.findings, totals.incomplete) == (7, 7, 1)
    assert totals.by_action == (("block", 4), ("allow", 2), ("redact", 1))
    assert totals.by_mode == (("enforce", 4), ("simulate", 3))
    assert (totals.first_ts, totals.last_ts) == (DAY0 + 3600, DAY0 + 2 * DAY + 6)
    rules = {(r.rule, r.action, r.mode): r.verdicts for r in filled.rule_counts()}
    assert rules[("rule-block", "block", "simulate")] == 2
    assert sum(rules.values()) == 7
    assert filled.issue_counts() == [("invalid_json", 1)]
    assert filled.totals(since=DAY0 + 10 * DAY).verdicts == 0


# --- concurrency and crashes -----------------------------------------------------------------


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    threads_n, per_thread = 8, 250
    errors: list[BaseException] = []
    with AuditStore(tmp_path / "c.db", secret=SECRET) as store:
        barrier = threading.Barrier(threads_n + 1)

        def writer(t: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                store.record_verdict(
                    flow_id=f"t{t}-{i}", method="POST", url=f"https://s{t}.cn/p", site=f"s{t}.cn",
                    destination="dest.com", third_party=True, action="block", rule="r",
                    findings=[
                        finding("CN_PHONE", f"138{t:04d}{i:04d}", f"form.t{t}i{i}a"),
                        finding("CN_PHONE", f"139{t:04d}{i:04d}", f"form.t{t}i{i}b"),
                    ],
                )  # fmt: skip

        def reader() -> None:
            barrier.wait()
            try:
                for _ in range(50):
                    store.recent_findings(20)
                    store.counts_by_destination_entity()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
        workers.append(threading.Thread(target=reader))
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert store.flush()
        assert errors == []
        totals = store.totals()
        expected = threads_n * per_thread
        assert (totals.verdicts, totals.findings) == (expected, 2 * expected)
        assert (store.written, store.dropped, store.lost) == (expected, 0, 0)
    # every finding sits under the verdict it was recorded with
    mismatched = raw_rows(
        tmp_path / "c.db",
        "SELECT count(*) FROM findings f JOIN verdicts v ON v.id = f.verdict_id "
        "WHERE replace(replace(f.location, 'form.', ''), 'i', '-') NOT LIKE "
        "v.flow_id || '_'",
    )
    assert mismatched == [(0,)]


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from addon.audit import AuditStore
from detectors.model import Finding
store = AuditStore({db!r}, secret=bytes(range(32)), batch_size=50)
def write(i):
    store.record_verdict(
        flow_id=f"f{{i}}", method="POST", url="https://a.cn/p", destination="b.com",
        action="block", rule="r",
        findings=[Finding("CN_PHONE", 0.9, "form.a", "138****5678", "13812345678"),
                  Finding("CN_PHONE", 0.9, "form.b", "139****5678", "13912345678")],
    )
for i in range(500):
    write(i)
store.flush()
print("committed 500", flush=True)
i = 500
while True:  # keep writing until killed
    write(i)
    i += 1
    if i % 100 == 0:
        time.sleep(0.001)
"""


def _phone_verdict(store: AuditStore, i: int) -> None:
    store.record_verdict(
        flow_id=f"f{i}",
        method="POST",
        url="https://t.example/c",
        destination="t.example",
        action="block",
        rule="r",
        findings=[finding("CN_PHONE", "13812345678", "form.tel", 1.0)],
    )


def test_records_gather_for_the_commit_interval_and_flush_ends_the_wait(tmp_path: Path) -> None:
    """The writer gathers records for commit_interval and commits them together."""
    with AuditStore(tmp_path / "a.db", secret=SECRET, commit_interval=3600) as store:
        for i in range(50):
            _phone_verdict(store, i)
        # Nothing is committed while the writer waits for more (an hour, here) ...
        assert store.written == 0
        # ... and flush() ends the wait at once instead of waiting out the interval.
        assert store.flush(timeout=30)
        assert store.written == 50
        assert store.totals().verdicts == 50


def test_findings_name_their_own_verdict_across_batches_and_other_writers(
    tmp_path: Path,
) -> None:
    """A batch is one statement whose trigger numbers the verdicts after the largest id in the
    file and links each finding through its verdict's place in the batch. That must hold when
    another process (a second proxy, the CLI) wrote verdicts in between, and when a record of
    the batch could not be built and was left out."""
    db = tmp_path / "ids.db"
    phones = {f"f{i}": [f"1381234{i:04d}", f"1391234{i:04d}"][: 1 + i % 2] for i in range(9)}

    def record(store: AuditStore, flow: str) -> None:
        store.record_verdict(
            flow_id=flow, method="POST", url="https://t.example/c", destination="t.example",
            action="block", rule="r",
            findings=[finding("CN_PHONE", v, f"form.p{k}") for k, v in enumerate(phones[flow])],
        )  # fmt: skip

    broken = finding("CN_PHONE", "13700000000", "form.tel")
    broken.value = None  # type: ignore[assignment]  # cannot be fingerprinted
    with AuditStore(db, secret=SECRET, commit_interval=3600) as store:
        for flow in ("f0", "f1", "f2"):
            record(store, flow)
        assert store.flush()
        other = sqlite3.connect(db, isolation_level=None)
        try:  # another writer takes the next ids, one of them far ahead
            for vid in (4, 40):
                other.execute(
                    "INSERT INTO verdicts (id, ts, flow_id, method, url, destination, "
                    "third_party, action, rule, mode, incomplete) "
                    "VALUES (?, 0, 'other', 'GET', 'https://o.example/', 'o.example', 1, "
                    "'allow', 'r', 'enforce', 0)",
                    (vid,),
                )
        finally:
            other.close()
        record(store, "f3")
        store.record_verdict(
            flow_id="bad", method="POST", url="https://t.example/c", destination="t.example",
            action="block", rule="r", findings=[broken],
        )  # fmt: skip
        for flow in ("f4", "f5"):
            record(store, flow)
        assert store.flush()
        assert (store.written, store.lost) == (6, 1)
        for flow in ("f6", "f7", "f8"):
            record(store, flow)
        assert store.flush()

    rows = raw_rows(db, "SELECT flow_id, id FROM verdicts WHERE flow_id != 'other'")
    ids = {row[0]: row[1] for row in rows}
    assert ids == {"f0": 1, "f1": 2, "f2": 3, "f3": 41, "f4": 42, "f5": 43, "f6": 44, "f7": 45,
                   "f8": 46}  # fmt: skip
    linked = raw_rows(
        db,
        "SELECT v.flow_id, f.masked, f.location FROM findings f "
        "JOIN verdicts v ON v.id = f.verdict_id ORDER BY f.id",
    )
    assert linked == [
        (flow, mask("CN_PHONE", value), f"form.p{k}")
        for flow, values in phones.items()
        for k, value in enumerate(values)
    ]


def test_close_commits_what_waits_for_the_interval(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "a.db", secret=SECRET, commit_interval=3600)
    for i in range(10):
        _phone_verdict(store, i)
    store.close()
    assert raw_rows(tmp_path / "a.db", "SELECT count(*) FROM verdicts") == [(10,)]


def test_survives_kill_9_of_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), db=str(db))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "committed 500"
        time.sleep(0.3)  # let it commit more batches and be mid-write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
    with AuditStore(db, secret=SECRET) as store:
        totals = store.totals()
        # everything flushed before the kill is there, and transactions are whole
        assert totals.verdicts >= 500
        assert totals.findings == 2 * totals.verdicts
        assert store.findings_for_flow("f499")[0].masked == "138****5678"
        # and the store keeps working
        store.record_decision(destination="b.com", answer="block")
        store.flush()
        assert len(store.recent_decisions()) == 1


def test_full_queue_drops_with_a_count_and_a_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "q.db"
    with AuditStore(db, secret=SECRET, queue_size=1) as store:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer now waits on busy_timeout
        try:
            kw = {"method": "GET", "url": "https://a.com/", "destination": "a.com",
                  "action": "allow", "rule": "r"}  # fmt: skip
            store.record_verdict(flow_id="taken", **kw)  # type: ignore[arg-type]
            deadline = time.monotonic() + 5
            while store._queue.qsize() and time.monotonic() < deadline:
                time.sleep(0.01)  # until the writer has taken it...
            time.sleep(0.2)  # ...and is blocked on the lock, not still draining the queue
            store.record_verdict(flow_id="queued", **kw)  # type: ignore[arg-type]
            with caplog.at_level(logging.ERROR, logger="addon.audit"):
                store.record_verdict(flow_id="dropped", **kw)  # type: ignore[arg-type]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert store.flush()
        assert store.dropped == 1
        assert "1 records dropped" in caplog.text
        flows = [r[0] for r in raw_rows(db, "SELECT flow_id FROM verdicts ORDER BY id")]
        assert flows == ["taken", "queued"]


def test_failed_write_is_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "fail.db"
    with AuditStore(db, secret=SECRET) as store:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON verdicts "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        kw = {"method": "GET", "url": "https://a.com/", "destination": "a.com",
              "action": "allow", "rule": "r"}  # fmt: skip
        with caplog.at_level(logging.ERROR, logger="addon.audit"):
            store.record_verdict(flow_id="lost", **kw)  # type: ignore[arg-type]
            assert store.flush()
        assert store.lost == 1
        assert "1 records could not be written: refused" in caplog.text
        other.execute("DROP TRIGGER refuse")
        other.close()
        store.record_verdict(flow_id="kept", **kw)  # type: ignore[arg-type]
        store.flush()
        assert store.totals().verdicts == 1


# --- retention -------------------------------------------------------------------------------


def _old_and_new(store: AuditStore, now: float) -> None:
    for flow, age_days in (("old", 40), ("recent", 1)):
        store.record_verdict(
            flow_id=flow, method="POST", url="https://a.com/", destination="a.com",
            action="block", rule="r", findings=[finding("CN_PHONE", "13812345678")],
            ts=now - age_days * DAY,
        )  # fmt: skip
        store.record_decision(
            destination="a.com", answer="block", flow_id=flow, ts=now - age_days * DAY
        )
    store.flush()


def test_prune_deletes_older_than_retention(tmp_path: Path) -> None:
    now = time.time()
    with AuditStore(tmp_path / "r.db", secret=SECRET, retention_days=30) as store:
        _old_and_new(store, now)
        assert store.totals().verdicts == 2
        assert store.prune() == 3  # the old verdict, its finding and the old decision
        assert [r.flow_id for r in store.recent_findings()] == ["recent"]
        assert [d.flow_id for d in store.recent_decisions()] == ["recent"]
        assert store.prune() == 0


def test_prune_runs_at_open(tmp_path: Path) -> None:
    now = time.time()
    with AuditStore(tmp_path / "r.db", secret=SECRET) as store:  # no retention: keeps all
        _old_and_new(store, now)
        assert store.prune() == 0
    with AuditStore(tmp_path / "r.db", secret=SECRET, retention_days=7) as store:
        assert [r.flow_id for r in store.recent_findings()] == ["recent"]
    assert raw_rows(tmp_path / "r.db", "SELECT count(*) FROM findings") == [(1,)]


def test_prune_runs_every_n_writes(tmp_path: Path) -> None:
    now = time.time()
    with AuditStore(tmp_path / "r.db", secret=SECRET, retention_days=30, prune_every=6) as store:
        _old_and_new(store, now)  # 4 writes: not yet due
        assert store.totals().verdicts == 2
        for i in range(2):
            store.record_decision(destination="a.com", answer="send_once", flow_id=f"n{i}")
        store.flush()  # the 6th write triggers pruning
        assert store.totals().verdicts == 1


def test_prune_runs_after_interval(tmp_path: Path) -> None:
    now = time.time()
    with AuditStore(
        tmp_path / "r.db", secret=SECRET, retention_days=30, prune_interval=0.0
    ) as store:
        _old_and_new(store, now)
        assert store.totals().verdicts == 1


@pytest.mark.parametrize("days", [0, -1])
def test_bad_retention_is_refused(tmp_path: Path, days: float) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        AuditStore(tmp_path / "x.db", secret=SECRET, retention_days=days)


# --- schema, files, modes --------------------------------------------------------------------


def test_schema_version_and_migration_log(store: AuditStore) -> None:
    assert store.path is not None
    assert raw_rows(store.path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert [r[0] for r in raw_rows(store.path, "SELECT version FROM schema_migrations")] == [1, 2]
    assert raw_rows(store.path, "PRAGMA journal_mode") == [("wal",)]


def test_migration_hook_applies_later_steps(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    AuditStore(db, secret=SECRET).close()

    def add_note(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE verdicts ADD COLUMN note TEXT")

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        later = SCHEMA_VERSION + 1
        assert migrate(conn, later, {**MIGRATIONS, SCHEMA_VERSION: add_note}) == SCHEMA_VERSION
        assert migrate(conn, later, {**MIGRATIONS, SCHEMA_VERSION: add_note}) == later  # done
        assert conn.execute("PRAGMA user_version").fetchone() == (later,)
        assert "note" in [c[1] for c in conn.execute("PRAGMA table_info(verdicts)")]
        with pytest.raises(AuditStoreError, match="no migration"):
            migrate(conn, later + 1, MIGRATIONS)
        assert conn.execute("PRAGMA user_version").fetchone() == (later,)
    finally:
        conn.close()
    # this formshield refuses the newer database instead of writing to it
    with pytest.raises(AuditStoreError, match="newer"):
        AuditStore(db, secret=SECRET)


def test_version_1_store_gains_timeout_answers_and_keeps_its_decisions(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrate(conn, 1) == 0
        conn.execute(
            "INSERT INTO decisions(ts, flow_id, site, destination, answer, rule) "
            "VALUES (1.5, 'f1', 'shop.test', 'tracker.example', 'block', 'r1')"
        )
        with pytest.raises(sqlite3.IntegrityError):  # what version 1 refused
            conn.execute(
                "INSERT INTO decisions(ts, destination, answer) VALUES (2, 'a', 'timeout')"
            )
    finally:
        conn.close()
    with AuditStore(db, secret=SECRET) as store:
        store.record_decision(destination="tracker.example", answer="timeout", flow_id="f2")
        assert store.flush()
        rows = store.recent_decisions()
    assert sorted((d.flow_id, d.answer) for d in rows) == [("f1", "block"), ("f2", "timeout")]
    assert raw_rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw_rows(db, "SELECT name FROM sqlite_master WHERE tbl_name = 'decisions'") == [
        ("decisions",),
        ("decisions_ts",),
    ]


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("step failed")

    conn = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    try:
        with pytest.raises(RuntimeError):
            migrate(conn, 1, {0: broken})
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name='half'").fetchall() == []
    finally:
        conn.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditStoreError, match="cannot open audit database"):
        AuditStore(bad, secret=SECRET)


def test_read_only_store(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    with pytest.raises(AuditStoreError, match="no audit database"):
        AuditStore(db, read_only=True)
    with AuditStore(db, secret=SECRET) as rw:
        rw.record_decision(destination="a.com", answer="block")
    with AuditStore(db, read_only=True) as ro:
        assert len(ro.recent_decisions()) == 1
        with pytest.raises(AuditStoreError, match="read-only"):
            ro.record_decision(destination="a.com", answer="block")
        with pytest.raises(AuditStoreError):
            ro.fingerprint("CN_PHONE", "13812345678")
        assert ro.flush()
        assert ro.prune() == 0
    # no secret was needed or created for reading
    assert not (tmp_path / "data" / "secret.key").exists()


def test_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with AuditStore(tmp_path / "new" / "p.db", secret=SECRET) as store:
            store.record_decision(destination="a.com", answer="block")
            store.flush()
            for name in ("p.db", "p.db-wal", "p.db-shm"):
                assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600, name
            assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_repr_shows_no_secret(store: AuditStore) -> None:
    assert "AuditStore(" in repr(store)
    assert SECRET.hex() not in repr(store)


# --- never raw personal data -----------------------------------------------------------------


def _generated_values(n: int = 40) -> list[tuple[str, str]]:
    fake = Faker("zh_CN")
    fake.seed_instance(20241128)
    values: list[tuple[str, str]] = []
    for _ in range(n):
        values.append(("CN_RESIDENT_ID", fake.ssn()))
        values.append(("CREDIT_CARD", fake.credit_card_number()))
        phone = fake.phone_number()
        while phone.startswith("149"):  # data-card numbers: not personal phones (cn-pii.md)
            phone = fake.phone_number()
        values.append(("CN_PHONE", phone))
        card = "62" + fake.numerify("################")
        values.append(("CN_BANK_CARD", card + luhn.calc_check_digit(card)))
    return values


def _forbidden(values: list[tuple[str, str]]) -> set[str]:
    """Each raw value, and every 8-digit window of its digits."""
    out: set[str] = set()
    for _, value in values:
        out.add(value)
        digits = "".join(ch for ch in value if ch.isdigit())
        out.update(digits[i : i + 8] for i in range(len(digits) - 7))
    return out


def test_store_never_contains_raw_values(tmp_path: Path) -> None:
    db = tmp_path / "pii.db"
    values = _generated_values()
    with AuditStore(db, secret=SECRET) as store:
        for i, (entity, value) in enumerate(values):
            spaced = " ".join(value[j : j + 4] for j in range(0, len(value), 4))
            findings = [
                # the value as the field's key (JSON objects keyed by phone numbers exist)
                finding(entity, value, f"json.users.{value}.id"),
                finding(entity, spaced, "form.spaced"),
                # a caller bug: a "mask" that is the value itself must not reach the disk
                Finding(entity, 0.9, "form.badmask", value, value),
            ]
            store.record_verdict(
                flow_id=f"f{i}", method="POST",
                url=f"https://u:{value}@site{i % 5}.cn/users/{value}/edit?id={value}#{value}",
                site=f"site{i % 5}.cn", destination="tracker.net", third_party=True,
                action="block", rule="r", findings=findings,
                issues=[ScanIssue("truncated_body", f"form.{value}", "cut")],
            )  # fmt: skip
            store.record_decision(
                destination="tracker.net", answer="send_once", findings=findings[:1]
            )
        store.flush()
        forbidden = _forbidden(values)
        _assert_no_raw(db, forbidden)
    # after close (checkpointed), too
    _assert_no_raw(db, forbidden)
    _assert_detectors_find_nothing(db, values)


def _assert_no_raw(db: Path, forbidden: set[str]) -> None:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"verdicts", "findings", "decisions"} <= set(tables)
        cells = 0
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, str):
                        cells += 1
                        hits = [f for f in forbidden if f in cell]
                        # report the table only: the hit itself is personal data
                        assert not hits, f"raw value in table {table}"
        assert cells > 1000
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(db) + suffix)
        if path.exists():
            blob = path.read_bytes().decode("latin-1")
            assert not [f for f in forbidden if f in blob], f"raw value in {path.name}"


def _assert_detectors_find_nothing(db: Path, values: list[tuple[str, str]]) -> None:
    """formshield's own recognizers find every raw value, and nothing in the stored text."""
    engine = build_analyzer_engine()
    threshold = 0.5  # the scanner's reporting threshold
    missed = [
        entity
        for entity, value in values
        if not [r for r in engine.analyze(text=value, language="zh") if r.score >= threshold]
    ]
    assert missed == []  # so that finding nothing below means something
    conn = sqlite3.connect(db)
    try:
        hits: list[tuple[str, str]] = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, str):
                        results = engine.analyze(text=cell, language="zh")
                        hits += [(table, r.entity_type) for r in results if r.score >= threshold]
    finally:
        conn.close()
    assert hits == []


@given(st.lists(st.text(), max_size=6))
def test_json_strings_is_json_dumps(items: list[str]) -> None:
    assert _json_strings(items) == json.dumps(items, ensure_ascii=False)


def test_a_record_that_cannot_be_built_is_counted_and_the_batch_kept(
    store: AuditStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows are built on the writer thread; one bad record must not lose its batch."""
    broken = finding("CN_PHONE", "13812345678", "form.tel")
    broken.value = None  # type: ignore[assignment]  # a caller bug: no value to fingerprint
    _phone_verdict(store, 1)
    store.record_verdict(
        flow_id="bad", method="POST", url="https://t.example/c", destination="t.example",
        action="block", rule="r", findings=[broken],
    )  # fmt: skip
    _phone_verdict(store, 2)
    assert store.flush()
    assert (store.written, store.lost) == (2, 1)
    assert store.totals().verdicts == 2
    assert "a verdict could not be recorded: TypeError" in caplog.text
    assert "13812345678" not in caplog.text
