"""The recognizers' gates (QUICK/FAMILY/SOLO checks, digit lengths) never hide a match.

A scanner skips a recognizer when its gates say a text cannot hold a match (or no match that
scores above WEAK_MAX_SCORE without context). These properties check that promise against the
recognizers themselves on texts made of real identifiers, their look-alikes and noise.
"""

from __future__ import annotations

import datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.recognizers import RECOGNIZER_CLASSES, CnPatternRecognizer
from detectors.rules.base import luhn_valid, to_halfwidth
from detectors.rules.cn_resident_id import calc_check_char

RECOGNIZERS: list[CnPatternRecognizer] = [cls() for cls in RECOGNIZER_CLASSES]
DIGITS = "0123456789"


def _luhn_complete(body: str) -> str:
    return next(body + d for d in DIGITS if luhn_valid(body + d))


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["110105", "440305", "622101", "810000", "912345", "123456"]))
    born = draw(st.dates(datetime.date(1900, 1, 1), datetime.date(2024, 12, 31)))
    body = prefix + born.strftime("%Y%m%d") + draw(st.text(DIGITS, min_size=3, max_size=3))
    if draw(st.booleans()):
        return body[:6] + born.strftime("%y%m%d") + body[-3:]  # legacy 15 digits
    return body + (calc_check_char(body) if draw(st.booleans()) else draw(st.sampled_from("0X")))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix = draw(
        st.sampled_from(
            ["622202", "621700", "9558", "601382", "4", "51", "2221", "34", "37", "6011", "65",
             "3528", "36", "30", "62", "81", "5"]
        )
    )  # fmt: skip
    length = draw(st.integers(12, 20))
    body = prefix + draw(st.text(DIGITS, min_size=length, max_size=length))
    body = body[: max(len(prefix), length - 1)]
    return _luhn_complete(body) if draw(st.booleans()) else body + "0"


@st.composite
def phones(draw: st.DrawFn) -> str:
    mobile = "1" + draw(st.sampled_from("3456789")) + draw(st.text(DIGITS, min_size=9, max_size=9))
    landline = draw(st.sampled_from(["010", "021", "0755", "0371", "0898"])) + draw(
        st.text(DIGITS, min_size=7, max_size=8)
    )
    number = draw(st.sampled_from([mobile, landline]))
    cc = draw(st.sampled_from(["", "", "86", "0086", "+86 ", "(+86)", "+86-"]))
    if cc and number.startswith("0"):
        number = number[1:]
    if draw(st.booleans()):
        cut = draw(st.integers(3, len(number) - 4))
        number = number[:cut] + draw(st.sampled_from([" ", "-", ") ", " - "])) + number[cut:]
    return cc + number


LETTER_IDS = st.sampled_from(
    ["E12345678", "EA1234567", "G12345678", "H1234567801", "M12345678", "A123456(3)",
     "AB9876543", "A1234563", "A123456789", "K123456(0)", "\u212a1234563", "e12345678"]
)  # fmt: skip
NOISE = st.text("0123456789 -()+@.xXA转０１EeHhG（）＠", max_size=8)
PIECES = st.one_of(
    resident_ids(), card_numbers(), phones(), LETTER_IDS, NOISE,
    st.sampled_from(["a@example.com", "身份证", "订单", "ab", "DD", "E2023", "2024-11-28 12:00"]),
)  # fmt: skip
TEXTS = st.lists(PIECES, min_size=1, max_size=4).map("".join)


def _results(recognizer: CnPatternRecognizer, text: str) -> list[tuple[int, int, float]]:
    """Matches of the recognizer's patterns, gates bypassed (``find`` on the half-width text)."""
    return [(s, e, score) for s, e, score, _ in recognizer.find(to_halfwidth(text))]


@settings(max_examples=600, deadline=None)
@given(TEXTS)
@example("身份证号：110105194912310021")
@example("(+86) (010) 1234 5678")
@example("tel:+86-10-12345678转123")
@example("A123456(3)")
def test_quick_family_and_solo_checks_never_hide_a_match(text: str) -> None:
    normal = to_halfwidth(text)
    for recognizer in RECOGNIZERS:
        cls = type(recognizer)
        results = _results(recognizer, text)
        if not results:
            continue
        assert cls.QUICK_CHECK is None or cls.QUICK_CHECK.search(normal), (cls.__name__, text)
        assert cls.FAMILY_CHECK is None or cls.FAMILY_CHECK.search(normal), (cls.__name__, text)
        strong = [r for r in results if r[2] > cls.WEAK_MAX_SCORE]
        if strong:
            assert cls.SOLO_CHECK is not None and cls.SOLO_CHECK.search(normal), (
                cls.__name__,
                text,
            )


DIGIT_TEXTS = st.one_of(
    resident_ids().filter(str.isdigit),
    card_numbers(),
    phones().filter(str.isdigit),
    st.text(DIGITS, min_size=1, max_size=22),
)


@settings(max_examples=600, deadline=None)
@given(DIGIT_TEXTS)
@example("13812345678")
@example("8613812345678")
@example("008613812345678")
@example("0086075512345678")
@example("01012345678")
@example("378282246310005")
@example("110105491231002")
def test_digit_gates_never_hide_a_match(text: str) -> None:
    for recognizer in RECOGNIZERS:
        cls = type(recognizer)
        results = _results(recognizer, text)
        if not results:
            continue
        assert cls.DIGIT_LENGTHS is not None and len(text) in cls.DIGIT_LENGTHS, cls.__name__
        assert cls.DIGITS_CHECK is None or cls.DIGITS_CHECK.fullmatch(text), cls.__name__
        if any(score > cls.WEAK_MAX_SCORE for _, _, score in results):
            assert cls.SOLO_DIGIT_LENGTHS is not None and len(text) in cls.SOLO_DIGIT_LENGTHS
            solo = cls.SOLO_DIGITS_CHECK
            assert solo is None or solo.fullmatch(text), cls.__name__


def test_every_recognizer_declares_its_gates() -> None:
    for recognizer in RECOGNIZERS:
        cls = type(recognizer)
        assert cls.QUICK_CHECK is not None, cls.__name__
        assert cls.DIGIT_LENGTHS is not None and cls.SOLO_DIGIT_LENGTHS is not None, cls.__name__
        assert cls.SOLO_DIGIT_LENGTHS <= cls.DIGIT_LENGTHS, cls.__name__
