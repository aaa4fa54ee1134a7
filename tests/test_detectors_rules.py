"""formshield's rules without Presidio, and the Presidio recognizers made of them.

The proxy scans with the rules alone (:mod:`detectors.rules`), so that it never loads Presidio;
users of Presidio register the recognizers (:mod:`detectors.recognizers`). These tests check that
the two are the same detector: same classes, same matches and scores, same findings, and that
the proxy really does without Presidio.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from presidio_analyzer import Pattern, PatternRecognizer

from detectors.engine import Scanner
from detectors.model import Field, Finding
from detectors.recognizers import RECOGNIZER_CLASSES, CnPatternRecognizer, CnPhoneRecognizer
from detectors.registry import formshield_recognizers
from detectors.rules import RULE_CLASSES, PatternRules, formshield_rules
from detectors.rules.base import PatternSpec, to_halfwidth
from tests.test_recognizers_gates import TEXTS

REPO = Path(__file__).resolve().parent.parent
PAIRS = list(zip(RULE_CLASSES, RECOGNIZER_CLASSES, strict=True))
RULES = formshield_rules()
RECOGNIZERS = formshield_recognizers()
# The Presidio side's modules: none of them may be loaded by the proxy.
PRESIDIO_STACK = ("presidio_analyzer", "spacy", "thinc", "numpy", "pydantic")


@pytest.mark.parametrize(("rules", "recognizer"), PAIRS, ids=[r.NAME for r, _ in PAIRS])
def test_each_recognizer_is_its_rules_inside_presidio(
    rules: type[PatternRules], recognizer: type[CnPatternRecognizer]
) -> None:
    assert issubclass(recognizer, rules) and issubclass(recognizer, PatternRecognizer)
    # The rules class comes first: its validation and scores are the ones Presidio calls.
    assert recognizer.__mro__[1] is rules
    # Findings of the proxy name the recognizer a Presidio user would see.
    assert recognizer.__name__ == rules.NAME == rules().name == recognizer().name
    built: CnPatternRecognizer = recognizer()
    assert built.supported_entities == [rules.ENTITY] == rules().supported_entities
    assert [(p.name, p.regex, p.score) for p in built.patterns] == [
        (p.name, p.regex, p.score) for p in rules.PATTERNS
    ]
    assert all(isinstance(p, Pattern) for p in built.patterns)
    assert built.context == rules.CONTEXT


def test_patterns_may_be_given_as_presidio_patterns_or_specs() -> None:
    mobile = r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"
    from_presidio = CnPhoneRecognizer(patterns=[Pattern("mobile only", mobile, 0.3)])
    from_spec = CnPhoneRecognizer(patterns=[PatternSpec("mobile only", mobile, 0.3)])
    for recognizer in (from_presidio, from_spec):
        assert recognizer.pattern_specs == [PatternSpec("mobile only", mobile, 0.3)]
        found = recognizer.analyze("手机13912345678 座机010-62345678", None)
        assert [(r.start, r.end, r.score) for r in found] == [(2, 13, 1.0)]


def _findings(scanner: Scanner, fields: list[Field]) -> list[tuple[object, ...]]:
    return [_row(f) for f in scanner.scan_fields(fields)]


def _row(f: Finding) -> tuple[object, ...]:
    return (f.location, f.entity_type, f.start, f.end, round(f.score, 6), f.recognizer, f.value)


_BY_RULES = Scanner()
_BY_RECOGNIZERS = Scanner(recognizers=RECOGNIZERS)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
@example("身份证号：110105194912310021")
@example("护照 E12345678 港澳通行证 H1234567801")
@example("zhang@example.com 6222021234567890128 4111-1111-1111-1111")
def test_rules_and_recognizers_find_the_same(text: str) -> None:
    normal = to_halfwidth(text)
    for rules, recognizer in zip(RULES, RECOGNIZERS, strict=True):
        assert rules.find(normal) == recognizer.find(normal)  # type: ignore[attr-defined]
    fields = [Field("form.v", text), Field("form.idNo", text, name="idNo")]
    assert _findings(_BY_RULES, fields) == _findings(_BY_RECOGNIZERS, fields)


def test_findings_name_the_presidio_recognizer() -> None:
    fields = [Field("form.sfz", "11010519491231002X", name="sfz"), Field("form.m", "13912345678")]
    assert [(f.entity_type, f.recognizer) for f in _BY_RULES.scan_fields(fields)] == [
        ("CN_RESIDENT_ID", "CnResidentIdRecognizer"),
        ("CN_PHONE", "CnPhoneRecognizer"),
    ]


def test_the_proxy_scans_without_loading_presidio(tmp_path: Path) -> None:
    """The addon as mitmdump loads it, configured and blocking a request, in a fresh process:
    nothing of Presidio's stack is imported (it cost the proxy ~64 MB and 1.3 s of start-up)."""
    code = f"""
import asyncio, sys
from mitmproxy import http
from mitmproxy.test import taddons, tflow
import addon.mitm_script as script

async def main() -> None:
    fs = script.formshield
    with taddons.context(fs) as tctx:
        tctx.configure(fs, formshield_audit=sys.argv[1])
        f = tflow.tflow()
        f.request = http.Request.make(
            "POST", "http://tracker.example/c",
            "idNo=11010519491231002X&mail=zhang%40example.com&tel=13912345678",
            {{"content-type": "application/x-www-form-urlencoded",
              "referer": "https://shop.test/checkout"}},
        )
        await fs.request(f)
        fs.done()
        print(f.response.status_code if f.response else None)
asyncio.run(main())
print(sorted(m for m in {PRESIDIO_STACK!r} if m in sys.modules))
"""
    env = {**os.environ, "FORMSHIELD_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "audit.sqlite3")],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )
    status, loaded = out.stdout.split()
    assert status == "403"
    assert loaded == "[]"
