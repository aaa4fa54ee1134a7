"""Tests for policies/model.py: severities, combining decisions, references and errors."""

from __future__ import annotations

import pickle

import pytest

from policies.model import (
    Action,
    Decision,
    FailureMode,
    PolicyError,
    RuleRef,
    combine_decisions,
)

REF_A = RuleRef("/etc/formshield/default.yaml", 14, "third-party-ids")
REF_B = RuleRef("user.yaml", 3, "mine")
REF_C = RuleRef("user.yaml", 9, "other")


def test_severity_order_is_block_ask_redact_warn_allow() -> None:
    ranked = sorted(Action, key=lambda a: a.severity, reverse=True)
    assert ranked == [Action.BLOCK, Action.ASK, Action.REDACT, Action.WARN, Action.ALLOW]


@pytest.mark.parametrize(
    "actions, expected_index",
    [
        # single decision
        ([Action.ALLOW], 0),
        # most severe wins wherever it is
        ([Action.ALLOW, Action.WARN, Action.BLOCK, Action.REDACT], 2),
        ([Action.REDACT, Action.ASK], 1),
        ([Action.ASK, Action.BLOCK], 1),
        # ties keep the first
        ([Action.REDACT, Action.REDACT, Action.WARN], 0),
        ([Action.WARN, Action.BLOCK, Action.BLOCK], 1),
    ],
)
def test_combine_decisions_most_severe_first_on_ties(
    actions: list[Action], expected_index: int
) -> None:
    refs = [RuleRef("f.yaml", i + 1, f"r{i}") for i in range(len(actions))]
    decisions = [Decision(a, r) for a, r in zip(actions, refs, strict=True)]
    assert combine_decisions(decisions) is decisions[expected_index]


def test_combine_decisions_accepts_any_iterable() -> None:
    decisions = (Decision(a, REF_B) for a in (Action.WARN, Action.REDACT))
    assert combine_decisions(decisions).action is Action.REDACT


def test_combine_decisions_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="at least one decision"):
        combine_decisions([])


@pytest.mark.parametrize(
    "ref, text",
    [
        (REF_A, "default.yaml:14 (third-party-ids)"),
        (RuleRef("<builtin>", 0, "default_action"), "<builtin>:0 (default_action)"),
    ],
)
def test_rule_ref_str(ref: RuleRef, text: str) -> None:
    assert str(ref) == text


@pytest.mark.parametrize(
    "decision, text",
    [
        (Decision(Action.BLOCK, REF_A), "block by default.yaml:14 (third-party-ids)"),
        (
            Decision(Action.ASK, REF_B, fallback=Action.BLOCK, timeout=30.0),
            "ask by user.yaml:3 (mine) (fallback block after 30s)",
        ),
        (Decision(Action.WARN, REF_C, simulate=True), "warn by user.yaml:9 (other) [simulate]"),
    ],
)
def test_decision_str(decision: Decision, text: str) -> None:
    assert str(decision) == text


def test_decision_defaults_fail_closed() -> None:
    assert Decision(Action.ALLOW, REF_B).failure_mode is FailureMode.CLOSED


@pytest.mark.parametrize(
    "path, line, reason, text",
    [
        (
            "policy.yaml",
            12,
            "unknown action 'blok' (expected one of allow, warn, redact, block, ask)",
            "policy.yaml:12: unknown action 'blok' "
            "(expected one of allow, warn, redact, block, ask)",
        ),
        ("missing.yaml", None, "policy file not found", "missing.yaml: policy file not found"),
    ],
)
def test_policy_error_reads_like_a_compiler_message(
    path: str, line: int | None, reason: str, text: str
) -> None:
    error = PolicyError(path, line, reason)
    assert str(error) == text
    assert (error.path, error.line, error.reason) == (path, line, reason)


def test_policy_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(PolicyError("p.yaml", 3, "bad")))
    assert (error.path, error.line, error.reason) == ("p.yaml", 3, "bad")
