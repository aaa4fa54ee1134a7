"""Measure formshield's detection quality on the labelled corpus, against vanilla Presidio.

Usage: ``.venv/bin/python -m scripts.evaluate [--n 1000] [--seed 0] [--json] [--no-baseline]``

Scoring (per request; see :mod:`scripts.corpus`): a label is a unique ``(entity, value)`` the
request carries; it is a true positive when some finding of the same entity family has the same
normalised value, else a miss. A finding that matches no label is a false positive (counted once
per request, entity type and normalised value) and is charged to the entity type it was reported
as. Precision and recall are per entity type. formshield is run as the proxy runs it:
``addon.scan.scan_request`` with ``detectors.engine.Scanner(entities=corpus.ENTITIES)``.

Exit status: 0 when formshield reaches the targets (precision >= 0.99 and recall >= 0.98 for
every entity type with labels or false positives), 1 when it misses them, 2 when formshield
could not be imported. Misses and false positives are listed with masked values only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mitmproxy import http

from detectors.masking import mask
from detectors.model import Finding, ScanIssue
from scripts.corpus import ENTITIES, Label, Sample, generate, normalize, same_family

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.98

RequestScanner = Callable[[http.Request], tuple[list[Finding], list[ScanIssue]]]


@dataclass(slots=True)
class ClassScore:
    """Counts for one entity type."""

    entity: str
    labels: int = 0
    tp: int = 0
    fp: int = 0

    @property
    def fn(self) -> int:
        return self.labels - self.tp

    @property
    def precision(self) -> float | None:
        found = self.tp + self.fp
        return self.tp / found if found else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.labels if self.labels else None


@dataclass(frozen=True, slots=True)
class Miss:
    """A label no finding matched (masked)."""

    sample: int
    entity: str
    masked: str
    location: str
    encodings: tuple[str, ...]
    body_format: str
    content_encoding: str | None
    variant: str
    context: str | None


@dataclass(frozen=True, slots=True)
class FalsePositive:
    """A finding that matched no label (masked), with the planted decoy it came from if any."""

    sample: int
    entity: str
    masked: str
    score: float
    location: str
    encodings: tuple[str, ...]
    recognizer: str
    body_format: str
    source: str  # decoy kind, "part of <label entity>", or "unplanted"


@dataclass(slots=True)
class Evaluation:
    """Everything measured for one scanner on one corpus."""

    scanner: str
    requests: int
    per_entity: dict[str, ClassScore]
    # breakdown name -> bucket -> [labels, found]
    breakdowns: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    false_positives: list[FalsePositive] = field(default_factory=list)
    type_mismatches: Counter[str] = field(default_factory=Counter)
    issues: Counter[str] = field(default_factory=Counter)
    negative_requests: int = 0
    negative_requests_flagged: int = 0
    positive_requests: int = 0
    positive_requests_complete: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)

    def failures(self) -> list[str]:
        """Human sentences for every target missed (empty when all are met)."""
        out = []
        for score in self.per_entity.values():
            p, r = score.precision, score.recall
            if p is not None and p < TARGET_PRECISION:
                out.append(f"{score.entity}: precision {p:.4f} < {TARGET_PRECISION}")
            if r is not None and r < TARGET_RECALL:
                out.append(f"{score.entity}: recall {r:.4f} < {TARGET_RECALL}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "scanner": self.scanner,
            "requests": self.requests,
            "per_entity": {
                e: {
                    "labels": s.labels,
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                    "precision": s.precision,
                    "recall": s.recall,
                }
                for e, s in self.per_entity.items()
            },
            "breakdowns": {
                name: {
                    k: {"labels": v[0], "found": v[1], "recall": v[1] / v[0] if v[0] else None}
                    for k, v in buckets.items()
                }
                for name, buckets in self.breakdowns.items()
            },
            "misses": [asdict(m) for m in self.misses],
            "false_positives": [asdict(f) for f in self.false_positives],
            "type_mismatches": dict(self.type_mismatches),
            "issues": dict(self.issues),
            "negative_requests": self.negative_requests,
            "negative_requests_flagged": self.negative_requests_flagged,
            "positive_requests": self.positive_requests,
            "positive_requests_complete": self.positive_requests_complete,
            "unmapped": dict(self.unmapped),
            "failures": self.failures(),
        }


def _label_buckets(sample: Sample, label: Label) -> dict[str, list[str]]:
    """The breakdown buckets a label falls in (a label may count in several encodings)."""
    encodings = list(label.encodings) or ["plain"]
    return {
        "body_format": [sample.body_format],
        "content_encoding": [sample.content_encoding or "identity"],
        "value_encoding": sorted(set(encodings)),
        "layers": [str(len(label.encodings))],
        "context": ["context" if label.context else "neutral name"],
        "variant": [f"{label.entity_type}/{label.variant or '-'}"],
        "location": [label.location.split(".", 1)[0].split("[", 1)[0].split(":", 1)[0]],
    }


def _fp_source(sample: Sample, entity: str, key: str) -> str:
    for decoy in sample.decoys:
        if key and key in normalize(entity, decoy.value):
            return decoy.kind
    for label in sample.labels:
        if key and key in normalize(label.entity_type, label.value):
            return f"part of {label.entity_type}"
    return "unplanted"


def evaluate_findings(
    name: str,
    samples: Sequence[Sample],
    results: Sequence[tuple[Sequence[Finding], Sequence[ScanIssue]]],
) -> Evaluation:
    """Score one scanner's findings (and issues) for each sample."""
    ev = Evaluation(name, len(samples), {e: ClassScore(e) for e in ENTITIES})
    breakdowns: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for sample, (findings, issues) in zip(samples, results, strict=True):
        for issue in issues:
            ev.issues[issue.kind] += 1
        keyed = [(f, normalize(f.entity_type, f.value)) for f in findings]
        matched: set[int] = set()
        caught = 0
        for label in sample.labels:
            key = normalize(label.entity_type, label.value)
            hit = [
                i
                for i, (f, fkey) in enumerate(keyed)
                if fkey == key and same_family(label.entity_type, f.entity_type)
            ]
            score = ev.per_entity.setdefault(label.entity_type, ClassScore(label.entity_type))
            score.labels += 1
            found = bool(hit)
            if found:
                score.tp += 1
                caught += 1
                matched.update(hit)
                if all(keyed[i][0].entity_type != label.entity_type for i in hit):
                    swap = f"{label.entity_type} as {keyed[hit[0]][0].entity_type}"
                    ev.type_mismatches[swap] += 1
            else:
                ev.misses.append(
                    Miss(
                        sample.index,
                        label.entity_type,
                        mask(label.entity_type, label.value),
                        label.location,
                        label.encodings,
                        sample.body_format,
                        sample.content_encoding,
                        label.variant,
                        label.context,
                    )
                )
            for bname, buckets in _label_buckets(sample, label).items():
                for bucket in buckets:
                    breakdowns[bname][bucket][0] += 1
                    breakdowns[bname][bucket][1] += int(found)
        seen_fp: set[tuple[str, str]] = set()
        for i, (f, fkey) in enumerate(keyed):
            if i in matched or (f.entity_type, fkey) in seen_fp:
                continue
            # A second finding of an already matched value under another type still counts.
            if any(
                fkey == normalize(lb.entity_type, lb.value)
                and same_family(lb.entity_type, f.entity_type)
                for lb in sample.labels
            ):
                continue
            seen_fp.add((f.entity_type, fkey))
            ev.per_entity.setdefault(f.entity_type, ClassScore(f.entity_type)).fp += 1
            ev.false_positives.append(
                FalsePositive(
                    sample.index,
                    f.entity_type,
                    f.masked,
                    round(f.score, 3),
                    f.location,
                    f.encodings,
                    f.recognizer,
                    sample.body_format,
                    _fp_source(sample, f.entity_type, fkey),
                )
            )
        if sample.labels:
            ev.positive_requests += 1
            ev.positive_requests_complete += int(caught == len(sample.labels))
        else:
            ev.negative_requests += 1
            ev.negative_requests_flagged += int(bool(findings))
    ev.breakdowns = {k: dict(sorted(v.items())) for k, v in sorted(breakdowns.items())}
    return ev


def formshield_scanner() -> RequestScanner:
    """``addon.scan.scan_request`` with a Scanner restricted to the corpus's entity types."""
    from addon.scan import scan_request
    from detectors.engine import Scanner

    scanner = Scanner(entities=ENTITIES)

    def run(request: http.Request) -> tuple[list[Finding], list[ScanIssue]]:
        result = scan_request(request, scanner)
        return result.findings, result.issues

    return run


def run_formshield(samples: Sequence[Sample]) -> Evaluation:
    scan = formshield_scanner()
    return evaluate_findings("formshield", samples, [scan(s.request) for s in samples])


def run_baseline(samples: Sequence[Sample], recognizers: str = "all") -> Evaluation:
    from scripts.vanilla_presidio import VanillaPresidio

    vanilla = VanillaPresidio(recognizers="default" if recognizers == "default" else "all")
    results: list[tuple[Sequence[Finding], Sequence[ScanIssue]]] = []
    unmapped: Counter[str] = Counter()
    for s in samples:
        res = vanilla.scan_request(s.request)
        unmapped.update(res.unmapped)
        results.append((res.findings, []))
    ev = evaluate_findings(f"vanilla Presidio ({recognizers} recognizers)", samples, results)
    ev.unmapped = unmapped
    return ev


# --------------------------------------------------------------------------------------------
# Text report


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value * 100:6.2f}"


def format_report(
    formshield: Evaluation | None, baseline: Evaluation | None, max_list: int = 40
) -> str:
    lines: list[str] = []
    ref = formshield or baseline
    assert ref is not None
    lines.append(f"corpus: {ref.requests} requests")
    lines.append("")
    header = f"{'entity':<20}{'labels':>7}  | {'formshield P':>12} {'R':>7} {'FP':>5} {'FN':>5}"
    header += f"  | {'Presidio P':>10} {'R':>7} {'FP':>5}"
    lines.append(header)
    lines.append("-" * len(header))
    for entity in ENTITIES:
        fs = formshield.per_entity.get(entity) if formshield else None
        bl = baseline.per_entity.get(entity) if baseline else None
        labels = (fs or bl or ClassScore(entity)).labels
        row = f"{entity:<20}{labels:>7}  | "
        row += (
            f"{_pct(fs.precision):>12} {_pct(fs.recall):>7} {fs.fp:>5} {fs.fn:>5}"
            if fs
            else f"{'n/a':>12} {'':>7} {'':>5} {'':>5}"
        )
        row += (
            f"  | {_pct(bl.precision):>10} {_pct(bl.recall):>7} {bl.fp:>5}"
            if bl
            else f"  | {'n/a':>10}"
        )
        lines.append(row)
    for ev in (formshield, baseline):
        if ev is None:
            continue
        neg = ev.negative_requests
        pos = ev.positive_requests
        lines.append(
            f"{ev.scanner}: flagged {ev.negative_requests_flagged}/{neg} requests without "
            f"personal data; caught everything in {ev.positive_requests_complete}/{pos} requests "
            "with personal data"
        )
        if ev.unmapped:
            top = ", ".join(f"{k} {v}" for k, v in ev.unmapped.most_common(6))
            lines.append(f"  results with no formshield counterpart (not scored): {top}")
    if formshield is not None:
        lines.append("")
        lines.append("formshield recall by breakdown (labels found/total):")
        for bname, buckets in formshield.breakdowns.items():
            if bname == "variant":
                continue
            cells = [
                f"{k} {v[1]}/{v[0]}" + ("" if v[1] == v[0] else f" ({v[1] / v[0] * 100:.1f}%)")
                for k, v in buckets.items()
            ]
            lines.append(f"  {bname:<17}" + "; ".join(cells))
        weak = [
            f"{k} {v[1]}/{v[0]}"
            for k, v in formshield.breakdowns.get("variant", {}).items()
            if v[1] < v[0]
        ]
        lines.append("  variants missed:  " + ("; ".join(weak) if weak else "none"))
        if formshield.type_mismatches:
            lines.append(
                "  card type swaps (counted as found): "
                + ", ".join(f"{k} {v}" for k, v in formshield.type_mismatches.items())
            )
        if formshield.issues:
            lines.append(
                "  scan issues: " + ", ".join(f"{k} {v}" for k, v in formshield.issues.items())
            )
        lines.append("")
        lines.append(f"formshield misses ({len(formshield.misses)}):")
        for m in formshield.misses[:max_list]:
            enc = "+".join(m.encodings) or "plain"
            ce = f" {m.content_encoding}" if m.content_encoding else ""
            ctx = f" ctx={m.context}" if m.context else ""
            lines.append(
                f"  #{m.sample:<5} {m.entity:<18} {m.masked:<26} {m.location} "
                f"[{m.body_format}{ce}; {enc}; {m.variant}{ctx}]"
            )
        lines.append(f"formshield false positives ({len(formshield.false_positives)}):")
        for f in formshield.false_positives[:max_list]:
            enc = "+".join(f.encodings) or "-"
            lines.append(
                f"  #{f.sample:<5} {f.entity:<18} {f.masked:<26} {f.location} score={f.score} "
                f"[{f.body_format}; {enc}; {f.recognizer}] from {f.source}"
            )
        failures = formshield.failures()
        lines.append("")
        lines.append(
            "TARGETS MET (precision >= 0.99, recall >= 0.98 per entity)"
            if not failures
            else "TARGETS MISSED: " + "; ".join(failures)
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="requests to generate (1000)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (0)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--no-baseline", action="store_true", help="skip vanilla Presidio")
    parser.add_argument(
        "--baseline-recognizers",
        choices=("all", "default"),
        default="all",
        help="Presidio recognizers: all predefined (default) or Presidio's enabled set",
    )
    parser.add_argument("--max-list", type=int, default=40, help="misses/FPs listed (40)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be >= 1")

    samples = generate(args.n, args.seed)
    formshield: Evaluation | None = None
    unavailable = None
    try:
        formshield = run_formshield(samples)
    except ImportError as exc:  # the engine is being built in parallel
        unavailable = f"formshield not available: {exc}"
    baseline = None if args.no_baseline else run_baseline(samples, args.baseline_recognizers)

    if args.json:
        doc = {
            "n": args.n,
            "seed": args.seed,
            "formshield": formshield.to_json() if formshield else None,
            "baseline": baseline.to_json() if baseline else None,
            "error": unavailable,
        }
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    elif formshield or baseline:
        print(format_report(formshield, baseline, args.max_list))
    if unavailable:
        print(unavailable, file=sys.stderr)
        return 2
    assert formshield is not None
    return 1 if formshield.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
