"""Tests for policies/loader.py (and the YAML node reading of policies/yamlnodes.py).

Broken files: one fixture per kind of error under tests/fixtures/policies/, each asserting the
file, the line and the reason of the PolicyError.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.domains import PatternKind
from policies.entities import KNOWN_ENTITIES
from policies.loader import (
    BUNDLED_DEFAULT,
    DEFAULT_ASK_TIMEOUT,
    EXAMPLES_DIR,
    MAX_FILE_BYTES,
    PolicyFile,
    load_file,
    parse_text,
    validate_file,
)
from policies.model import Action, Combine, FailureMode, Mode, PolicyError, RuleRef

FIXTURES = Path(__file__).parent / "fixtures" / "policies"

ALL_ENTITIES = ", ".join(sorted(KNOWN_ENTITIES))


# (fixture, line, reason prefix): one row per error fixture.
BROKEN: list[tuple[str, int | None, str]] = [
    # actions and settings with a value outside their vocabulary
    (
        "bad_unknown_action.yaml",
        7,
        "unknown action 'blok' (expected one of allow, warn, redact, block, ask)",
    ),
    (
        "bad_fallback_ask.yaml",
        7,
        "unknown fallback action 'ask' (expected one of allow, warn, redact, block)",
    ),
    (
        "bad_failure_mode.yaml",
        3,
        "unknown failure mode 'fail-safe' (expected one of open, closed)",
    ),
    (
        "bad_combine.yaml",
        3,
        "unknown combine 'first-match' "
        "(expected one of most-specific-then-most-severe, most-severe)",
    ),
    ("bad_mode.yaml", 3, "unknown mode 'dry-run' (expected one of enforce, simulate)"),
    # unknown keys, with a hint
    ("bad_unknown_key.yaml", 6, "unknown key 'acton' in rule (expected one of id, "),
    ("bad_unknown_top_key.yaml", 3, "unknown key 'rule' in the policy file"),
    # wrong types and ranges
    ("bad_wrong_type.yaml", 7, "'min_score' must be a number, got string"),
    ("bad_score_range.yaml", 6, "'min_score' must be between 0 and 1, got 70"),
    (
        "bad_entities_type.yaml",
        6,
        "'entities' must be a string or a list of strings, got mapping",
    ),
    ("bad_top_level_list.yaml", 2, "the policy file must be a mapping, got list"),
    ("bad_timeout.yaml", 7, "'timeout' must be more than 0 and at most 3600 seconds"),
    ("bad_version.yaml", 2, "unsupported version (this formshield reads version 1)"),
    # entity types
    (
        "bad_unknown_entity.yaml",
        8,
        f"unknown entity type 'CN_IDCARD' (expected one of {ALL_ENTITIES} or '*')",
    ),
    # domain patterns
    (
        "bad_invalid_wildcard.yaml",
        5,
        "invalid wildcard 'cdn.*.example.com' "
        "('*' may only be the whole first label, as in '*.gov.cn')",
    ),
    ("bad_site_wildcard.yaml", 5, "no site can match '*.bank.com'"),
    (
        "bad_site_not_registrable.yaml",
        7,
        "site 'www.bank.com' is not a registrable domain "
        "(sites are registrable domains: write 'bank.com')",
    ),
    ("bad_party_site.yaml", 5, "'first-party' is only valid as a destination"),
    ("bad_trust.yaml", 5, "'trust' cannot be '*'"),
    # duplicates
    ("bad_duplicate_key.yaml", 7, "duplicate key 'action' (first defined at line 6)"),
    ("bad_duplicate_id.yaml", 7, "duplicate rule id 'ids' (first defined at line 4)"),
    # YAML syntax
    ("bad_yaml_syntax.yaml", 6, "YAML syntax error: expected ',' or ']', but got ':'"),
    ("bad_tab_indent.yaml", 5, "YAML syntax error: found character '\\t'"),
    # rule structure
    ("bad_missing_action.yaml", 4, "rule is missing required key 'action'"),
    ("bad_fallback_without_ask.yaml", 7, "'fallback' is only valid with action 'ask'"),
    ("bad_path_and_regex.yaml", 6, "use either 'path' (glob) or 'path_regex', not both"),
    ("bad_path_regex.yaml", 5, "invalid 'path_regex': missing ), unterminated subpattern"),
    ("bad_method.yaml", 5, "invalid HTTP method 'GET /'"),
    ("bad_message_placeholder.yaml", 6, "unknown placeholder '{value}' in 'message'"),
    # the file itself
    ("bad_not_utf8.yaml", 3, "policy file is not valid UTF-8"),
    ("bad_empty.yaml", None, "empty policy file (expected a mapping with 'rules')"),
]


@pytest.mark.parametrize("fixture, line, reason", BROKEN)
def test_broken_file_reports_file_line_and_reason(
    fixture: str, line: int | None, reason: str
) -> None:
    path = FIXTURES / fixture
    with pytest.raises(PolicyError) as info:
        load_file(path)
    error = info.value
    assert error.path == str(path)
    assert error.line == line
    assert error.reason.startswith(reason)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(error) == prefix + error.reason


def test_every_error_fixture_is_in_the_table() -> None:
    # A new fixture without a row in the table above would be dead weight.
    listed = {row[0] for row in BROKEN}
    on_disk = {p.name for p in FIXTURES.glob("bad_*.yaml")} - {"bad_many_errors.yaml"}
    assert on_disk == listed


def test_unknown_key_suggests_the_close_one() -> None:
    with pytest.raises(PolicyError, match="did you mean 'action'"):
        load_file(FIXTURES / "bad_unknown_key.yaml")


def test_validate_collects_every_error_in_line_order() -> None:
    policy_file, errors = validate_file(FIXTURES / "bad_many_errors.yaml")
    assert policy_file is None
    assert [(e.line, e.reason.split(" (")[0]) for e in errors] == [
        (3, "unknown mode 'dry-run'"),
        (6, "unknown action 'blok'"),
        (8, "unknown entity type 'CN_IDCARD'"),
    ]


def test_load_raises_the_first_error() -> None:
    with pytest.raises(PolicyError) as info:
        load_file(FIXTURES / "bad_many_errors.yaml")
    assert info.value.line == 3


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match="cannot read policy file") as info:
        load_file(path)
    assert info.value.line is None


def test_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(PolicyError, match="larger than"):
        load_file(path)


def _parse(text: str) -> tuple[object, list[PolicyError]]:
    return parse_text(text, "t.yaml")


def _load(text: str) -> PolicyFile:
    policy_file, errors = parse_text(text, "t.yaml")
    assert not errors, errors
    assert policy_file is not None
    return policy_file


@pytest.mark.parametrize(
    "text, line, reason",
    [
        # keys that are not strings
        ("rules:\n  - {1: x, id: a, action: block}\n", 2, "keys of rule must be strings"),
        ("sites:\n  ? [a]\n  : {trust: [b.com]}\n", 2, "keys of 'sites' must be strings"),
        # duplicate site entries and duplicate nested keys
        (
            "sites:\n  jd.com: {trust: [a.com]}\n  jd.com: {trust: [b.com]}\n",
            3,
            "duplicate key 'jd.com' (first defined at line 2)",
        ),
        ("sites:\n  jd.com:\n    trust: [a.com]\n    trust: [b.com]\n", 4, "duplicate key"),
        # scalars of the wrong kind
        ("rules:\n  - id: 12\n    action: block\n", 2, "rule 'id' must be a string, got integer"),
        ("rules:\n  - id: a\n    action: true\n", 3, "action must be a string, got boolean"),
        ("rules:\n  - id: a\n    action: block\n    min_score: yes\n", 4, "must be a number"),
        ("rules:\n  - id: a\n    action: block\n    site: []\n", 4, "must not be an empty list"),
        ("rules:\n  - id: a\n    action: ''\n", 3, "action must not be empty"),
        ("rules: {id: a}\n", 1, "'rules' must be a list, got mapping"),
        ("rules:\n  - block\n", 2, "each rule must be a mapping, got string"),
        ("rules:\n  - id: 'a b'\n    action: block\n", 2, "invalid rule id 'a b'"),
        ("version: '1'\n", 1, "version must be an integer, got string"),
        ("description: 3\n", 1, "'description' must be a string"),
        ("default_action: ask\n", 1, "unknown default action 'ask'"),
        # entities
        (
            "rules:\n  - id: a\n    action: block\n    entities: ['*', CN_PHONE]\n",
            4,
            "'*' must stand alone",
        ),
        ("rules:\n  - id: a\n    action: block\n    entities: cn_phone\n", 4, "unknown entity"),
        # method and path
        ("rules:\n  - id: a\n    action: block\n    method: '*'\n", 4, "omit 'method'"),
        ("rules:\n  - id: a\n    action: block\n    path: api/*\n", 4, "must start with '/'"),
        # message templates
        ("rules:\n  - id: a\n    action: block\n    message: 'x {'\n", 4, "invalid 'message'"),
        (
            "rules:\n  - id: a\n    action: block\n    message: '{entity!r}'\n",
            4,
            "unknown placeholder",
        ),
        # YAML features that policies do not use
        ("rules: !!python/object:os.system {}\n", 1, "'rules' must be a list"),
        ("a: 1\n---\nb: 2\n", 2, "YAML syntax error: but found another document"),
        (
            "rules:\n  - id: a\n    action: *missing\n",
            3,
            "YAML syntax error: found undefined alias",
        ),
        (
            "rules:\n  - <<: {id: a}\n    action: block\n",
            2,
            "YAML merge keys ('<<') are not supported",
        ),
    ],
)
def test_inline_errors(text: str, line: int, reason: str) -> None:
    _, errors = _parse(text)
    assert errors, "expected an error"
    assert errors[0].line == line
    assert reason in errors[0].reason


def test_minimal_rule_defaults() -> None:
    f = _load("rules:\n  - id: everything\n    action: warn\n")
    (rule,) = f.rules
    assert rule.ref == RuleRef("t.yaml", 2, "everything")
    assert [p.kind for p in rule.sites] == [PatternKind.ANY]
    assert [p.kind for p in rule.destinations] == [PatternKind.ANY]
    assert rule.entities is None
    assert rule.min_score == 0.0
    assert rule.methods is None
    assert rule.path is None
    assert rule.failure_mode is None
    assert (rule.fallback, rule.timeout, rule.message) == (None, None, None)
    assert (f.combine, f.mode, f.failure_mode, f.default_action) == (None, None, None, None)


def test_full_rule() -> None:
    f = _load(
        """\
version: 1
description: every field
combine: most-severe
mode: simulate
failure_mode: open
default_action: redact
sites:
  jd.com:
    trust: [jdpay.com, "*.jd-cdn.com"]
rules:
  - id: cards
    description: cards to gateways
    site: [jd.com, "*.com.cn"]
    destination: [alipay.com, third-party]
    entities: [CN_BANK_CARD, CREDIT_CARD]
    min_score: 0.5
    method: [post, PUT]
    path: "/pay/*"
    action: ask
    fallback: redact
    timeout: 12.5
    message: "{site} sends {entity} to {destination}: {action}?"
    failure_mode: closed
"""
    )
    assert f.description == "every field"
    assert f.combine is not None and f.combine.value is Combine.MOST_SEVERE
    assert f.combine.ref == RuleRef("t.yaml", 3, "combine")
    assert f.mode is not None and f.mode.value is Mode.SIMULATE
    assert f.failure_mode is not None and f.failure_mode.value is FailureMode.OPEN
    assert f.default_action is not None and f.default_action.value is Action.REDACT
    (trust,) = f.trust
    assert trust.site.name == "jd.com"
    assert [d.text for d in trust.destinations] == ["jdpay.com", "*.jd-cdn.com"]
    assert trust.ref == RuleRef("t.yaml", 8, "sites.jd.com")
    (rule,) = f.rules
    assert rule.ref == RuleRef("t.yaml", 11, "cards")
    assert [s.text for s in rule.sites] == ["jd.com", "*.com.cn"]
    assert [d.kind for d in rule.destinations] == [PatternKind.EXACT, PatternKind.PARTY]
    assert rule.entities == frozenset({"CN_BANK_CARD", "CREDIT_CARD"})
    assert rule.methods == frozenset({"POST", "PUT"})
    assert rule.path is not None and rule.path.fullmatch("/pay/card/1")
    assert rule.path_key == "path"
    assert (rule.action, rule.fallback, rule.timeout) == (Action.ASK, Action.REDACT, 12.5)
    assert rule.message_has_fields
    assert rule.failure_mode is FailureMode.CLOSED


def test_ask_defaults_to_block_after_the_default_timeout() -> None:
    (rule,) = _load("rules:\n  - id: a\n    action: ask\n").rules
    assert (rule.fallback, rule.timeout) == (Action.BLOCK, DEFAULT_ASK_TIMEOUT)


@pytest.mark.parametrize(
    "key, pattern, path, matches",
    [
        # globs: fullmatch, '*' crosses '/', case-sensitive
        ("path", "/api/*", "/api/v1/user", True),
        ("path", "/api/*", "/v2/api/x", False),
        ("path", "/api/*", "/API/x", False),
        ("path", "*/login", "/a/b/login", True),
        ("path", "/user/?", "/user/1", True),
        ("path", "/user/[0-9]", "/user/a", False),
        # regexes: fullmatch too (an unanchored pattern cannot match a longer path)
        ("path_regex", "/api/v[0-9]+/.*", "/api/v12/x", True),
        ("path_regex", "/api", "/api/x", False),
        ("path_regex", ".*/login", "/sso/login", True),
    ],
)
def test_path_matching(key: str, pattern: str, path: str, matches: bool) -> None:
    (rule,) = _load(f"rules:\n  - id: a\n    action: block\n    {key}: '{pattern}'\n").rules
    assert rule.path is not None
    assert (rule.path.fullmatch(path) is not None) is matches
    assert rule.path_key == key


def test_entities_star_is_any() -> None:
    (rule,) = _load("rules:\n  - id: a\n    action: block\n    entities: '*'\n").rules
    assert rule.entities is None


def test_yaml_anchors_are_followed() -> None:
    f = _load(
        "rules:\n"
        "  - id: a\n    destination: &t [a.com, b.com]\n    action: block\n"
        "  - id: b\n    destination: *t\n    action: warn\n"
    )
    assert [d.name for d in f.rules[1].destinations] == ["a.com", "b.com"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfrules:\n  - id: a\n    action: warn\n")
    assert load_file(path).rules[0].ref.line == 2


def test_errors_quote_no_more_than_the_file_holds() -> None:
    # Reasons are built from policy text only; an unknown key is quoted, not its value.
    _, errors = _parse("rules:\n  - id: a\n    action: block\n    phone: '13812345678'\n")
    assert "13812345678" not in str(errors[0])


@pytest.mark.parametrize(
    "path", [BUNDLED_DEFAULT, *sorted(EXAMPLES_DIR.glob("*.yaml"))], ids=lambda p: p.name
)
def test_shipped_policies_load(path: Path) -> None:
    policy_file = load_file(path)
    assert policy_file.rules
    assert all(rule.ref.file == str(path) for rule in policy_file.rules)


def test_rule_lines_point_at_the_rule() -> None:
    lines = BUNDLED_DEFAULT.read_text(encoding="utf-8").splitlines()
    for rule in load_file(BUNDLED_DEFAULT).rules:
        assert re.fullmatch(rf"\s*- id: {re.escape(rule.ref.id)}", lines[rule.ref.line - 1])
