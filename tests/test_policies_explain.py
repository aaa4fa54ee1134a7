"""Tests for policies/explain.py: what `formshield policy check` and `... explain` report."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.engine import Policy
from policies.explain import (
    check_files,
    explain,
    explain_policy,
    render_check,
    render_explanation,
)
from policies.loader import BUNDLED_DEFAULT, EXAMPLES_DIR
from policies.model import Action

FIXTURES = Path(__file__).parent / "fixtures" / "policies"


def test_check_good_files() -> None:
    paths = [BUNDLED_DEFAULT, EXAMPLES_DIR / "banking.yaml"]
    report = check_files(paths)
    assert report.ok
    assert report.errors == []
    default, banking = report.files
    assert (default.rules, default.trusted_sites) == (7, 0)
    assert "mode=enforce" in default.settings
    assert (banking.rules, banking.trusted_sites, banking.settings) == (3, 1, ())
    text = render_check(report)
    assert f"{BUNDLED_DEFAULT}: OK (7 rules, 0 trusted sites, sets combine=" in text
    assert f"{EXAMPLES_DIR / 'banking.yaml'}: OK (3 rules, 1 trusted sites)" in text
    assert f"  combine: most-specific-then-most-severe ({BUNDLED_DEFAULT}:" in text
    assert text.endswith("2 file(s) checked, no errors")


def test_check_reports_every_error_of_every_file() -> None:
    paths = [
        FIXTURES / "bad_many_errors.yaml",
        BUNDLED_DEFAULT,
        FIXTURES / "bad_unknown_action.yaml",
    ]
    report = check_files(paths)
    assert not report.ok
    assert [(Path(e.path).name, e.line) for e in report.errors] == [
        ("bad_many_errors.yaml", 3),
        ("bad_many_errors.yaml", 6),
        ("bad_many_errors.yaml", 8),
        ("bad_unknown_action.yaml", 7),
    ]
    assert report.stack == ()  # no stack summary while a file is broken
    lines = render_check(report).splitlines()
    assert lines[0] == f"{paths[0]}:3: unknown mode 'dry-run' (expected one of enforce, simulate)"
    assert lines[3].startswith(f"{BUNDLED_DEFAULT}: OK")
    assert lines[4] == (
        f"{paths[2]}:7: unknown action 'blok' (expected one of allow, warn, redact, block, ask)"
    )
    assert lines[-1] == "3 file(s) checked, 4 error(s)"


def test_check_missing_file(tmp_path: Path) -> None:
    report = check_files([tmp_path / "none.yaml"])
    assert not report.ok
    assert "cannot read policy file" in render_check(report)


def test_explain_default_bundled() -> None:
    exp = explain("www.jd.com", "hm.baidu.com", "CN_PHONE", score=0.9)
    assert (exp.decision.action, exp.decision.rule.id) == (Action.REDACT, "third-party-contact")
    assert exp.site_domain == "jd.com"
    assert not exp.first_party
    assert exp.party_reason == "different registrable domain"
    assert exp.winner is not None and exp.winner.reason == "decides"
    assert [(o.rule.id, o.reason) for o in exp.lost] == [
        (
            "third-party-other",
            "less specific: entities '*' vs a list of entities of third-party-contact",
        )
    ]
    unmatched = {o.rule.id: o.reason for o in exp.unmatched}
    assert unmatched["first-party-allow"] == (
        "destination 'first-party': hm.baidu.com is third party"
    )
    assert unmatched["third-party-ids"] == (
        "entity CN_PHONE is not in [CN_BANK_CARD, CN_RESIDENT_ID, CREDIT_CARD]"
    )
    text = render_explanation(exp)
    assert text.splitlines()[:4] == [
        "verdict: redact by default.yaml:87 (third-party-contact)",
        "  message: your CN_PHONE was masked before reaching hm.baidu.com",
        "  failure mode: closed",
        "site: jd.com (from www.jd.com)",
    ]
    assert "destination: hm.baidu.com (third party: different registrable domain)" in text
    assert "matched but lost:" in text and "did not match:" in text


def test_explain_score_and_layers() -> None:
    exp = explain(
        "examplebank.cn",
        "hm.baidu.com",
        "CN_PASSPORT",
        score=0.5,
        policy_files=[BUNDLED_DEFAULT, EXAMPLES_DIR / "banking.yaml"],
    )
    assert exp.decision.rule.id == "bank-third-party"
    lost = {o.rule.id: o.reason for o in exp.lost}
    assert lost["third-party-travel-ids-weak"] == (
        "less specific: site '*' vs site 'examplebank.cn' of bank-third-party"
    )
    unmatched = {o.rule.id: o.reason for o in exp.unmatched}
    assert unmatched["third-party-travel-ids"] == "score 0.50 is below min_score 0.7"
    assert unmatched["bank-transfer-payee"] == (
        "destination 'first-party': hm.baidu.com is third party"
    )


def test_explain_trust() -> None:
    exp = explain(
        "examplebank.cn",
        "pay.examplebank-pay.cn",
        "CN_BANK_CARD",
        policy_files=[BUNDLED_DEFAULT, EXAMPLES_DIR / "banking.yaml"],
        method="POST",
        path="/pay",
    )
    assert exp.first_party
    assert exp.party_reason.startswith("trusted on this site by banking.yaml:")
    unmatched = {o.rule.id: o.reason for o in exp.unmatched}
    assert unmatched["bank-transfer-payee"] == "path '/ebank/transfer/*' does not match /pay"


@pytest.mark.parametrize(
    "texts, lost_reason",
    [
        # same specificity, different files: the later file wins, even with a milder action
        (
            (
                "rules:\n  - id: mine\n    action: block\n",
                "rules:\n  - id: base\n    action: allow\n",
            ),
            "as specific, but layer0.yaml is layered below layer1.yaml",
        ),
        # same file, same specificity, different severity
        (
            ("rules:\n  - id: mine\n    action: allow\n  - id: base\n    action: block\n",),
            "as specific, same file, but allow is less severe than block",
        ),
        # full tie
        (
            ("rules:\n  - id: base\n    action: warn\n  - id: mine\n    action: warn\n",),
            "as specific and as severe, but written after base",
        ),
        # most-severe combining
        (
            (
                "combine: most-severe\nrules:\n  - id: base\n    action: block\n"
                "  - id: mine\n    destination: t.cn\n    action: allow\n",
            ),
            "allow is less severe than block",
        ),
        # more labels
        (
            (
                "rules:\n  - id: base\n    destination: a.t.cn\n    action: warn\n"
                "  - id: mine\n    destination: t.cn\n    action: block\n",
            ),
            "less specific: destination 't.cn' has fewer labels than destination 'a.t.cn'",
        ),
        # method/path
        (
            (
                "rules:\n  - id: base\n    method: POST\n    path: /x\n    action: warn\n"
                "  - id: mine\n    action: block\n",
            ),
            "less specific: no method or path vs method and path of base",
        ),
    ],
)
def test_why_rules_lose(tmp_path: Path, texts: tuple[str, ...], lost_reason: str) -> None:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"layer{index}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    exp = explain("jd.com", "a.t.cn", "CN_PHONE", policy_files=paths, method="POST", path="/x")
    assert exp.decision.rule.id == "base"
    assert [(o.rule.id, o.reason) for o in exp.lost] == [("mine", lost_reason)]


def test_explain_notes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "mode: simulate\nrules:\n  - id: only-bank\n    site: bank.com\n    action: block\n",
        encoding="utf-8",
    )
    exp = explain(None, "t.cn", "NEW_TYPE", policy_files=[path])
    assert exp.winner is None
    assert exp.decision.rule.id == "default_action"
    assert exp.notes == (
        'entity type NEW_TYPE is not known: only entities "*" rules can match it',
        "no rule matched: default_action of <builtin>:0 (default_action) decides",
        "mode is simulate: this decision would be recorded, not applied",
    )
    assert exp.party_reason == "unknown site: every destination counts as third party"
    assert [o.reason for o in exp.unmatched] == ["site 'bank.com' does not match site unknown"]
    text = render_explanation(exp)
    assert "verdict: warn by <builtin>:0 (default_action) [simulate]" in text
    assert "site: unknown" in text


def test_explain_with_callers_party_verdict() -> None:
    exp = explain_policy(
        Policy.load([BUNDLED_DEFAULT]), "jd.com", "jdstatic.com", "CN_PHONE", third_party=False
    )
    assert exp.first_party and exp.party_reason == "as the caller said"
    assert exp.decision.rule.id == "first-party-allow"
