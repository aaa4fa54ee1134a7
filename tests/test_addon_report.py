"""Tests for addon.report: the self-contained HTML audit report, parsed with html.parser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from addon.audit import AuditStore, FindingOutcome
from addon.report import bar_chart_svg, nice_ticks, render_report
from addon.secrets import ENV_DATA_DIR
from detectors.masking import mask
from detectors.model import Finding

SECRET = bytes(range(32))
DAY = 86400
DAY0 = 1_699_920_000.0  # 2023-11-14 00:00 UTC
NOW = DAY0 + 3 * DAY
EVIL = '<script>alert("x")</script>'

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source",
        "track", "wbr"}  # fmt: skip


class Page(HTMLParser):
    """Collects what the tests look at, and checks that every element is closed in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section = "head"
        self.text: dict[str, list[str]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.titles: list[str] = []  # SVG <title> texts
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_title = False
        self.doctype = ""
        self.feed(html)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "h2":
            self.section = dict(attrs).get("id") or "?"
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "title" and "svg" in self.stack:
            self._in_title = True
            self.titles.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))  # <line .../>: complete in itself

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> while open: {self.stack[-3:]}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.setdefault(self.section, []).append(self._row)
            self._row = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self.section, []).append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.titles[-1] += data

    def section_text(self, name: str) -> str:
        return " ".join(self.text.get(name, []))

    def body_rows(self, name: str) -> list[list[str]]:
        return self.rows.get(name, [])[1:]  # without the header row

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)


def finding(entity: str, value: str, location: str = "form.x") -> Finding:
    return Finding(entity, 0.9, location, mask(entity, value), value)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    with AuditStore(tmp_path / "audit.sqlite3", secret=SECRET) as s:
        yield s


RAW = {
    "id": "11010519491231002X",
    "phone": "13812345678",
    "card": "6222020200001234567",
    "phone2": "13912345678",
}


@pytest.fixture
def filled(store: AuditStore) -> AuditStore:
    plan = [
        # (ts, site, destination, third, action, rule, mode, [(entity, value, location)], issues)
        (DAY0 + 3600, "shop.cn", "tracker.net", True, "block", "no-trackers", "enforce",
         [("CN_RESIDENT_ID", RAW["id"], "form.sfz"), ("CN_PHONE", RAW["phone"], "form.tel")], []),
        (DAY0 + 7200, "shop.cn", "shop.cn", False, "allow", "first-party", "enforce",
         [("CN_PHONE", RAW["phone"], "form.tel")], []),
        (DAY0 + DAY + 60, "news.cn", "ads.com", True, "redact", "redact-phones", "simulate",
         [("CN_PHONE", "138 1234 5678", "json.user.mobile")], ["invalid_json"]),
        (DAY0 + 2 * DAY, EVIL, f"{EVIL}.net", True, "block", f"rule {EVIL} & 'q'", "enforce",
         [("CN_BANK_CARD", RAW["card"], f"form.{EVIL}")], ["truncated_body"]),
    ]  # fmt: skip
    for i, (ts, site, dest, third, action, rule, mode, items, issues) in enumerate(plan):
        store.record_verdict(
            flow_id=f"f{i}", method="POST", url=f"https://{dest}/c/{RAW['phone2']}?q=1",
            site=site, destination=dest, third_party=third, action=action, rule=rule,
            mode=mode,  # type: ignore[arg-type]
            findings=[finding(e, v, loc) for e, v, loc in items], issues=issues, ts=ts,
        )  # fmt: skip
    store.record_verdict(
        flow_id="f-mixed", method="POST", url="https://ads.com/x", site="news.cn",
        destination="ads.com", third_party=True, action="block", rule="no-ids",
        findings=[FindingOutcome(finding("EMAIL_ADDRESS", "a.b@mail.cn"), "allow", "emails-ok")],
        ts=DAY0 + DAY + 120,
    )  # fmt: skip
    store.record_decision(
        destination="ads.com", site="news.cn", answer="always_allow",
        findings=[finding("CN_PHONE", RAW["phone"])], rule="ask-phones", ts=DAY0 + DAY + 200,
    )  # fmt: skip
    store.flush()
    return store


@pytest.fixture
def page(filled: AuditStore) -> Page:
    return Page(render_report(filled, now=NOW, tz_offset=0))


def test_valid_self_contained_html(page: Page) -> None:
    assert page.errors == []
    assert page.doctype.lower() == "doctype html"
    assert page.tags[0] == ("html", {"lang": "en"})
    assert ("meta", {"charset": "utf-8"}) in page.tags
    # offline: no scripts, no fetched resources
    assert page.count("script") == 0
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        assert "src" not in attrs
        assert "href" not in attrs
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert page.count("style") == 1
    assert page.count("svg") == 1


def test_sections_present(page: Page) -> None:
    ids = [a.get("id") for t, a in page.tags if t == "h2"]
    assert ids == [
        "totals", "destinations", "time", "sites", "repeated", "rules", "issues", "blocked",
        "decisions",
    ]  # fmt: skip


def test_totals(page: Page) -> None:
    text = page.section_text("totals")
    assert re.search(r"\b5\s*requests judged", text)
    assert re.search(r"\b6\s*findings", text)
    assert re.search(r"\b2\s*incomplete scans", text)
    assert re.search(r"\b3\s*verdict: block", text)
    assert re.search(r"\b1\s*mode: simulate", text)


def test_destination_entity_table(page: Page) -> None:
    header = page.rows["destinations"][0]
    assert header == [
        "destination", "CN_BANK_CARD", "CN_PHONE", "CN_RESIDENT_ID", "EMAIL_ADDRESS", "total",
        "actions",
    ]  # fmt: skip
    rows = {r[0]: r for r in page.body_rows("destinations")}
    assert rows["tracker.net third party"][1:6] == ["", "1", "1", "", "2"]
    assert rows["tracker.net third party"][6] == "block 2"
    assert rows["ads.com third party"][1:6] == ["", "1", "", "1", "2"]
    assert rows["ads.com third party"][6] == "allow 1, redact 1"
    assert rows["shop.cn"][5] == "1"  # first party: no badge
    assert f"{EVIL}.net third party" in rows  # escaped, shown as text


def test_chart_over_time(page: Page) -> None:
    # Three days of data: daily buckets; one segment per (day, entity), with a tooltip each.
    assert page.titles[0] == "Findings per day"
    assert sorted(page.titles[1:]) == [
        "2023-11-14: CN_PHONE 2",
        "2023-11-14: CN_RESIDENT_ID 1",
        "2023-11-15: CN_PHONE 1",
        "2023-11-15: EMAIL_ADDRESS 1",
        "2023-11-16: CN_BANK_CARD 1",
    ]
    assert page.count("rect") == 5
    text = page.section_text("time")
    for label in ("2023-11-14", "2023-11-15", "2023-11-16"):
        assert label in text
    # the legend names every entity; the y axis has round ticks up to the tallest bar (3)
    for entity in ("CN_PHONE", "CN_RESIDENT_ID", "EMAIL_ADDRESS", "CN_BANK_CARD"):
        assert entity in text
    assert re.search(r"\b0\s+1\s+2\s+3\b", text)


def test_top_sites(page: Page) -> None:
    rows = page.body_rows("sites")
    # most findings first, ties by name; first-party traffic (shop.cn -> shop.cn) is not counted
    assert [r[0] for r in rows] == ["news.cn", "shop.cn", EVIL]
    shop = rows[1]
    assert shop[1:3] == ["2", "1"]
    assert shop[3] == "tracker.net: 2 (CN_PHONE, CN_RESIDENT_ID)"
    news = next(r for r in rows if r[0] == "news.cn")
    assert news[3] == "ads.com: 2 (CN_PHONE, EMAIL_ADDRESS)"


def test_repeated_values(page: Page) -> None:
    [row] = page.body_rows("repeated")
    # the phone was sent three times, once as "138 1234 5678"
    assert row[0] == "138****5678"
    assert row[1:5] == ["CN_PHONE", "3", "3", "2"]
    assert re.fullmatch(r"[0-9a-f]{12}", row[7])


def test_rules_and_issues(page: Page) -> None:
    rules = {(r[0], r[1], r[2]): r[3] for r in page.body_rows("rules")}
    assert rules[("redact-phones", "redact", "simulate")] == "1"
    assert rules[(f"rule {EVIL} & 'q'", "block", "enforce")] == "1"
    assert sorted(page.body_rows("issues")) == [["invalid_json", "1"], ["truncated_body", "1"]]
    assert "simulate" in page.section_text("rules")


def test_recent_blocked(page: Page) -> None:
    rows = page.body_rows("blocked")
    # newest first; the allowed e-mail inside a blocked verdict is not "blocked"
    assert [(r[4], r[5], r[6]) for r in rows] == [
        (f"form.{EVIL}", "CN_BANK_CARD", "6222***********4567"),
        ("form.tel", "CN_PHONE", "138****5678"),  # same time as the ID: later id first
        ("form.sfz", "CN_RESIDENT_ID", "110***********002X"),
    ]
    assert rows[1][0] == "2023-11-14 01:00"
    # a phone nobody reported as a finding is still masked by the store's digit-run backstop
    assert rows[1][3] == "https://tracker.net/c/139******78"


def test_decisions(page: Page) -> None:
    [row] = page.body_rows("decisions")
    assert row[1:] == ["news.cn", "ads.com", "CN_PHONE", "always_allow", "ask-phones"]


def test_hostile_text_is_escaped(filled: AuditStore) -> None:
    html = render_report(filled, now=NOW, tz_offset=0)
    assert EVIL not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert Page(html).count("script") == 0


def test_no_raw_values_in_report(filled: AuditStore) -> None:
    html = render_report(filled, now=NOW, tz_offset=0)
    for value in [*RAW.values(), "a.b@mail.cn"]:
        assert value not in html
        digits = re.sub(r"\D", "", value)
        for i in range(len(digits) - 7):
            assert digits[i : i + 8] not in html


def test_since_limits_every_section(filled: AuditStore) -> None:
    page = Page(render_report(filled, DAY0 + 2 * DAY, now=NOW, tz_offset=0))
    assert re.search(r"\b1\s*requests judged", page.section_text("totals"))
    assert [r[0] for r in page.body_rows("destinations")] == [f"{EVIL}.net third party"]
    assert "No value was seen twice." in page.section_text("repeated")
    assert "decisions" not in page.rows  # the only answer was earlier
    # two days or less of data: hourly buckets
    assert page.titles[0] == "Findings per hour"


def test_time_zone_shifts_labels_and_times(filled: AuditStore) -> None:
    page = Page(render_report(filled, now=NOW, tz_offset=8 * 3600))
    assert "UTC+08:00" in page.section_text("totals") + page.section_text("head")
    rows = page.body_rows("blocked")
    assert rows[1][0] == "2023-11-14 09:00"


def test_empty_store(store: AuditStore) -> None:
    page = Page(render_report(store, now=NOW, tz_offset=0))
    assert page.errors == []
    assert "No records in this period." in page.section_text("totals")
    assert page.count("svg") == 0


# --- chart helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "maximum, ticks",
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (4, [0, 1, 2, 3, 4]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 5, 10]),
        (37, [0, 10, 20, 30, 40]),
        (100, [0, 50, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_nice_ticks(maximum: int, ticks: list[int]) -> None:
    assert nice_ticks(maximum) == ticks


def test_bar_chart_heights_are_proportional() -> None:
    svg = bar_chart_svg(
        ["a", "b", "c"], {"X": [1, 0, 4], "Y": [1, 2, 0]}, {"X": "#111", "Y": "#222"},
        title="t", height=260,
    )  # fmt: skip
    page = Page(svg)
    assert page.errors == []
    rects = [a for t, a in page.tags if t == "rect"]
    assert len(rects) == 4  # zero-height segments are left out
    heights = [float(a["height"] or 0) for a in rects]
    plot_h = 260 - 12 - 70
    # ticks 0,1,2,3,4: the scale is plot_h / 4 per unit
    assert heights == pytest.approx([plot_h / 4, plot_h / 4, plot_h / 2, plot_h])
    # stacked: the second segment of bar "a" sits on top of the first
    first, second = rects[0], rects[1]
    assert float(second["y"] or 0) + float(second["height"] or 0) == pytest.approx(
        float(first["y"] or 0)
    )
    assert [a["fill"] for a in rects] == ["#111", "#222", "#222", "#111"]


def test_bar_chart_thins_out_labels() -> None:
    labels = [f"d{i}" for i in range(100)]
    svg = bar_chart_svg(labels, {"X": [1] * 100}, {"X": "#111"}, title="t")
    assert Page(svg).errors == []
    shown = re.findall(r"<text[^>]*>(d\d+)</text>", svg)
    assert 8 <= len(shown) <= 17
    assert shown[0] == "d0"
