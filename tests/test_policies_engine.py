"""Tests for policies/engine.py: precedence, layering, trust, failure modes, simulate, speed."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import Policy, why_not
from policies.entities import KNOWN_ENTITIES
from policies.loader import BUNDLED_DEFAULT, EXAMPLES_DIR, PolicyFile, load_file, parse_text
from policies.model import BUILTIN_FILE, Action, Decision, FailureMode, RuleRef

MakePolicy = Callable[..., Policy]


@pytest.fixture
def make_policy(tmp_path: Path) -> MakePolicy:
    """Write each text to layerN.yaml (in order) and load them as one stack."""

    def make(*texts: str) -> Policy:
        paths = []
        for index, text in enumerate(texts):
            path = tmp_path / f"layer{index}.yaml"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return Policy.load(paths)

    return make


PRECEDENCE = """\
rules:
  - id: any-any
    action: warn
  - id: third
    destination: third-party
    action: redact
  - id: third-ids
    destination: third-party
    entities: [CN_RESIDENT_ID]
    action: block
  - id: gov-wild
    site: "*.gov.cn"
    destination: third-party
    action: allow
  - id: gov-exact
    site: beijing.gov.cn
    action: ask
  - id: dest-exact
    destination: alipay.com
    entities: [CN_BANK_CARD]
    action: allow
  - id: dest-wild
    destination: "*.alipay.com"
    entities: [CN_BANK_CARD]
    action: warn
  - id: dest-deep
    destination: mapi.alipay.com
    entities: [CN_BANK_CARD]
    action: redact
  - id: post-only
    destination: third-party
    entities: [CN_PHONE]
    method: POST
    action: block
  - id: api-path
    destination: third-party
    entities: [CN_PHONE]
    path: "/api/*"
    action: warn
  - id: email-confident
    destination: third-party
    entities: [EMAIL_ADDRESS]
    min_score: 0.8
    action: block
  - id: email
    destination: third-party
    entities: [EMAIL_ADDRESS]
    action: redact
"""


@pytest.mark.parametrize(
    "site, destination, entity, score, method, path, action, rule_id",
    [
        # destination: first/third party beats any
        ("jd.com", "www.jd.com", "CN_PHONE", 1.0, "GET", "/", Action.WARN, "any-any"),
        ("jd.com", "t.cn", "CN_PASSPORT", 1.0, "GET", "/", Action.REDACT, "third"),
        # entity list beats *
        ("jd.com", "t.cn", "CN_RESIDENT_ID", 1.0, "GET", "/", Action.BLOCK, "third-ids"),
        # site first: explicit > wildcard > *, whatever the later dimensions say
        ("beijing.gov.cn", "t.cn", "CN_RESIDENT_ID", 1.0, "GET", "/", Action.ASK, "gov-exact"),
        ("shanghai.gov.cn", "t.cn", "CN_RESIDENT_ID", 1.0, "GET", "/", Action.ALLOW, "gov-wild"),
        ("www.beijing.gov.cn", "t.cn", "CN_PHONE", 1.0, "GET", "/", Action.ASK, "gov-exact"),
        # explicit destination > wildcard; more labels > fewer
        ("jd.com", "alipay.com", "CN_BANK_CARD", 1.0, "GET", "/", Action.ALLOW, "dest-exact"),
        ("jd.com", "x.alipay.com", "CN_BANK_CARD", 1.0, "GET", "/", Action.ALLOW, "dest-exact"),
        ("jd.com", "mapi.alipay.com", "CN_BANK_CARD", 1.0, "GET", "/", Action.REDACT, "dest-deep"),
        # method and path make a rule more specific; equal ones fall back to severity
        ("jd.com", "t.cn", "CN_PHONE", 1.0, "GET", "/", Action.REDACT, "third"),
        ("jd.com", "t.cn", "CN_PHONE", 1.0, "post", "/", Action.BLOCK, "post-only"),
        ("jd.com", "t.cn", "CN_PHONE", 1.0, "GET", "/api/x?q=1", Action.WARN, "api-path"),
        ("jd.com", "t.cn", "CN_PHONE", 1.0, "POST", "/api/x", Action.BLOCK, "post-only"),
        # min_score: equal specificity, the more severe wins only above the threshold
        ("jd.com", "t.cn", "EMAIL_ADDRESS", 0.8, "GET", "/", Action.BLOCK, "email-confident"),
        ("jd.com", "t.cn", "EMAIL_ADDRESS", 0.79, "GET", "/", Action.REDACT, "email"),
        # unknown site: only "*" site rules, destination third party
        (None, "jd.com", "CN_RESIDENT_ID", 1.0, "GET", "/", Action.BLOCK, "third-ids"),
        # an entity type the policy does not know only matches entities "*"
        ("jd.com", "t.cn", "NEW_THING", 1.0, "GET", "/", Action.REDACT, "third"),
    ],
)
def test_precedence(  # noqa: PLR0917 (one argument per table column)
    make_policy: MakePolicy,
    site: str | None,
    destination: str,
    entity: str,
    score: float,
    method: str,
    path: str,
    action: Action,
    rule_id: str,
) -> None:
    decision = make_policy(PRECEDENCE).decide(
        site, destination, entity, score, method=method, path=path
    )
    assert (decision.action, decision.rule.id) == (action, rule_id)


BASE = """\
failure_mode: closed
default_action: warn
rules:
  - id: base-phone
    destination: third-party
    entities: [CN_PHONE]
    action: redact
  - id: base-ids
    destination: third-party
    entities: [CN_RESIDENT_ID]
    action: block
"""


@pytest.mark.parametrize(
    "user, entity, action, rule_id",
    [
        # equal specificity: the later file wins, even with a milder action
        (
            "rules:\n  - id: mine\n    destination: third-party\n    entities: [CN_PHONE]\n"
            "    action: allow\n",
            "CN_PHONE",
            Action.ALLOW,
            "mine",
        ),
        # less specific (entities *): the earlier, more specific rule still wins
        (
            "rules:\n  - id: mine\n    destination: third-party\n    action: allow\n",
            "CN_RESIDENT_ID",
            Action.BLOCK,
            "base-ids",
        ),
        # more specific (explicit destination): the user rule wins
        (
            "rules:\n  - id: mine\n    destination: t.cn\n    action: allow\n",
            "CN_RESIDENT_ID",
            Action.ALLOW,
            "mine",
        ),
        # most-severe declared later: severity first, whatever the specificity
        (
            "combine: most-severe\n"
            "rules:\n  - id: mine\n    destination: t.cn\n    action: allow\n",
            "CN_RESIDENT_ID",
            Action.BLOCK,
            "base-ids",
        ),
    ],
)
def test_layering(
    make_policy: MakePolicy, user: str, entity: str, action: Action, rule_id: str
) -> None:
    decision = make_policy(BASE, user).decide("jd.com", "t.cn", entity, 1.0)
    assert (decision.action, decision.rule.id) == (action, rule_id)
    assert decision.rule.file.endswith("layer1.yaml" if rule_id == "mine" else "layer0.yaml")


def test_most_severe_ties_go_to_the_most_specific(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "combine: most-severe\nrules:\n"
        "  - id: wide\n    action: block\n"
        "  - id: narrow\n    destination: t.cn\n    action: block\n"
    )
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0).rule.id == "narrow"


def test_same_rule_written_first_wins_on_full_ties(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "rules:\n  - id: first\n    action: warn\n  - id: second\n    action: warn\n"
    )
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0).rule.id == "first"


def test_settings_come_from_the_last_file_that_sets_them(make_policy: MakePolicy) -> None:
    policy = make_policy(BASE, "mode: simulate\ndefault_action: allow\n", "rules: []\n")
    assert policy.simulate
    assert policy.mode.ref.file.endswith("layer1.yaml")
    assert policy.failure_mode.ref == RuleRef(policy.files[0].path, 1, "failure_mode")
    decision = policy.decide("jd.com", "t.cn", "EMAIL_ADDRESS", 1.0)
    assert (decision.action, decision.rule.id, decision.simulate) == (
        Action.ALLOW,
        "default_action",
        True,
    )
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0).simulate


def test_builtin_settings_when_no_file_sets_them(make_policy: MakePolicy) -> None:
    policy = make_policy("rules: []\n")
    decision = policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0)
    assert decision == Decision(
        Action.WARN, RuleRef(BUILTIN_FILE, 0, "default_action"), failure_mode=FailureMode.CLOSED
    )
    assert not policy.simulate


def test_failure_mode_is_inherited_from_the_rules_own_file(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "failure_mode: open\nrules:\n  - id: a\n    entities: [CN_PHONE]\n    action: warn\n",
        "rules:\n  - id: b\n    entities: [EMAIL_ADDRESS]\n    action: warn\n"
        "  - id: c\n    entities: [CN_BANK_CARD]\n    action: warn\n    failure_mode: open\n",
    )
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1).failure_mode is FailureMode.OPEN
    # layer1 sets no failure_mode: its rules get the built-in default, not layer0's
    assert policy.decide("jd.com", "t.cn", "EMAIL_ADDRESS", 1).failure_mode is FailureMode.CLOSED
    assert policy.decide("jd.com", "t.cn", "CN_BANK_CARD", 1).failure_mode is FailureMode.OPEN


TRUST = """\
sites:
  bank.com:
    trust: [bank-pay.com, "*.cdn.net"]
  "*.gov.cn":
    trust: ["*.gov.cn"]
  "*":
    trust: [everyone-trusts.cn]
rules:
  - id: first
    destination: first-party
    action: allow
  - id: third
    destination: third-party
    action: block
"""


@pytest.mark.parametrize(
    "site, destination, third_party, rule_id",
    [
        ("bank.com", "api.bank.com", None, "first"),
        ("www.bank.com", "bank-pay.com", None, "first"),  # site given as a host
        ("bank.com", "gw.bank-pay.com", None, "first"),
        ("bank.com", "img.cdn.net", None, "first"),
        ("bank.com", "cdn.net", None, "third"),  # a wildcard does not cover its own name
        ("jd.com", "bank-pay.com", None, "third"),  # trusted on bank.com only
        ("beijing.gov.cn", "gjzwfw.gov.cn", None, "first"),
        ("jd.com", "everyone-trusts.cn", None, "first"),
        (None, "everyone-trusts.cn", None, "first"),  # "*" trust covers unknown sites
        (None, "bank.com", False, "third"),  # unknown site: the caller's flag is ignored
        ("jd.com", "cdn.jdstatic.com", False, "first"),  # the caller's verdict is used
        ("jd.com", "www.jd.com", True, "third"),
    ],
)
def test_trust_and_parties(
    make_policy: MakePolicy,
    site: str | None,
    destination: str,
    third_party: bool | None,
    rule_id: str,
) -> None:
    decision = make_policy(TRUST).decide(
        site, destination, "CN_PHONE", 1.0, third_party=third_party
    )
    assert decision.rule.id == rule_id


def test_trust_is_reported_with_its_entry(make_policy: MakePolicy) -> None:
    ctx = make_policy(TRUST).context("bank.com", "bank-pay.com")
    assert ctx.first_party
    assert ctx.trusted_by is not None and ctx.trusted_by.id == "sites.bank.com"


def test_messages_are_filled_in(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "rules:\n  - id: m\n    action: block\n"
        "    message: '{action}: {site} sent {entity} to {destination} {{literal}}'\n"
        "  - id: plain\n    entities: [CN_PHONE]\n    action: warn\n    message: no fields\n"
    )
    decision = policy.decide("www.jd.com", "HM.Baidu.com.", "CN_RESIDENT_ID", 1.0)
    assert decision.message == "block: jd.com sent CN_RESIDENT_ID to hm.baidu.com {literal}"
    again = policy.decide("www.jd.com", "HM.Baidu.com.", "CN_RESIDENT_ID", 1.0)
    assert again is decision  # formatted once per context
    assert policy.decide(None, "t.cn", "EMAIL_ADDRESS", 1).message == (
        "block: an unknown site sent EMAIL_ADDRESS to t.cn {literal}"
    )
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1).message == "no fields"


def test_ask_carries_fallback_and_timeout(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "rules:\n  - id: q\n    action: ask\n    fallback: redact\n    timeout: 5\n"
        "  - id: q2\n    entities: [CN_PHONE]\n    action: ask\n"
    )
    decision = policy.decide("jd.com", "t.cn", "EMAIL_ADDRESS", 1.0)
    assert (decision.action, decision.fallback, decision.timeout) == (
        Action.ASK,
        Action.REDACT,
        5.0,
    )
    decision = policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0)
    assert (decision.fallback, decision.timeout) == (Action.BLOCK, 30.0)
    assert policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0).fallback is Action.BLOCK


INCOMPLETE = """\
failure_mode: open
rules:
  - id: first
    destination: first-party
    action: allow
  - id: third-ids
    destination: third-party
    entities: [CN_RESIDENT_ID]
    action: block
    failure_mode: closed
  - id: third-phone
    destination: third-party
    entities: [CN_PHONE]
    action: redact
  - id: uploads
    destination: third-party
    method: PUT
    path: "/upload/*"
    action: warn
  - id: bank
    site: bank.com
    action: block
    failure_mode: closed
"""


@pytest.mark.parametrize(
    "site, destination, method, path, action, mode, rule_id",
    [
        # first party: open
        ("jd.com", "img.jd.com", "POST", "/", Action.WARN, FailureMode.OPEN, "first"),
        # equally specific rules disagree: closed wins (entities are unknown)
        ("jd.com", "t.cn", "POST", "/", Action.BLOCK, FailureMode.CLOSED, "third-ids"),
        # a more specific request rule decides
        ("jd.com", "t.cn", "PUT", "/upload/a.jpg", Action.WARN, FailureMode.OPEN, "uploads"),
        # site beats everything
        ("bank.com", "bank.com", "PUT", "/", Action.BLOCK, FailureMode.CLOSED, "bank"),
    ],
)
def test_decide_incomplete(  # noqa: PLR0917 (one argument per table column)
    make_policy: MakePolicy,
    site: str,
    destination: str,
    method: str,
    path: str,
    action: Action,
    mode: FailureMode,
    rule_id: str,
) -> None:
    decision = make_policy(INCOMPLETE).decide_incomplete(
        site, destination, method=method, path=path, reason="too_large"
    )
    assert (decision.action, decision.failure_mode, decision.rule.id) == (action, mode, rule_id)
    assert decision.message is not None and "(too_large)" in decision.message


def test_decide_incomplete_without_rules_uses_the_stack_default(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "failure_mode: open\nrules:\n  - id: a\n    site: bank.com\n    action: block\n"
    )
    decision = policy.decide_incomplete("jd.com", "t.cn")
    assert (decision.action, decision.rule.id, decision.rule.line) == (
        Action.WARN,
        "failure_mode",
        1,
    )
    decision = make_policy("rules: []\n").decide_incomplete("jd.com", "t.cn")
    assert (decision.action, decision.rule.file) == (Action.BLOCK, BUILTIN_FILE)


def test_decide_incomplete_most_severe_prefers_closed(make_policy: MakePolicy) -> None:
    policy = make_policy(
        "combine: most-severe\nrules:\n"
        "  - id: wide\n    action: warn\n    failure_mode: closed\n"
        "  - id: narrow\n    destination: t.cn\n    action: allow\n    failure_mode: open\n"
    )
    assert policy.decide_incomplete("jd.com", "t.cn").rule.id == "wide"


@pytest.mark.parametrize(
    "site, destination, entity, score",
    [
        ("", "", "", 0.0),
        ("例子.中国", "例子.中国", "CN_PHONE", 1.0),
        ("a..b", "::1", "x" * 1000, -1.0),
        ("jd.com", "t.cn:99999", "CN_PHONE", math.inf),
        ("jd.com", "\udcff.com", "CN_PHONE", 0.5),  # a lone surrogate: no IDNA, no crash
    ],
)
def test_odd_inputs_never_raise(site: str, destination: str, entity: str, score: float) -> None:
    policy = Policy.load([BUNDLED_DEFAULT])
    assert isinstance(policy.decide(site, destination, entity, score), Decision)
    assert isinstance(policy.decide_incomplete(site, destination, path="?"), Decision)


def test_nan_score_counts_as_high() -> None:
    policy = Policy.load([BUNDLED_DEFAULT])
    assert policy.decide("jd.com", "t.cn", "CN_PASSPORT", math.nan).action is Action.BLOCK


def test_cache_is_bounded() -> None:
    policy = Policy.load([BUNDLED_DEFAULT])
    for i in range(5000):
        policy.decide("jd.com", f"h{i}.example", "CN_PHONE", 1.0)
    assert len(policy._cache) <= 4096


# -- properties ---------------------------------------------------------------------------------

SHIPPED = [BUNDLED_DEFAULT, *sorted(EXAMPLES_DIR.glob("*.yaml"))]
SHIPPED_FILES = [load_file(p) for p in SHIPPED]
SHIPPED_POLICY = Policy(SHIPPED_FILES)

_labels = st.sampled_from(["jd", "bank", "examplebank", "alipay", "beijing", "t", "pay", "x"])
_suffixes = st.sampled_from(["com", "cn", "gov.cn", "com.cn", "net"])
sites = st.builds(lambda a, b: f"{a}.{b}", _labels, _suffixes)
hosts = st.one_of(
    sites,
    st.builds(lambda sub, site: f"{sub}.{site}", _labels, sites),
    st.text(max_size=30),
)
entities = st.one_of(st.sampled_from(sorted(KNOWN_ENTITIES)), st.text(max_size=12))
scores = st.floats(min_value=0.0, max_value=1.0)
methods = st.sampled_from(["GET", "POST", "PUT", "post"])
paths = st.sampled_from(["/", "/ebank/transfer/1", "/api/x?y=1", "/upload/a"])
requests = st.tuples(
    st.one_of(st.none(), sites, hosts),
    hosts,
    entities,
    scores,
    methods,
    paths,
    st.sampled_from([None, True, False]),
)
FIXED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FIXED
@given(requests)
def test_decisions_are_deterministic_and_name_a_loaded_rule(
    request: tuple[str | None, str, str, float, str, str, bool | None],
) -> None:
    site, dest, entity, score, method, path, third = request
    first = SHIPPED_POLICY.decide(
        site, dest, entity, score, method=method, path=path, third_party=third
    )
    fresh = Policy(SHIPPED_FILES)  # no cache
    again = fresh.decide(site, dest, entity, score, method=method, path=path, third_party=third)
    assert first == again
    assert first.rule in SHIPPED_POLICY.refs()
    assert first.rule.file in {str(p) for p in SHIPPED}
    incomplete = SHIPPED_POLICY.decide_incomplete(site, dest, method=method, path=path)
    assert incomplete.rule.file in {str(p) for p in SHIPPED}
    assert incomplete.action is (
        Action.BLOCK if incomplete.failure_mode is FailureMode.CLOSED else Action.WARN
    )


@FIXED
@given(requests)
def test_fast_path_agrees_with_the_explaining_path(
    request: tuple[str | None, str, str, float, str, str, bool | None],
) -> None:
    site, dest, entity, score, method, path, third = request
    decision = SHIPPED_POLICY.decide(
        site, dest, entity, score, method=method, path=path, third_party=third
    )
    ctx = SHIPPED_POLICY.context(site, dest, third)
    first_match = next(
        (
            e
            for e in SHIPPED_POLICY.entries
            if why_not(e, ctx, entity, score, method=method, path=path) is None
        ),
        None,
    )
    expected = SHIPPED_POLICY.default_decision.rule if first_match is None else first_match.rule.ref
    assert decision.rule == expected


def _allow_file(site: str, destination: str) -> PolicyFile:
    text = (
        "rules:\n  - id: added\n"
        f"    site: '{site}'\n    destination: '{destination}'\n    action: allow\n"
    )
    policy_file, errors = parse_text(text, "added.yaml")
    assert not errors and policy_file is not None
    return policy_file


@FIXED
@given(
    sites,
    sites,
    st.lists(st.tuples(st.one_of(st.none(), hosts), hosts, entities, scores), max_size=8),
)
def test_a_specific_allow_never_changes_other_sites(
    site: str, destination: str, others: list[tuple[str | None, str, str, float]]
) -> None:
    extended = Policy([*SHIPPED_FILES, _allow_file(site, destination)])
    for other_site, other_dest, entity, score in others:
        if other_site is not None and extended.context(other_site, other_dest).site == site:
            continue
        assert extended.decide(other_site, other_dest, entity, score) == SHIPPED_POLICY.decide(
            other_site, other_dest, entity, score
        )
    # ...and on its own site and destination it decides
    assert extended.decide(site, destination, "CN_RESIDENT_ID", 1.0).rule.id == "added"
