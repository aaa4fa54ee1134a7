"""Tests for scripts/evaluate.py: the scoring rules, and a smoke run that holds formshield to its
targets (precision >= 0.99, recall >= 0.98 per entity, encoded values included) on a small corpus.
"""

from __future__ import annotations

import json

import pytest

from detectors.masking import mask
from detectors.model import Finding, ScanIssue
from scripts.corpus import ENTITIES, Sample, generate, normalize
from scripts.evaluate import Evaluation, evaluate_findings, format_report, main, run_baseline

SAMPLES = generate(40, seed=21)


def _finding(entity: str, value: str, location: str = "x") -> Finding:
    return Finding(entity, 1.0, location, mask(entity, value), value)


def _oracle(samples: list[Sample]) -> list[tuple[list[Finding], list[ScanIssue]]]:
    """A scanner that finds exactly the labels."""
    return [([_finding(lb.entity_type, lb.value) for lb in s.labels], []) for s in samples]


def test_perfect_scanner_scores_one_everywhere() -> None:
    ev = evaluate_findings("oracle", SAMPLES, _oracle(SAMPLES))
    for entity in ENTITIES:
        score = ev.per_entity[entity]
        assert score.fp == 0 and score.fn == 0
        assert score.precision in (1.0, None)
        assert score.recall in (1.0, None)
    assert ev.failures() == []
    assert ev.misses == [] and ev.false_positives == []
    assert ev.positive_requests_complete == ev.positive_requests > 0
    assert ev.negative_requests_flagged == 0


def test_miss_false_positive_and_card_swap_are_counted() -> None:
    results = _oracle(SAMPLES)
    target = next(i for i, s in enumerate(SAMPLES) if s.labels)
    dropped = SAMPLES[target].labels[0]
    results[target] = (results[target][0][1:], [ScanIssue("truncated_body", "body", "cut")])
    negative = next(i for i, s in enumerate(SAMPLES) if not s.labels)
    results[negative][0].append(_finding("CN_PHONE", "13912345678", "form.ts"))
    card_sample = next(
        i
        for i, s in enumerate(SAMPLES)
        if i != target and any(lb.entity_type == "CN_BANK_CARD" for lb in s.labels)
    )
    results[card_sample] = (
        [
            _finding("CREDIT_CARD", f.value) if f.entity_type == "CN_BANK_CARD" else f
            for f in results[card_sample][0]
        ],
        [],
    )
    ev = evaluate_findings("test", SAMPLES, results)
    assert ev.per_entity[dropped.entity_type].fn == 1
    assert [m.sample for m in ev.misses] == [SAMPLES[target].index]
    assert ev.misses[0].masked == mask(dropped.entity_type, dropped.value)
    assert ev.per_entity["CN_PHONE"].fp == 1
    assert ev.false_positives[0].source == "unplanted"
    assert ev.negative_requests_flagged == 1
    assert ev.type_mismatches["CN_BANK_CARD as CREDIT_CARD"] >= 1
    assert ev.per_entity["CN_BANK_CARD"].fn == int(dropped.entity_type == "CN_BANK_CARD")
    assert ev.per_entity["CREDIT_CARD"].fp == 0
    assert ev.issues["truncated_body"] == 1
    assert ev.failures()


def test_same_value_found_twice_is_one_true_positive() -> None:
    sample = next(s for s in SAMPLES if s.labels)
    label = sample.labels[0]
    findings = [
        _finding(label.entity_type, label.value, "a"),
        _finding(label.entity_type, label.value, "b"),
    ]
    ev = evaluate_findings("dup", [sample], [(findings, [])])
    assert ev.per_entity[label.entity_type].tp == 1
    assert ev.per_entity[label.entity_type].fp == 0


def test_false_positive_traced_to_its_decoy() -> None:
    sample = next(s for s in SAMPLES if any(d.kind == "glued_phone" for d in s.decoys))
    decoy = next(d for d in sample.decoys if d.kind == "glued_phone")
    phone = "".join(c for c in decoy.value if c.isdigit())
    ev = evaluate_findings("fp", [sample], [([_finding("CN_PHONE", phone)], [])])
    assert ev.false_positives[0].source == "glued_phone"
    assert normalize("CN_PHONE", phone) not in ev.false_positives[0].masked


def test_report_and_json_never_show_raw_values() -> None:
    # misses everything: every label is listed
    results: list[tuple[list[Finding], list[ScanIssue]]] = [([], []) for _ in SAMPLES]
    ev = evaluate_findings("none", SAMPLES, results)
    text = format_report(ev, None, max_list=1000)
    doc = json.dumps(ev.to_json(), ensure_ascii=False)
    for s in SAMPLES:
        for lb in s.labels:
            assert lb.value not in text and lb.value not in doc
    assert "TARGETS MISSED" in text


def test_baseline_runs_offline_and_maps_entities() -> None:
    ev = run_baseline(SAMPLES[:15])
    assert isinstance(ev, Evaluation)
    assert set(ev.per_entity) >= set(ENTITIES)
    # Presidio has nothing for Chinese resident IDs.
    assert ev.per_entity["CN_RESIDENT_ID"].tp == 0


def test_main_prints_json_with_the_report_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--n", "30", "--seed", "5", "--json", "--no-baseline"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] is None and doc["baseline"] is None
    fs = doc["formshield"]
    assert set(fs) >= {"per_entity", "breakdowns", "misses", "false_positives", "failures"}
    assert set(fs["per_entity"]) >= set(ENTITIES)
    assert {"body_format", "value_encoding", "content_encoding"} <= set(fs["breakdowns"])
    assert code == (1 if fs["failures"] else 0)


def test_main_rejects_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        main(["--n", "0"])


def test_smoke_formshield_reaches_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """formshield, as the proxy runs it, meets precision >= 0.99 / recall >= 0.98 per entity."""
    code = main(["--n", "200", "--seed", "0", "--json", "--no-baseline"])
    fs = json.loads(capsys.readouterr().out)["formshield"]
    assert sum(s["labels"] for s in fs["per_entity"].values()) > 300
    assert all(fs["breakdowns"]["value_encoding"][e]["labels"] > 0 for e in ("base64", "percent"))
    assert fs["failures"] == [], (fs["failures"], fs["misses"][:20], fs["false_positives"][:20])
    assert code == 0
