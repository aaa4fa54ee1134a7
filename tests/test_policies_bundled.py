"""Decision tables for the shipped policies: the bundled default, and each example over it.

Each row is (site, destination, entity, score) -> (action, rule id); the rule's file is checked
too, so a row documents which file decides.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.engine import Policy
from policies.loader import BUNDLED_DEFAULT, EXAMPLES_DIR
from policies.model import Action, FailureMode

DEFAULT = Policy.load([BUNDLED_DEFAULT])
BANKING = Policy.load([BUNDLED_DEFAULT, EXAMPLES_DIR / "banking.yaml"])
SHOPPING = Policy.load([BUNDLED_DEFAULT, EXAMPLES_DIR / "shopping.yaml"])
GOVERNMENT = Policy.load([BUNDLED_DEFAULT, EXAMPLES_DIR / "government.yaml"])

Row = tuple[str | None, str, str, float, Action, str]


def _check(policy: Policy, row: Row, file: str) -> None:
    site, destination, entity, score, action, rule_id = row
    decision = policy.decide(site, destination, entity, score)
    assert (decision.action, decision.rule.id) == (action, rule_id)
    assert Path(decision.rule.file).name == file
    assert not decision.simulate


@pytest.mark.parametrize(
    "row",
    [
        # third parties: IDs and cards blocked
        ("jd.com", "hm.baidu.com", "CN_RESIDENT_ID", 1.0, Action.BLOCK, "third-party-ids"),
        ("jd.com", "hm.baidu.com", "CN_BANK_CARD", 0.6, Action.BLOCK, "third-party-ids"),
        ("jd.com", "hm.baidu.com", "CREDIT_CARD", 1.0, Action.BLOCK, "third-party-ids"),
        # third parties: contact data masked
        ("jd.com", "hm.baidu.com", "CN_PHONE", 1.0, Action.REDACT, "third-party-contact"),
        ("jd.com", "cnzz.com", "EMAIL_ADDRESS", 0.5, Action.REDACT, "third-party-contact"),
        # third parties: context-dependent IDs blocked when confident, masked otherwise
        ("jd.com", "t.cn", "CN_PASSPORT", 0.9, Action.BLOCK, "third-party-travel-ids"),
        ("jd.com", "t.cn", "HK_ID", 0.7, Action.BLOCK, "third-party-travel-ids"),
        ("jd.com", "t.cn", "TW_ID", 0.4, Action.REDACT, "third-party-travel-ids-weak"),
        (
            "jd.com",
            "t.cn",
            "CN_HK_MACAU_PERMIT",
            0.69,
            Action.REDACT,
            "third-party-travel-ids-weak",
        ),
        # third parties: entity types the file does not list
        ("jd.com", "t.cn", "CN_USCC", 1.0, Action.REDACT, "third-party-other"),
        # the page's own site: allowed, with a warning for IDs and cards
        ("jd.com", "passport.jd.com", "CN_PHONE", 1.0, Action.ALLOW, "first-party-allow"),
        ("jd.com", "jd.com", "EMAIL_ADDRESS", 1.0, Action.ALLOW, "first-party-allow"),
        ("www.jd.com", "api.jd.com", "CN_RESIDENT_ID", 1.0, Action.WARN, "first-party-ids-warn"),
        ("jd.com", "pay.jd.com", "CN_BANK_CARD", 1.0, Action.WARN, "first-party-ids-warn"),
        ("jd.com", "jd.com", "CN_PASSPORT", 0.3, Action.WARN, "first-party-ids-warn"),
        # unknown page: everything is third party
        (None, "jd.com", "CN_RESIDENT_ID", 1.0, Action.BLOCK, "third-party-ids"),
        (None, "jd.com", "CN_PHONE", 1.0, Action.REDACT, "third-party-contact"),
    ],
)
def test_default(row: Row) -> None:
    _check(DEFAULT, row, "default.yaml")


@pytest.mark.parametrize(
    "row, file",
    [
        # the bank and its trusted processors: silent
        (
            (
                "examplebank.cn",
                "ebank.examplebank.cn",
                "CN_RESIDENT_ID",
                1.0,
                Action.ALLOW,
                "bank-first-party",
            ),
            "banking.yaml",
        ),
        (
            (
                "examplebank.cn",
                "examplebank-pay.cn",
                "CN_BANK_CARD",
                1.0,
                Action.ALLOW,
                "bank-first-party",
            ),
            "banking.yaml",
        ),
        (
            (
                "examplebank.cn",
                "gateway.95516.com",
                "CN_BANK_CARD",
                1.0,
                Action.ALLOW,
                "bank-first-party",
            ),
            "banking.yaml",
        ),
        # everything else from the bank's pages: blocked, phone included
        (
            ("examplebank.cn", "hm.baidu.com", "CN_PHONE", 1.0, Action.BLOCK, "bank-third-party"),
            "banking.yaml",
        ),
        (
            ("examplebank.cn", "t.cn", "EMAIL_ADDRESS", 0.2, Action.BLOCK, "bank-third-party"),
            "banking.yaml",
        ),
        # the trust applies on the bank's site only
        (
            ("jd.com", "examplebank-pay.cn", "CN_BANK_CARD", 1.0, Action.BLOCK, "third-party-ids"),
            "default.yaml",
        ),
        (
            ("jd.com", "hm.baidu.com", "CN_PHONE", 1.0, Action.REDACT, "third-party-contact"),
            "default.yaml",
        ),
    ],
)
def test_banking(row: Row, file: str) -> None:
    _check(BANKING, row, file)


def test_banking_transfer_warning_needs_post_to_the_transfer_path() -> None:
    args = ("examplebank.cn", "ebank.examplebank.cn", "CN_BANK_CARD", 1.0)
    decision = BANKING.decide(*args, method="POST", path="/ebank/transfer/confirm?step=2")
    assert (decision.action, decision.rule.id) == (Action.WARN, "bank-transfer-payee")
    assert (
        BANKING.decide(*args, method="GET", path="/ebank/transfer/confirm").action is Action.ALLOW
    )
    assert BANKING.decide(*args, method="POST", path="/ebank/cards").action is Action.ALLOW


@pytest.mark.parametrize(
    "row, file",
    [
        # payment gateways get card data and the bound phone, from any shop
        (
            (
                "jd.com",
                "mapi.alipay.com",
                "CN_BANK_CARD",
                1.0,
                Action.ALLOW,
                "shop-card-gateways",
            ),
            "shopping.yaml",
        ),
        (
            (
                "smallshop.cn",
                "pay.tenpay.com",
                "CREDIT_CARD",
                1.0,
                Action.ALLOW,
                "card-to-payment-gateways",
            ),
            "shopping.yaml",
        ),
        (
            (
                "smallshop.cn",
                "tenpay.com",
                "CN_PHONE",
                1.0,
                Action.ALLOW,
                "card-to-payment-gateways",
            ),
            "shopping.yaml",
        ),
        # but not resident IDs
        (
            ("smallshop.cn", "tenpay.com", "CN_RESIDENT_ID", 1.0, Action.BLOCK, "third-party-ids"),
            "default.yaml",
        ),
        # trackers: contact data masked, everything else blocked
        (
            ("jd.com", "hm.baidu.com", "CN_PHONE", 1.0, Action.REDACT, "trackers-contact"),
            "shopping.yaml",
        ),
        (
            ("jd.com", "s.cnzz.com", "EMAIL_ADDRESS", 1.0, Action.REDACT, "trackers-contact"),
            "shopping.yaml",
        ),
        (
            (
                "jd.com",
                "hm.baidu.com",
                "CN_RESIDENT_ID",
                1.0,
                Action.BLOCK,
                "trackers-everything-else",
            ),
            "shopping.yaml",
        ),
        (
            (
                "jd.com",
                "hm.baidu.com",
                "CN_PASSPORT",
                0.1,
                Action.BLOCK,
                "trackers-everything-else",
            ),
            "shopping.yaml",
        ),
        # sister domains are first party on their shop
        (
            (
                "taobao.com",
                "cashier.alipay.com",
                "CN_BANK_CARD",
                1.0,
                Action.ALLOW,
                "shop-card-gateways",
            ),
            "shopping.yaml",
        ),
        (
            (
                "taobao.com",
                "buy.tmall.com",
                "CN_RESIDENT_ID",
                1.0,
                Action.WARN,
                "first-party-ids-warn",
            ),
            "default.yaml",
        ),
        (
            ("jd.com", "jdpay.com", "EMAIL_ADDRESS", 1.0, Action.ALLOW, "first-party-allow"),
            "default.yaml",
        ),
        (
            ("smallshop.cn", "jdpay.com", "CN_BANK_CARD", 1.0, Action.BLOCK, "third-party-ids"),
            "default.yaml",
        ),
        # a card number to another third party on a big shop: ask
        (
            (
                "jd.com",
                "pay.unknown-psp.cn",
                "CN_BANK_CARD",
                1.0,
                Action.ASK,
                "shop-card-elsewhere",
            ),
            "shopping.yaml",
        ),
    ],
)
def test_shopping(row: Row, file: str) -> None:
    _check(SHOPPING, row, file)


def test_shopping_site_rules_beat_tracker_rules() -> None:
    # The site is compared before the destination: on a named shop, shop-card-elsewhere (ask)
    # beats trackers-everything-else (block). Documented in shopping.yaml.
    row = ("jd.com", "hm.baidu.com", "CREDIT_CARD", 1.0, Action.ASK, "shop-card-elsewhere")
    _check(SHOPPING, row, "shopping.yaml")


def test_shopping_ask_falls_back_to_block() -> None:
    decision = SHOPPING.decide("tmall.com", "skimmer.example", "CREDIT_CARD", 1.0)
    assert (decision.action, decision.fallback, decision.timeout) == (
        Action.ASK,
        Action.BLOCK,
        30.0,
    )
    assert decision.message == "tmall.com is sending your CREDIT_CARD to skimmer.example. Allow it?"


@pytest.mark.parametrize(
    "row, file",
    [
        # IDs to government hosts: allowed silently, across *.gov.cn sites too
        (
            (
                "beijing.gov.cn",
                "zwfw.beijing.gov.cn",
                "CN_RESIDENT_ID",
                1.0,
                Action.ALLOW,
                "gov-first-party",
            ),
            "government.yaml",
        ),
        (
            (
                "beijing.gov.cn",
                "gjzwfw.gov.cn",
                "CN_RESIDENT_ID",
                1.0,
                Action.ALLOW,
                "gov-first-party",
            ),
            "government.yaml",
        ),
        (
            ("www.gov.cn", "www.gov.cn", "CN_PASSPORT", 1.0, Action.ALLOW, "gov-first-party"),
            "government.yaml",
        ),
        # anything to third parties: blocked
        (
            ("beijing.gov.cn", "hm.baidu.com", "CN_PHONE", 1.0, Action.BLOCK, "gov-third-party"),
            "government.yaml",
        ),
        (
            ("beijing.gov.cn", "t.cn", "EMAIL_ADDRESS", 0.3, Action.BLOCK, "gov-third-party"),
            "government.yaml",
        ),
        # gov hosts are not trusted from other sites
        (
            ("jd.com", "gjzwfw.gov.cn", "CN_RESIDENT_ID", 1.0, Action.BLOCK, "third-party-ids"),
            "default.yaml",
        ),
    ],
)
def test_government(row: Row, file: str) -> None:
    _check(GOVERNMENT, row, file)


@pytest.mark.parametrize(
    "policy, site, destination, mode, rule_id",
    [
        # default: open for the site itself, closed for third parties
        (DEFAULT, "jd.com", "upload.jd.com", FailureMode.OPEN, "first-party-allow"),
        (DEFAULT, "jd.com", "oss.aliyuncs.com", FailureMode.CLOSED, "third-party-ids"),
        (DEFAULT, None, "jd.com", FailureMode.CLOSED, "third-party-ids"),
        (BANKING, "examplebank.cn", "examplebank-pay.cn", FailureMode.OPEN, "bank-first-party"),
        (BANKING, "examplebank.cn", "t.cn", FailureMode.CLOSED, "bank-third-party"),
        (GOVERNMENT, "beijing.gov.cn", "gjzwfw.gov.cn", FailureMode.OPEN, "gov-first-party"),
        (GOVERNMENT, "beijing.gov.cn", "t.cn", FailureMode.CLOSED, "gov-third-party"),
    ],
)
def test_failure_modes(
    policy: Policy, site: str | None, destination: str, mode: FailureMode, rule_id: str
) -> None:
    decision = policy.decide_incomplete(site, destination, method="POST", reason="too_large")
    assert (decision.failure_mode, decision.rule.id) == (mode, rule_id)
    assert decision.action is (Action.BLOCK if mode is FailureMode.CLOSED else Action.WARN)


def test_all_examples_layer_together() -> None:
    everything = Policy.load([BUNDLED_DEFAULT, *sorted(EXAMPLES_DIR.glob("*.yaml"))])
    assert everything.decide("examplebank.cn", "hm.baidu.com", "CN_PHONE", 1).rule.id == (
        "bank-third-party"
    )
    assert everything.decide("beijing.gov.cn", "t.cn", "CN_PHONE", 1).rule.id == "gov-third-party"
    assert everything.decide("jd.com", "hm.baidu.com", "CN_PHONE", 1).rule.id == "trackers-contact"
