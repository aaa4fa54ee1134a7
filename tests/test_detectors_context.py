"""Context rules: whole ASCII words, CJK substrings, the window before a match, score boosts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from presidio_analyzer import RecognizerResult

from detectors.context import (
    CONTEXT_BOOST,
    CONTEXT_FLOOR,
    boosted,
    context_matches,
    field_name_words,
    index_of,
    keyword_before,
    keyword_index,
    words_of_labels,
)
from detectors.recognizers import (
    CnBankCardRecognizer,
    CnPassportRecognizer,
    CnPhoneRecognizer,
    CnResidentIdRecognizer,
    CreditCardRecognizer,
    apply_context,
)

PHONE = CnPhoneRecognizer()
ID = CnResidentIdRecognizer()
CARD = CnBankCardRecognizer()
PASSPORT = CnPassportRecognizer()
CREDIT = CreditCardRecognizer()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("idCardNo", ["id", "card", "no", "idcard", "cardno", "idcardno"]),
        ("id_card_no", ["id", "card", "no", "idcard", "cardno", "idcardno"]),
        ("IDCardNo", ["id", "card", "no", "idcard", "cardno", "idcardno"]),
        ("user.mobile-phone", ["user", "mobile", "phone", "usermobile", "mobilephone",
                               "usermobilephone"]),
        ("sfzh", ["sfzh"]),
        ("SJHM", ["sjhm"]),
        ("phone2", ["phone"]),
        ("身份证号", ["身份证号"]),
        ("用户身份证号_sfzh", ["用户身份证号", "sfzh"]),
        ("", []),
        ("___", []),
    ],
)  # fmt: skip
def test_field_name_words(name: str, expected: list[str]) -> None:
    assert field_name_words(name) == expected


@given(st.text(max_size=60))
def test_field_name_words_never_fails(name: str) -> None:
    words = field_name_words(name)
    assert all(word and word == word.lower() for word in words)


@pytest.mark.parametrize(
    "recognizer, name, expected",
    [
        (PHONE, "tel", True),
        (PHONE, "mobilePhone", True),
        (PHONE, "contact_tel", True),
        (PHONE, "sjhm", True),
        (PHONE, "lxdh", True),
        (PHONE, "联系电话", True),
        (PHONE, "请输入手机号码", True),
        (PHONE, "hotel", False),  # never a substring for ASCII
        (PHONE, "hotelName", False),
        (PHONE, "telemetry", False),
        (ID, "idCardNo", True),
        (ID, "id_card", True),
        (ID, "sfzh", True),
        (ID, "certNo", True),
        (ID, "身份证号码", True),
        (ID, "userId", False),
        (ID, "video", False),
        (CARD, "bankCardNo", True),
        (CARD, "yhkh", True),
        (CARD, "acctNo", True),
        (CARD, "银行卡号", True),
        (CARD, "discard", False),
        (PASSPORT, "passport_no", True),
        (PASSPORT, "护照号", True),
        (PASSPORT, "passportless", False),
    ],
)
def test_context_matches_field_names(recognizer: object, name: str, expected: bool) -> None:
    assert context_matches(recognizer, field_name_words(name)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "recognizer, text, expected",
    [
        (ID, "身份证号：110105194912310021", True),
        (ID, "公民身份号码 110105194912310021", True),
        (PHONE, "手机 13812345678", True),
        (PHONE, "Mobile phone: 13812345678", True),
        (PHONE, "tel:13812345678", True),
        (PHONE, "hotel 13812345678", False),
        (PHONE, "xxxxxxxxxxxxhotel 13812345678", False),  # the window edge cuts inside "hotel"
        (
            PHONE,
            "电话号码在很远很远的地方出现过，然后很多字以后 13812345678",
            False,
        ),  # outside window
        (PHONE, "13812345678", False),
        (CARD, "银行卡号6222021234567890128", True),
        (CARD, "bank card no. 6222021234567890128", True),
    ],
)
def test_keyword_before(recognizer: object, text: str, expected: bool) -> None:
    start = next(i for i, c in enumerate(text) if c.isdigit())
    assert keyword_before(text, start, recognizer) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "recognizer, text, expected",
    [
        # hex tokens (uuid, hash pieces) hold no words: "6a3cc868642c" is not "cc"
        (CREDIT, "note: ee213655-8851-46e4-af2d-6a3cc868642c\n备注：", False),
        (CREDIT, "6a3cc868642c ", False),
        (CREDIT, "0123456789abcdef" * 3 + "6a3cc868642c ", False),  # window edge in the token
        (CREDIT, "cc: ", True),
        (CREDIT, "cc2: ", False),  # hex-shaped: the price of the rule
        (PHONE, "tel2: ", True),
        (PHONE, "a1b2tel: ", True),
    ],
)
def test_keyword_before_ignores_hex_tokens(recognizer: object, text: str, expected: bool) -> None:
    number = "13812345678" if recognizer is PHONE else "350447501747892"
    assert keyword_before(text + number, len(text), recognizer) is expected  # type: ignore[arg-type]


def test_keyword_index_normalises() -> None:
    index = keyword_index(("Credit Card", "id_no", "身份证", " ", "tel"))
    assert index.ascii == frozenset({"creditcard", "idno", "tel"})
    assert index.cjk == ("身份证",)
    assert index.matches_words(["creditcard"]) and not index.matches_words(["credit"])


def test_words_of_labels() -> None:
    assert words_of_labels(["idNo", "", "身份证"]) == ["id", "no", "idno", "身份证"]


@pytest.mark.parametrize(
    "score, expected", [(0.3, 0.65), (0.0, 0.4), (0.05, 0.4), (0.6, 0.95), (0.9, 1.0)]
)
def test_boosted(score: float, expected: float) -> None:
    assert boosted(score) == pytest.approx(expected)
    assert (CONTEXT_BOOST, CONTEXT_FLOOR) == (0.35, 0.4)


def test_apply_context_copies_and_flags() -> None:
    text = "13800138000"
    raw = PHONE.analyze(text, None)
    assert [r.score for r in raw] == [0.3]
    with_words = apply_context(PHONE, text, raw, field_name_words("mobileNo"))
    assert [r.score for r in with_words] == [pytest.approx(0.65)]
    assert raw[0].score == 0.3  # the input is not modified
    assert (
        raw[0].recognition_metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY) is None
    )
    flag = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
    assert with_words[0].recognition_metadata[flag] is True
    # applying again never boosts twice
    assert [r.score for r in apply_context(PHONE, text, with_words, ["tel"])] == [
        pytest.approx(0.65)
    ]
    without = apply_context(PHONE, text, raw, field_name_words("hotelName"))
    assert [r.score for r in without] == [0.3]
    assert apply_context(PHONE, text, [], ["tel"]) == []


# The context words and field names listed in cn-pii.md, each a match for its recognizer.
CN_PII_WORDS = [
    (ID, "身份证 身份证号 身份证号码 公民身份号码 证件号 证件号码 居民身份证 身份證 "
         "sfz sfzh zjhm idcard idCardNo idno id_no certNo"),
    (CARD, "银行卡 银行卡号 卡号 银行账号 账号 开户行 储蓄卡 借记卡 信用卡 银联 "
           "yhk yhkh bankCard bankCardNo cardNo acctNo"),
    (PHONE, "手机 手机号 手机号码 电话 联系电话 联系方式 座机 sjh sjhm lxdh lxfs mobile phone tel "
            "mobilePhone"),
]  # fmt: skip


@pytest.mark.parametrize(
    "recognizer, name",
    [(recognizer, name) for recognizer, names in CN_PII_WORDS for name in names.split()],
)
def test_cn_pii_context_words(recognizer: object, name: str) -> None:
    assert context_matches(recognizer, field_name_words(name))  # type: ignore[arg-type]


_CONTEXT_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            ["身份证号：", "Mobile phone: ", "tel:", "hotel ", "ID_card no ", "bank-Card",
             "passportNo=", "护照", "x", " ", "-", "_", "1", "CreditCard"]
        ),
        st.text("abcdeilnoprstACDIMNPT_-: 0123", max_size=6),
    ),
    max_size=6,
).map("".join)  # fmt: skip


@given(_CONTEXT_TEXT, st.sampled_from([PHONE, ID, CARD, PASSPORT]))
def test_may_occur_in_is_implied_by_keyword_before(text: str, recognizer: object) -> None:
    # The scanner skips context-only recognizers when may_occur_in says no keyword can be there.
    text += "13812345678"
    if keyword_before(text, len(text) - 11, recognizer):  # type: ignore[arg-type]
        assert index_of(recognizer).may_occur_in(text)  # type: ignore[arg-type]
