"""EMAIL_ADDRESS: Presidio's EmailRecognizer, made to work next to CJK text."""

from __future__ import annotations

import pytest
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from detectors.recognizers import EmailAddressRecognizer
from detectors.rules.email_address import has_public_suffix

RECOGNIZER = EmailAddressRecognizer()


def found(text: str) -> list[tuple[str, float]]:
    """(matched text, score) pairs."""
    return sorted((text[r.start : r.end], r.score) for r in RECOGNIZER.analyze(text, None))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("zhang.san@example.com", [("zhang.san@example.com", 1.0)]),
        ("邮箱abc@example.com结束", [("abc@example.com", 1.0)]),
        ("邮箱：user+tag@mail.example.com.cn。", [("user+tag@mail.example.com.cn", 1.0)]),
        ("<a@example.org>", [("a@example.org", 1.0)]),
        ("user@example.com.", [("user@example.com", 1.0)]),
        ("x@xn--fiqs8s.cn", [("x@xn--fiqs8s.cn", 1.0)]),
        ("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", [("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", 1.0)]),
        ("a@example.com;b@example.net", [("a@example.com", 1.0), ("b@example.net", 1.0)]),
        ("user_name@sub-domain.example.co.uk", [("user_name@sub-domain.example.co.uk", 1.0)]),
    ],
)
def test_valid(text: str, expected: list[tuple[str, float]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a@b.local",  # no public suffix
        "foo@bar",
        "@example.com",
        "user@",
        "a.@example.com",
        "user@-example.com",
        "no at sign",
        "",
    ],
)
def test_invalid(text: str) -> None:
    assert found(text) == []


def test_is_a_presidio_email_recognizer() -> None:
    assert isinstance(RECOGNIZER, EmailRecognizer)
    assert RECOGNIZER.supported_entities == ["EMAIL_ADDRESS"]
    # Presidio's own pattern swallows the neighbouring Chinese text; ours does not.
    presidio = EmailRecognizer().analyze("邮箱abc@example.com结束", ["EMAIL_ADDRESS"])
    assert [("邮箱abc@example.com结束"[r.start : r.end]) for r in presidio] != ["abc@example.com"]


def test_public_suffix_offline() -> None:
    assert has_public_suffix("example.com.cn") and not has_public_suffix("localhost")


@pytest.mark.parametrize("masked", ["z****@example.com", "a*@example.com", "ab**c@example.com"])
def test_masked_addresses_are_not_found(masked: str) -> None:
    assert found(masked) == []
