"""Tests for policies/user_policy.py: the user policy model, its YAML, and safe file updates."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.entities import KNOWN_ENTITIES
from policies.loader import BUNDLED_DEFAULT, parse_text
from policies.model import Action
from policies.store import PolicyStore
from policies.user_policy import (
    Reset,
    SetRule,
    Trust,
    Untrust,
    UserPolicy,
    UserPolicyError,
    UserPolicyFile,
    UserRule,
    allow_always,
    apply_change,
    from_policy_file,
    parse_change,
    render,
    rule_ids,
    site_key,
)

# --- parsing changes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"trust": "pay.example.com"}, Trust("pay.example.com")),
        ({"trust": "PAY.Example.COM."}, Trust("pay.example.com")),
        ({"trust": "*.cdn.example"}, Trust("*.cdn.example")),
        ({"trust": "例子.中国"}, Trust("xn--fsqu00a.xn--fiqs8s")),
        ({"untrust": "pay.example.com"}, Untrust("pay.example.com")),
        (
            {"entity": "CN_PHONE", "party": "third-party", "action": "allow"},
            SetRule("CN_PHONE", "third-party", Action.ALLOW),
        ),
        (
            {"entity": "*", "party": "first-party", "action": "ask"},
            SetRule("*", "first-party", Action.ASK),
        ),
        (
            {"entity": "CN_RESIDENT_ID", "party": "t.tracker.example", "action": "block"},
            SetRule("CN_RESIDENT_ID", "t.tracker.example", Action.BLOCK),
        ),
        (
            {"entity": "EMAIL_ADDRESS", "party": "third-party", "action": "inherit"},
            SetRule("EMAIL_ADDRESS", "third-party", None),
        ),
        ({"reset": True}, Reset()),
    ],
)
def test_parse_change_valid(data: object, expected: object) -> None:
    assert parse_change(data) == expected


@pytest.mark.parametrize(
    "data, reason",
    [
        ("trust", "must be a JSON object"),
        ({}, "got keys none"),
        ({"trust": "a.com", "untrust": "b.com"}, "got keys trust, untrust"),
        ({"trust": ""}, "'trust' must be a non-empty string"),
        ({"trust": 5}, "'trust' must be a non-empty string"),
        ({"trust": "*"}, "cannot trust '*'"),
        ({"trust": "first-party"}, "only valid as a destination"),
        ({"trust": "ex ample.com"}, "invalid domain"),
        ({"trust": "a.*.com"}, "invalid wildcard"),
        ({"trust": "x" * 400}, "too long"),
        ({"reset": False}, "'reset' must be true"),
        ({"reset": "yes"}, "'reset' must be true"),
        ({"entity": "PHONE", "party": "third-party", "action": "allow"}, "unknown entity type"),
        ({"entity": "CN_PHONE", "party": "*", "action": "allow"}, "not '*'"),
        ({"entity": "CN_PHONE", "party": "any", "action": "allow"}, "not '*'"),
        ({"entity": "CN_PHONE", "party": "third-party", "action": "blok"}, "unknown action"),
        ({"entity": "CN_PHONE", "party": "third-party"}, "got keys entity, party"),
        (
            {"entity": "CN_PHONE", "party": "third-party", "action": "allow", "x": 1},
            "got keys",
        ),
    ],
)
def test_parse_change_invalid(data: object, reason: str) -> None:
    with pytest.raises(UserPolicyError, match=reason):
        parse_change(data)


@pytest.mark.parametrize(
    "text, expected",
    [("shop.test", "shop.test"), ("JD.com", "jd.com"), ("bank.com.cn", "bank.com.cn")],
)
def test_site_key_valid(text: str, expected: str) -> None:
    assert site_key(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("www.jd.com", "not a registrable domain"),
        ("com.cn", "public suffix"),
        ("*", "is not a site"),
        ("*.gov.cn", "is not a site"),
        ("bad site", "invalid domain"),
    ],
)
def test_site_key_invalid(text: str, reason: str) -> None:
    with pytest.raises(UserPolicyError, match=reason):
        site_key(text)


# --- applying changes --------------------------------------------------------------------------


def test_changes_accumulate_and_replace_by_key() -> None:
    p = UserPolicy()
    p = apply_change(p, "shop.test", Trust("pay.example.com"))
    p = apply_change(p, "shop.test", Trust("a.example.com"))
    p = apply_change(p, "shop.test", Trust("pay.example.com"))  # idempotent
    assert p.trusted("shop.test") == ("a.example.com", "pay.example.com")
    p = apply_change(p, "shop.test", SetRule("CN_PHONE", "third-party", Action.ALLOW))
    p = apply_change(p, "shop.test", SetRule("CN_PHONE", "third-party", Action.BLOCK))
    p = apply_change(p, "other.test", SetRule("*", "third-party", Action.WARN))
    assert p.site_rules("shop.test") == [
        UserRule("shop.test", "CN_PHONE", "third-party", Action.BLOCK)
    ]
    assert p.sites() == ["other.test", "shop.test"]
    p = apply_change(p, "shop.test", SetRule("CN_PHONE", "third-party", None))
    assert p.site_rules("shop.test") == []
    p = apply_change(p, "shop.test", Untrust("a.example.com"))
    assert p.trusted("shop.test") == ("pay.example.com",)
    p = apply_change(p, "shop.test", Untrust("pay.example.com"))
    assert "shop.test" not in p.trust


def test_untrust_unknown_is_an_error() -> None:
    with pytest.raises(UserPolicyError, match=r"is not trusted on shop\.test"):
        apply_change(UserPolicy(), "shop.test", Untrust("pay.example.com"))


def test_reset_forgets_only_that_site() -> None:
    p = UserPolicy()
    for site in ("shop.test", "other.test"):
        p = apply_change(p, site, Trust("pay.example.com"))
        p = apply_change(p, site, SetRule("CN_PHONE", "third-party", Action.ALLOW))
    p = apply_change(p, "shop.test", Reset())
    assert p.sites() == ["other.test"]


def test_apply_change_does_not_mutate() -> None:
    p = apply_change(UserPolicy(), "shop.test", Trust("pay.example.com"))
    apply_change(p, "shop.test", Reset())
    assert p.trusted("shop.test") == ("pay.example.com",)


def test_allow_always_writes_one_rule_per_entity() -> None:
    p = allow_always(UserPolicy(), "shop.test", "c.tracker.example", ["CN_PHONE", "CN_PHONE"])
    assert list(p.rules.values()) == [
        UserRule("shop.test", "CN_PHONE", "c.tracker.example", Action.ALLOW)
    ]
    with pytest.raises(UserPolicyError, match="cannot be named"):
        allow_always(UserPolicy(), "shop.test", "t.example", ["NEW_ENTITY"])


# --- rendering and reading back -----------------------------------------------------------------


def _sample() -> UserPolicy:
    p = UserPolicy()
    p = apply_change(p, "shop.test", Trust("pay.example.com"))
    p = apply_change(p, "shop.test", Trust("*.cdn.example"))
    p = apply_change(p, "shop.test", SetRule("CN_PHONE", "third-party", Action.ALLOW))
    p = apply_change(p, "shop.test", SetRule("*", "*.tracker.example", Action.ASK))
    return apply_change(p, "bank.com.cn", SetRule("CN_BANK_CARD", "first-party", Action.BLOCK))


def test_render_is_a_valid_policy_file_and_reads_back(tmp_path: Path) -> None:
    text = render(_sample())
    assert text.startswith("# formshield user policy")
    policy_file, errors = parse_text(text, tmp_path / "user-policy.yaml")
    assert errors == []
    assert policy_file is not None
    assert from_policy_file(policy_file) == _sample()
    assert [r.ref.id for r in policy_file.rules] == [
        "user:bank.com.cn:CN_BANK_CARD:first-party",
        "user:shop.test:any:all.tracker.example",
        "user:shop.test:CN_PHONE:third-party",
    ]


def test_render_is_deterministic() -> None:
    assert render(_sample()) == render(_sample())


def test_rule_ids_are_unique_even_when_long() -> None:
    long_site = ("a" * 60) + ".com"
    p = UserPolicy()
    for party in (("b" * 60) + ".example.com", ("b" * 60) + ".example.org"):
        p = apply_change(p, long_site, SetRule("CN_PHONE", party, Action.BLOCK))
    ids = list(rule_ids(p).values())
    assert len(set(ids)) == 2
    assert all(len(i) <= 100 for i in ids)
    _, errors = parse_text(render(p), "u.yaml")
    assert errors == []


@pytest.mark.parametrize(
    "text, expected",
    [
        # lists are split into one rule per site x destination x entity
        (
            "rules:\n  - id: r\n    site: [a.com, b.com]\n    destination: third-party\n"
            "    entities: [CN_PHONE]\n    action: allow\n",
            {
                ("a.com", "CN_PHONE", "third-party"): Action.ALLOW,
                ("b.com", "CN_PHONE", "third-party"): Action.ALLOW,
            },
        ),
        # no entities means "*"; equal keys keep the most severe action, as the engine does
        (
            "rules:\n  - id: r1\n    site: a.com\n    destination: x.com\n    action: warn\n"
            "  - id: r2\n    site: a.com\n    destination: x.com\n    entities: '*'\n"
            "    action: block\n",
            {("a.com", "*", "x.com"): Action.BLOCK},
        ),
    ],
)
def test_hand_edits_in_the_shape_are_read(text: str, expected: dict[object, Action]) -> None:
    policy_file, errors = parse_text(text, "u.yaml")
    assert errors == [] and policy_file is not None
    got = from_policy_file(policy_file)
    assert {k: r.action for k, r in got.rules.items()} == expected


def test_ask_fallback_and_timeout_survive_a_round_trip() -> None:
    text = (
        "rules:\n  - id: r\n    site: a.com\n    destination: third-party\n"
        "    entities: [CN_PHONE]\n    action: ask\n    fallback: redact\n    timeout: 5\n"
    )
    policy_file, _ = parse_text(text, "u.yaml")
    assert policy_file is not None
    user = from_policy_file(policy_file)
    [rule] = user.rules.values()
    assert (rule.fallback, rule.timeout) == (Action.REDACT, 5.0)
    assert rule.as_dict()["fallback"] == "redact"
    again, _ = parse_text(render(user), "u.yaml")
    assert again is not None and from_policy_file(again) == user


@pytest.mark.parametrize(
    "text, reason",
    [
        ("mode: simulate\nrules: []\n", r"u.yaml:1: 'mode' cannot be kept"),
        ("default_action: block\n", r"u.yaml:1: 'default_action' cannot be kept"),
        (
            "rules:\n  - id: r\n    site: a.com\n    path: /x\n    action: block\n",
            r"u.yaml:2: rule 'r' uses path",
        ),
        (
            "rules:\n  - id: r\n    site: a.com\n    destination: third-party\n"
            "    message: hi\n    min_score: 0.8\n    action: block\n",
            r"rule 'r' uses min_score, message",
        ),
        (
            "rules:\n  - id: r\n    site: a.com\n    action: block\n",
            r"rule 'r' has destination 'any'",
        ),
    ],
)
def test_hand_edits_of_another_shape_are_refused(text: str, reason: str) -> None:
    policy_file, errors = parse_text(text, "u.yaml")
    assert errors == [] and policy_file is not None
    with pytest.raises(UserPolicyError, match=reason):
        from_policy_file(policy_file)


_domains = st.from_regex(r"[a-z]{1,8}\.(com|cn|example|com\.cn)", fullmatch=True)
_parties = st.one_of(
    st.sampled_from(["first-party", "third-party"]),
    _domains,
    _domains.map(lambda d: "*." + d),
)
_changes = st.one_of(
    st.builds(Trust, _domains),
    st.builds(
        SetRule,
        st.sampled_from([*sorted(KNOWN_ENTITIES), "*"]),
        _parties,
        st.sampled_from([*Action, None]),
    ),
    st.just(Reset()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["shop.test", "jd.com", "bank.com.cn"]), _changes)))
def test_any_sequence_of_changes_renders_valid_and_round_trips(
    steps: list[tuple[str, Trust | SetRule | Reset]],
) -> None:
    p = UserPolicy()
    for site, change in steps:
        p = apply_change(p, site, change)
    policy_file, errors = parse_text(render(p), "user-policy.yaml")
    assert errors == []
    assert policy_file is not None
    assert from_policy_file(policy_file) == p


# --- the file ----------------------------------------------------------------------------------


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert UserPolicyFile(tmp_path / "user-policy.yaml").read() == UserPolicy()


def test_apply_writes_atomically_with_private_mode(tmp_path: Path) -> None:
    f = UserPolicyFile(tmp_path / "user-policy.yaml")
    new = f.apply("shop.test", Trust("pay.example.com"))
    assert f.read() == new
    assert stat.S_IMODE(f.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["user-policy.yaml"]  # no temp file left


def test_bad_change_leaves_the_file_untouched(tmp_path: Path) -> None:
    f = UserPolicyFile(tmp_path / "user-policy.yaml")
    f.apply("shop.test", Trust("pay.example.com"))
    before = f.path.read_bytes()
    with pytest.raises(UserPolicyError):
        f.apply("shop.test", Untrust("never-trusted.example"))
    assert f.path.read_bytes() == before


def test_invalid_render_is_refused_before_writing(tmp_path: Path) -> None:
    f = UserPolicyFile(tmp_path / "user-policy.yaml")
    f.apply("shop.test", Trust("pay.example.com"))
    before = f.path.read_bytes()
    # A value built around parse_change (a site that is no site) fails the loader's validation.
    bad = UserPolicy(rules={("www.jd.com", "*", "third-party"): UserRule(
        "www.jd.com", "*", "third-party", Action.BLOCK)})  # fmt: skip
    with pytest.raises(UserPolicyError, match="not a registrable domain"):
        f.write(bad)
    assert f.path.read_bytes() == before


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"rules: [\n", "YAML syntax error"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"mode: simulate\n", "'mode' cannot be kept"),
    ],
)
def test_broken_file_is_reported_not_overwritten(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    f = UserPolicyFile(tmp_path / "user-policy.yaml")
    f.path.write_bytes(content)
    with pytest.raises(UserPolicyError, match=reason):
        f.apply("shop.test", Trust("pay.example.com"))
    assert f.path.read_bytes() == content


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "user-policy.yaml").mkdir()
    with pytest.raises(UserPolicyError, match="cannot read"):
        UserPolicyFile(tmp_path / "user-policy.yaml").read()


def test_user_file_layered_last_wins_over_the_default(tmp_path: Path) -> None:
    user = tmp_path / "user-policy.yaml"
    store = PolicyStore([BUNDLED_DEFAULT, user], optional=[user])
    before = store.policy.decide("shop.test", "tracker.example", "CN_PHONE", 1.0)
    assert before.action is Action.REDACT
    UserPolicyFile(user).apply("shop.test", SetRule("CN_PHONE", "third-party", Action.ALLOW))
    store.reload()
    after = store.policy.decide("shop.test", "tracker.example", "CN_PHONE", 1.0)
    assert after.action is Action.ALLOW
    assert after.rule.id == "user:shop.test:CN_PHONE:third-party"
    # trust makes the destination first party on that site only
    UserPolicyFile(user).apply("shop.test", Trust("tracker.example"))
    store.reload()
    id_on_shop = store.policy.decide("shop.test", "tracker.example", "CN_RESIDENT_ID", 1.0)
    id_elsewhere = store.policy.decide("jd.com", "tracker.example", "CN_RESIDENT_ID", 1.0)
    assert (id_on_shop.action, id_elsewhere.action) == (Action.WARN, Action.BLOCK)


def test_no_temp_file_left_when_the_directory_is_gone(tmp_path: Path) -> None:
    f = UserPolicyFile(tmp_path / "gone" / "user-policy.yaml")
    with pytest.raises(OSError):
        f.write(UserPolicy())
    assert not (tmp_path / "gone").exists()
    assert list(tmp_path.iterdir()) == []


def test_outranking_rules_round_trip_and_beat_method_path_rules(tmp_path: Path) -> None:
    other = tmp_path / "site.yaml"
    other.write_text(
        "rules:\n  - id: ask-profile\n    site: shop.test\n    destination: shop.test\n"
        "    entities: [CN_PHONE]\n    method: POST\n    path: /profile/*\n    action: ask\n"
    )
    user = tmp_path / "user-policy.yaml"
    store = PolicyStore([BUNDLED_DEFAULT, other, user], optional=[user])

    def decide() -> str:
        decision = store.policy.decide(
            "shop.test", "shop.test", "CN_PHONE", 1.0, method="POST", path="/profile/save"
        )
        return f"{decision.action} {decision.rule.id}"

    plain = allow_always(UserPolicy(), "shop.test", "shop.test", ["CN_PHONE"])
    UserPolicyFile(user).update(plain)
    store.reload()
    assert decide() == "ask ask-profile"  # a plain rule is less specific
    boosted = allow_always(UserPolicy(), "shop.test", "shop.test", ["CN_PHONE"], outrank=True)
    text = UserPolicyFile(user).write(boosted)
    assert "path: '*'" in text and "- TRACE" in text
    store.reload()
    assert decide() == "allow user:shop.test:CN_PHONE:shop.test"
    # ...and it still matches every request, like the plain rule did
    get = store.policy.decide("shop.test", "shop.test", "CN_PHONE", 1.0, method="GET", path="/x")
    assert get.action is Action.ALLOW
    assert UserPolicyFile(user).read() == boosted
    [rule] = boosted.rules.values()
    assert rule.as_dict()["outrank"] is True


def test_other_method_lists_are_still_refused() -> None:
    text = (
        "rules:\n  - id: r\n    site: a.com\n    destination: third-party\n"
        "    method: [GET, POST]\n    path: '*'\n    action: allow\n"
    )
    policy_file, errors = parse_text(text, "u.yaml")
    assert errors == [] and policy_file is not None
    with pytest.raises(UserPolicyError, match="uses method"):
        from_policy_file(policy_file)
