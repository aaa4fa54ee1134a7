"""Benchmark formshield's scanning against vanilla Presidio, and its scaling with body size.

Usage: ``.venv/bin/python -m scripts.bench_scan [--n 300] [--seed 0] [--reps 5]
[--sweep-rounds 15] [--json]``

One run measures, with ``time.perf_counter`` after a warm-up:

1. Per request, on the labelled corpus of ``scripts/corpus.py``: formshield
   (``addon.scan.scan_request`` + ``detectors.engine.Scanner``: parsing included) and vanilla
   Presidio (``scripts/vanilla_presidio.py``: URL + body text through an ``AnalyzerEngine`` with
   all predefined recognizers). Each pass scans the whole corpus; the reported time is the
   median over ``--reps`` passes divided by the number of requests, plus the median and p95
   single-request latency of one pass. Target: formshield >= 20x faster, reported both as the
   ratio of mean times and as the ratio of median latencies (the typical small request).
2. Size sweep: JSON bodies of 10 KB, 100 KB, 1 MB and 10 MB (``corpus.json_records_body``:
   arrays of customer records, every 10th with a mobile and an ID) scanned by formshield with
   parse limits raised so that the whole body is scanned, in ``--sweep-rounds`` interleaved
   rounds (each size once per round; 10 MB every other round). Reported: median ms (and the
   fastest repetition, which shows how much of a slow median is the machine), ms per MB, and
   linearity (ms/MB of each size relative to 1 MB; roughly flat means linear). Target: 1 MB in
   under 100 ms.
3. Repeated browser headers (no target; ``--no-headers`` skips it): browsing GETs that carry a
   browser's Cookie header (trackers' ids and timestamps, a session token) and Referer, scanned
   without a table of clean headers, with a warm one (the proxy's steady state: a browser sends
   the same Cookie on every request to a site), and with one while every Cookie is new (the
   worst case, when the table only costs). Interleaved rounds; µs per request and the ratio
   of each to the run without a table.

Benchmarks are not tests: nothing here asserts; the summary states which targets were met.
Numbers depend on the machine (the project's is 2 cores); compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import http

from scripts.corpus import generate, json_records_body

TARGET_RATIO = 20.0
TARGET_MS_PER_1MB = 100.0
SIZES = (("10 KB", 10_000), ("100 KB", 100_000), ("1 MB", 1_000_000), ("10 MB", 10_000_000))


def _raised_limits(body_size: int) -> Any:
    """ParseLimits raised so that a body of ``body_size`` bytes is read and scanned whole."""
    from addon.request_fields import ParseLimits

    limits = ParseLimits()
    wanted = {
        "max_body": body_size * 2,
        "max_decoded_bytes": body_size * 2,
        "max_file_part": body_size * 2,
        "max_fields": body_size // 8,  # a JSON leaf takes well over 8 bytes
    }
    names = {f.name for f in dataclasses.fields(limits)}
    changes = {k: max(v, getattr(limits, k)) for k, v in wanted.items() if k in names}
    return dataclasses.replace(limits, **changes)


def _scanner() -> Callable[..., Any]:
    from addon.scan import scan_request
    from detectors.engine import Scanner

    scanner = Scanner()

    def run(request: http.Request, limits: Any = None) -> Any:
        if limits is None:
            return scan_request(request, scanner)
        return scan_request(request, scanner, limits)

    return run


def _passes(
    fn: Callable[[http.Request], Any], requests: Sequence[http.Request], reps: int
) -> dict[str, float]:
    for r in requests[: min(20, len(requests))]:  # warm-up: imports, regex caches, lazy loads
        fn(r)
    totals = []
    single: list[float] = []
    for rep in range(reps):
        start = time.perf_counter()
        for r in requests:
            if rep == 0:
                t0 = time.perf_counter()
                fn(r)
                single.append(time.perf_counter() - t0)
            else:
                fn(r)
        totals.append(time.perf_counter() - start)
    single.sort()
    return {
        "ms_per_request": statistics.median(totals) / len(requests) * 1000,
        "median_ms": statistics.median(single) * 1000,
        "p95_ms": single[int(0.95 * (len(single) - 1))] * 1000,
        "passes": reps,
    }


def bench_requests(n: int, seed: int, reps: int, baseline: bool) -> dict[str, Any]:
    requests = [s.request for s in generate(n, seed)]
    scan = _scanner()
    result: dict[str, Any] = {"requests": n, "formshield": _passes(scan, requests, reps)}
    if baseline:
        from scripts.vanilla_presidio import VanillaPresidio

        vanilla = VanillaPresidio()
        result["vanilla_presidio"] = _passes(vanilla.scan_request, requests, max(1, reps // 2))
        result["ratio"] = (
            result["vanilla_presidio"]["ms_per_request"] / result["formshield"]["ms_per_request"]
        )
        # The mean favours formshield on big bodies (Presidio's cost grows with text length);
        # the ratio of median latencies says what a typical small form costs.
        result["ratio_median"] = (
            result["vanilla_presidio"]["median_ms"] / result["formshield"]["median_ms"]
        )
    return result


def bench_sizes(
    seed: int, rounds: int, sizes: Sequence[tuple[str, int]] = SIZES
) -> list[dict[str, Any]]:
    """Time each size in ``rounds`` interleaved rounds (every size once per round, bodies above
    1 MB every other round), so that each median spans the whole sweep rather than the few
    seconds in which one size would otherwise run: this machine's speed drifts by tens of
    percent within minutes."""
    scan = _scanner()
    cases = []
    for label, size in sizes:
        body, planted = json_records_body(size, seed)
        request = http.Request.make(
            "POST",
            "https://api.example-crm.cn/customers/import",
            body,
            http.Headers(content_type="application/json"),
        )
        limits = _raised_limits(len(body))
        result = scan(request, limits)  # warm-up, and the findings/issues for the sanity line
        cases.append((label, size, body, planted, request, limits, result))
    times: dict[str, list[float]] = {label: [] for label, *_ in cases}
    for round_no in range(rounds):
        for label, size, _, _, request, limits, _ in cases:
            if size > 1_000_000 and round_no % 2 and round_no != rounds - 1:
                continue
            start = time.perf_counter()
            scan(request, limits)
            times[label].append(time.perf_counter() - start)
    rows: list[dict[str, Any]] = []
    for label, _, body, planted, _, _, result in cases:
        ms = statistics.median(times[label]) * 1000
        rows.append(
            {
                "size": label,
                "bytes": len(body),
                "ms": ms,
                "min_ms": min(times[label]) * 1000,
                "ms_per_mb": ms / (len(body) / 1_000_000),
                "reps": len(times[label]),
                "planted": planted,
                "findings": len(result.findings),
                "issues": sorted({i.kind for i in result.issues}),
            }
        )
    ref = next((r["ms_per_mb"] for r in rows if r["size"] == "1 MB"), rows[-1]["ms_per_mb"])
    for r in rows:
        r["relative_ms_per_mb"] = float(r["ms_per_mb"]) / float(ref)
    return rows


BROWSER_COOKIE = (
    "_ga=GA1.2.1234567890.1732812345; _gid=GA1.2.987654321.1732812345; "
    "sessionid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e; csrftoken=Xy7kP2mQ9rT4vW6zA1bC3dE5fG8hJ0kL; "
    "uid=1029384756; lang=zh-CN; _fbp=fb.1.1732812345678.1234567890; "
    "Hm_lvt_abc123=1732812345,1732812400; Hm_lpvt_abc123=1732812400; tz=Asia%2FShanghai; "
    "JSESSIONID=ABCDEF0123456789ABCDEF0123456789; last_visit=2024-11-28T10%3A00%3A00Z"
)


def _browser_gets(n: int, unique_cookies: bool) -> list[http.Request]:
    """GETs of three sites, each with its Cookie header (the same for every request to the
    site unless ``unique_cookies``) and its page as Referer."""
    out = []
    for i in range(n):
        site = ("shop.example.cn", "news.example.com", "bank.example.cn")[i % 3]
        cookie = BROWSER_COOKIE + (f"; _n={i}" if unique_cookies else f"; site={site}")
        request = http.Request.make("GET", f"https://{site}/item/{i % 50}?page={i % 7}&ts={i}")
        request.headers = http.Headers(
            [(b"accept", b"*/*"), (b"referer", f"https://{site}/".encode()),
             (b"cookie", cookie.encode())]
        )  # fmt: skip
        out.append(request)
    return out


def bench_headers(n: int, rounds: int) -> dict[str, Any]:
    from addon.clean_headers import CleanHeaders
    from addon.scan import scan_request
    from detectors.engine import Scanner

    scanner = Scanner()
    repeated, unique = _browser_gets(n, False), _browser_gets(n, True)
    warm = CleanHeaders()
    for r in repeated:
        scan_request(r, scanner, clean=warm)

    def _scan_with(table: CleanHeaders, requests: list[http.Request]) -> None:
        for r in requests:  # one table for the pass, as in the proxy
            scan_request(r, scanner, clean=table)

    runs: dict[str, Callable[[], object]] = {
        "no table": lambda: [scan_request(r, scanner) for r in repeated],
        "warm table": lambda: [scan_request(r, scanner, clean=warm) for r in repeated],
        "no table, new cookies": lambda: [scan_request(r, scanner) for r in unique],
        "table, new cookies": lambda: _scan_with(CleanHeaders(), unique),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for i in range(rounds):
        names = list(runs)
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            runs[name]()
            times[name].append((time.perf_counter() - start) / n * 1e6)
    us = {k: statistics.median(v) for k, v in times.items()}
    return {
        "requests": n,
        "rounds": rounds,
        "us_per_request": us,
        "warm_vs_none": us["no table"] / us["warm table"],
        "new_cookies_overhead": us["table, new cookies"] / us["no table, new cookies"],
    }


def summary(req: dict[str, Any], sizes: list[dict[str, Any]]) -> str:
    fs = req["formshield"]
    lines = [f"Per request ({req['requests']} corpus requests, median of passes):"]
    lines.append(
        f"  formshield        {fs['ms_per_request']:8.3f} ms/request  "
        f"(median {fs['median_ms']:.3f} ms, p95 {fs['p95_ms']:.3f} ms)"
    )
    if "vanilla_presidio" in req:
        vp = req["vanilla_presidio"]
        lines.append(
            f"  vanilla Presidio  {vp['ms_per_request']:8.3f} ms/request  "
            f"(median {vp['median_ms']:.3f} ms, p95 {vp['p95_ms']:.3f} ms)"
        )
        ok = req["ratio"] >= TARGET_RATIO
        lines.append(
            f"  ratio             {req['ratio']:8.1f}x faster  "
            f"[target >= {TARGET_RATIO:.0f}x: {'MET' if ok else 'MISSED'}]"
        )
        ok = req["ratio_median"] >= TARGET_RATIO
        lines.append(
            f"  ratio of medians  {req['ratio_median']:8.1f}x faster  "
            f"[typical request; target >= {TARGET_RATIO:.0f}x: {'MET' if ok else 'MISSED'}]"
        )
    lines.append("")
    lines.append("JSON size sweep (formshield, whole body scanned):")
    lines.append(
        f"  {'size':<7}{'ms':>10}{'min ms':>9}{'ms/MB':>10}{'vs 1 MB':>9}  findings/planted  issues"
    )
    for r in sizes:
        lines.append(
            f"  {r['size']:<7}{r['ms']:>10.1f}{r['min_ms']:>9.1f}{r['ms_per_mb']:>10.1f}"
            f"{r['relative_ms_per_mb']:>8.2f}x  {r['findings']:>8}/{r['planted']:<8} "
            f"{','.join(r['issues']) or '-'}"
        )
    one_mb = next((r for r in sizes if r["size"] == "1 MB"), None)
    if one_mb:
        ok = one_mb["ms"] < TARGET_MS_PER_1MB
        lines.append(
            f"  1 MB JSON: {one_mb['ms']:.1f} ms median, {one_mb['min_ms']:.1f} ms fastest "
            f"[target < {TARGET_MS_PER_1MB:.0f} ms, judged on the median: "
            f"{'MET' if ok else 'MISSED'}]"
        )
    spread = [r["relative_ms_per_mb"] for r in sizes if r["bytes"] >= 100_000]
    if spread:
        flat = max(spread) <= 1.5 and min(spread) >= 0.5
        lines.append(
            f"  linearity (100 KB..10 MB ms/MB within 0.5x..1.5x of 1 MB): "
            f"{'yes' if flat else 'NO'} ({min(spread):.2f}x..{max(spread):.2f}x)"
        )
    return "\n".join(lines)


def headers_summary(h: dict[str, Any]) -> str:
    us = h["us_per_request"]
    lines = [
        f"Repeated browser headers ({h['requests']} GETs with Cookie and Referer, median of "
        f"{h['rounds']} interleaved rounds):"
    ]
    lines += [f"  {name:<22}{value:9.1f} us/request" for name, value in us.items()]
    lines.append(f"  warm table: {h['warm_vs_none']:.1f}x faster than no table")
    lines.append(
        f"  every Cookie new: the table costs {100 * (h['new_cookies_overhead'] - 1):+.1f}%"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark formshield against vanilla Presidio")
    parser.add_argument("--n", type=int, default=300, help="corpus requests (300)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (0)")
    parser.add_argument("--reps", type=int, default=5, help="passes/repetitions (5)")
    parser.add_argument("--no-baseline", action="store_true", help="skip vanilla Presidio")
    parser.add_argument("--no-sweep", action="store_true", help="skip the JSON size sweep")
    parser.add_argument(
        "--no-headers", action="store_true", help="skip the repeated browser headers run"
    )
    parser.add_argument(
        "--sweep-rounds", type=int, default=15, help="interleaved rounds of the size sweep (15)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.n < 1 or args.reps < 1 or args.sweep_rounds < 1:
        parser.error("--n, --reps and --sweep-rounds must be >= 1")
    try:
        req = bench_requests(args.n, args.seed, args.reps, not args.no_baseline)
        sizes = [] if args.no_sweep else bench_sizes(args.seed, args.sweep_rounds)
        headers = None if args.no_headers else bench_headers(600, max(5, args.reps * 2))
    except ImportError as exc:
        print(f"formshield not available: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"per_request": req, "sizes": sizes, "headers": headers}, indent=1))
    else:
        print(summary(req, sizes))
        if headers is not None:
            print()
            print(headers_summary(headers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
