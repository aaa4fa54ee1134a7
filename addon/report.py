"""The audit report: one self-contained HTML page to review what left the browser and tune policies.

The page has no external assets (inline CSS, a hand-written inline SVG chart, no scripts), so
it opens offline and can be mailed or archived as one file. Sections: totals; findings per
destination domain and entity type; findings over time (stacked bars per entity, hourly for
periods up to 36 hours, daily otherwise); sites sending data to third parties and where it
went; values seen repeatedly (by fingerprint); the rules that decided; incomplete scans;
recent blocked items; recent answers to "ask" prompts. Every value shown comes from the audit
store, so it is masked; all text is HTML-escaped because URLs, field names and domains are
chosen by websites.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Literal

from addon.audit import AuditStore
from addon.audit_queries import BUCKET_SECONDS, local_utc_offset

HOURLY_UP_TO = 36 * 3600  # periods up to this long are charted per hour, longer ones per day
MAX_BARS = 120  # beyond this the chart shows the most recent buckets only
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
 margin:2em auto;max-width:72em;padding:0 1em;color:#1d1d1f;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666} .empty{color:#888;font-style:italic}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f7} td.n{text-align:right} .third{color:#b00020;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap} .card{border:1px solid #ddd;border-radius:6px;
 padding:.5em 1em;min-width:8em} .card b{display:block;font-size:1.5em}
.legend span{display:inline-block;margin-right:1.2em} .sw{display:inline-block;width:.9em;
 height:.9em;margin-right:.3em;vertical-align:-.1em}
code{font-size:.95em;word-break:break-all}
svg text{font-size:11px;fill:#333}
"""


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What every section needs: the store, the period, the time zone, the row cap."""

    store: AuditStore
    start: float | None
    end: float | None
    offset: int
    tz: timezone
    limit: int


def render_report(
    store: AuditStore,
    since: float | datetime | None = None,
    *,
    until: float | datetime | None = None,
    now: float | None = None,
    tz_offset: int | None = None,
    blocked_actions: Sequence[str] = ("block",),
    limit: int = 50,
) -> str:
    """Return the report of ``store`` for ``since``..``until`` (default: everything) as HTML.

    Times are shown and bucketed in the UTC offset ``tz_offset`` (seconds; default this
    machine's). ``blocked_actions`` are the finding actions listed as "blocked";
    ``limit`` caps the rows of each list.
    """
    generated = time.time() if now is None else now
    offset = local_utc_offset(generated) if tz_offset is None else tz_offset
    tz = timezone(timedelta(seconds=offset))
    start = _ts(since)
    end = _ts(until)
    ctx = _Ctx(store, start, end, offset, tz, limit)
    totals = store.totals(start, end)
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>formshield audit report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>formshield audit report</h1>",
        _meta(ctx, totals.first_ts, totals.last_ts, generated),
        _totals(totals.verdicts, totals.findings, totals.incomplete, totals.by_action,
                totals.by_mode),
    ]  # fmt: skip
    if totals.verdicts == 0:
        parts.append('<p class="empty">No records in this period.</p>')
    else:
        parts += [
            _destinations(ctx),
            _over_time(ctx, totals.first_ts, totals.last_ts),
            _top_sites(ctx),
            _repeated(ctx),
            _rules(ctx),
            _issues(ctx),
            _blocked(ctx, blocked_actions),
        ]
    parts += [_decisions(ctx), "</body></html>", ""]
    return "\n".join(parts)


# --- sections --------------------------------------------------------------------------------


def _meta(ctx: _Ctx, first: float | None, last: float | None, generated: float) -> str:
    tz = ctx.tz
    shown_from = ctx.start if ctx.start is not None else first
    shown_to = ctx.end if ctx.end is not None else last
    period = (
        f"{_time(shown_from, tz)} – {_time(shown_to, tz)}"
        if shown_from is not None and shown_to is not None
        else "no records"
    )
    return (
        f'<p class="meta">Period: {_e(period)} (UTC{_e(_offset_label(tz))}). '
        f"Generated {_e(_time(generated, tz))}. Values are masked; fingerprints are keyed "
        "hashes that identify repeats without revealing values.</p>"
    )


def _totals(
    verdicts: int,
    findings: int,
    incomplete: int,
    by_action: Sequence[tuple[str, int]],
    by_mode: Sequence[tuple[str, int]],
) -> str:
    cards = [("requests judged", verdicts), ("findings", findings)]
    cards += [(f"verdict: {action}", n) for action, n in by_action]
    cards += [(f"mode: {mode}", n) for mode, n in by_mode]
    cards.append(("incomplete scans", incomplete))
    body = "".join(f'<div class="card"><b>{n}</b>{_e(label)}</div>' for label, n in cards)
    return f'<h2 id="totals">Totals</h2><div class="cards">{body}</div>'


def _destinations(ctx: _Ctx) -> str:
    counts = ctx.store.counts_by_destination_entity(ctx.start, ctx.end)
    entities = sorted({c.entity_type for c in counts})
    table: dict[str, dict[str, int]] = {}
    third: dict[str, bool] = {}
    actions: dict[str, dict[str, int]] = {}
    for c in counts:
        table.setdefault(c.destination, {})[c.entity_type] = c.findings
        third[c.destination] = third.get(c.destination, False) or c.third_party
        acts = actions.setdefault(c.destination, {})
        for action, n in c.by_action:
            acts[action] = acts.get(action, 0) + n
    order = sorted(table, key=lambda d: (-sum(table[d].values()), d))[: ctx.limit]
    head = "".join(f"<th>{_e(e)}</th>" for e in entities)
    rows = []
    for dest in order:
        cells = "".join(f'<td class="n">{table[dest].get(e, "")}</td>' for e in entities)
        badge = ' <span class="third">third party</span>' if third[dest] else ""
        summary = ", ".join(f"{_e(a)} {n}" for a, n in sorted(actions[dest].items()))
        rows.append(
            f"<tr><td>{_e(dest)}{badge}</td>{cells}"
            f'<td class="n">{sum(table[dest].values())}</td><td>{summary}</td></tr>'
        )
    return (
        '<h2 id="destinations">Where personal data went</h2>'
        "<p>Findings per destination domain and entity type.</p>"
        f"<table><thead><tr><th>destination</th>{head}<th>total</th><th>actions</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _over_time(ctx: _Ctx, first: float | None, last: float | None) -> str:
    lo = ctx.start if ctx.start is not None else first
    hi = ctx.end if ctx.end is not None else last
    if lo is None or hi is None:
        return ""
    bucket: Literal["hour", "day"] = "hour" if hi - lo <= HOURLY_UP_TO else "day"
    size = BUCKET_SECONDS[bucket]
    counts = ctx.store.counts_over_time(
        bucket, key="entity", since=ctx.start, until=ctx.end, tz_offset=ctx.offset
    )
    if not counts:
        return ""
    first_bucket = min(c.start for c in counts)
    last_bucket = max(c.start for c in counts)
    n = round((last_bucket - first_bucket) / size) + 1
    note = ""
    if n > MAX_BARS:
        first_bucket = last_bucket - (MAX_BARS - 1) * size
        note = f" Showing the last {MAX_BARS} {bucket}s of the period."
        n = MAX_BARS
    starts = [first_bucket + i * size for i in range(n)]
    index = {round(s): i for i, s in enumerate(starts)}
    series: dict[str, list[int]] = {}
    for c in counts:
        i = index.get(round(c.start))
        if i is not None:
            series.setdefault(c.key or "?", [0] * n)[i] += c.count
    fmt = "%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"
    labels = [datetime.fromtimestamp(s, ctx.tz).strftime(fmt) for s in starts]
    colors = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(sorted(series))}
    legend = "".join(
        f'<span><i class="sw" style="background:{colors[k]}"></i>{_e(k)}</span>' for k in colors
    )
    svg = bar_chart_svg(labels, series, colors, title=f"Findings per {bucket}")
    return (
        f'<h2 id="time">Findings over time</h2><p>Per {bucket}, stacked by entity type.{note}</p>'
        f'<div class="legend">{legend}</div>{svg}'
    )


def _top_sites(ctx: _Ctx) -> str:
    sites = ctx.store.top_sites(ctx.limit, since=ctx.start, until=ctx.end)
    if not sites:
        return _section("sites", "Sites sending data to third parties", "", "None in this period.")
    rows = []
    for s in sites:
        dests = "<br>".join(
            f"{_e(d.destination)}: {d.findings} ({_e(', '.join(d.entity_types))})"
            for d in s.destinations
        )
        rows.append(
            f'<tr><td>{_e(s.site)}</td><td class="n">{s.findings}</td>'
            f'<td class="n">{s.verdicts}</td><td>{dests}</td></tr>'
        )
    table = (
        "<table><thead><tr><th>site</th><th>findings</th><th>requests</th>"
        "<th>third-party destinations (findings, entity types)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return _section(
        "sites", "Sites sending data to third parties",
        "<p>Pages whose requests carried personal data to another domain.</p>" + table,
    )  # fmt: skip


def _repeated(ctx: _Ctx) -> str:
    tz = ctx.tz
    values = ctx.store.repeated_values(ctx.limit, since=ctx.start, until=ctx.end)
    rows = "".join(
        f"<tr><td><code>{_e(v.masked)}</code></td><td>{_e(v.entity_type)}</td>"
        f'<td class="n">{v.findings}</td><td class="n">{v.destinations}</td>'
        f'<td class="n">{v.sites}</td><td>{_e(_time(v.first_ts, tz))}</td>'
        f"<td>{_e(_time(v.last_ts, tz))}</td><td><code>{_e(v.fingerprint[:12])}</code></td></tr>"
        for v in values
    )
    table = (
        "<table><thead><tr><th>value (masked)</th><th>entity</th><th>times</th>"
        "<th>destinations</th><th>sites</th><th>first</th><th>last</th><th>fingerprint</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return _section(
        "repeated", "Values seen repeatedly",
        "<p>The same value (matched by fingerprint, whatever its formatting) sent more than "
        "once.</p>" + table if values else "",
        "No value was seen twice.",
    )  # fmt: skip


def _rules(ctx: _Ctx) -> str:
    rules = ctx.store.rule_counts(ctx.start, ctx.end)
    rows = "".join(
        f"<tr><td>{_e(r.rule)}</td><td>{_e(r.action)}</td><td>{_e(r.mode)}</td>"
        f'<td class="n">{r.verdicts}</td></tr>'
        for r in rules
    )
    return _section(
        "rules", "Rules that decided",
        "<p>In <em>simulate</em> mode the action was recorded but not applied.</p>"
        "<table><thead><tr><th>rule</th><th>action</th><th>mode</th><th>requests</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>",
    )  # fmt: skip


def _issues(ctx: _Ctx) -> str:
    issues = ctx.store.issue_counts(ctx.start, ctx.end)
    rows = "".join(f'<tr><td>{_e(k)}</td><td class="n">{n}</td></tr>' for k, n in issues)
    return _section(
        "issues", "Incomplete scans",
        "<p>Requests part of which could not be scanned, by reason.</p>"
        "<table><thead><tr><th>issue</th><th>requests</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" if issues else "",
        "Every request was scanned completely.",
    )  # fmt: skip


def _blocked(ctx: _Ctx, actions: Sequence[str]) -> str:
    tz = ctx.tz
    rows = ctx.store.recent_findings(
        ctx.limit, action=list(actions), since=ctx.start, until=ctx.end
    )
    body = "".join(
        f"<tr><td>{_e(_time(r.ts, tz))}</td><td>{_e(r.site or '')}</td>"
        f"<td>{_e(r.destination)}</td><td><code>{_e(r.url)}</code></td>"
        f"<td><code>{_e(r.location)}</code></td><td>{_e(r.entity_type)}</td>"
        f"<td><code>{_e(r.masked)}</code></td><td>{_e(r.rule)}</td><td>{_e(r.mode)}</td></tr>"
        for r in rows
    )
    table = (
        "<table><thead><tr><th>time</th><th>site</th><th>destination</th><th>url</th>"
        "<th>field</th><th>entity</th><th>value (masked)</th><th>rule</th><th>mode</th>"
        f"</tr></thead><tbody>{body}</tbody></table>"
    )
    return _section(
        "blocked", "Recent blocked items", table if rows else "", "Nothing was blocked."
    )


def _decisions(ctx: _Ctx) -> str:
    tz = ctx.tz
    decisions = ctx.store.recent_decisions(ctx.limit, since=ctx.start, until=ctx.end)
    if not decisions:
        return ""
    body = "".join(
        f"<tr><td>{_e(_time(d.ts, tz))}</td><td>{_e(d.site or '')}</td>"
        f"<td>{_e(d.destination)}</td><td>{_e(', '.join(d.entity_types))}</td>"
        f"<td>{_e(d.answer)}</td><td>{_e(d.rule or '')}</td></tr>"
        for d in decisions
    )
    return _section(
        "decisions", "Answers to prompts",
        "<table><thead><tr><th>time</th><th>site</th><th>destination</th><th>entities</th>"
        f"<th>answer</th><th>rule</th></tr></thead><tbody>{body}</tbody></table>",
    )  # fmt: skip


# --- the chart -------------------------------------------------------------------------------


def bar_chart_svg(
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    colors: Mapping[str, str],
    *,
    title: str,
    width: int = 760,
    height: int = 260,
) -> str:
    """A stacked bar chart as inline SVG: one bar per label, one coloured segment per series.

    Axes with a y scale of "nice" round ticks, every k-th x label (rotated) so they do not
    overlap, and a ``<title>`` per segment ("label: series n") as a hover tooltip.
    """
    left, right, top, bottom = 48, 12, 12, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels))
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for t in ticks:
        y = top + plot_h - t * scale
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t}</text>'
        )
    for i in range(len(labels)):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for key in sorted(series):
            value = series[key][i]
            if value <= 0:
                continue
            h = value * scale
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_e(colors.get(key, "#888"))}"><title>{_e(labels[i])}: {_e(key)} '
                f"{value}</title></rect>"
            )
    step = max(1, math.ceil(len(labels) / 16))
    for i in range(0, len(labels), step):
        x = left + i * slot + slot / 2
        y = top + plot_h + 12
        out.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" '
            f'transform="rotate(-40 {x:.1f} {y})">{_e(labels[i])}</text>'
        )
    axis_y = top + plot_h
    out.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#333"/>'
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#333"/>'
        "</svg>"
    )
    return "".join(out)


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Round tick values from 0 covering ``maximum``: steps of 1, 2 or 5 times a power of 10."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = math.ceil(maximum / step) * step
    return list(range(0, top + 1, step))


# --- helpers ---------------------------------------------------------------------------------


def _section(anchor: str, title: str, body: str, empty: str = "") -> str:
    content = body or f'<p class="empty">{_e(empty)}</p>'
    return f'<h2 id="{anchor}">{_e(title)}</h2>{content}'


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _ts(when: float | datetime | None) -> float | None:
    if when is None:
        return None
    return when.timestamp() if isinstance(when, datetime) else float(when)


def _time(ts: float | None, tz: timezone) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def _offset_label(tz: timezone) -> str:
    offset = tz.utcoffset(None)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
