"""Redactor / Unit: masking every visible copy of a value inside one decoded text.

Each case gives the text of one place (as the container parser decodes it), the values found
there, and the exact text after redaction; every result is re-read the way the scanner reads
values (:meth:`Redactor.exposed`) and must show none of the values.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from addon.redact_text import Redactor, Unit, make_target
from addon.redact_views import apply_edits
from detectors.masking import mask

ID_NO = "11010519491231002X"
PHONE = "13800001111"
EMAIL = "zhangsan@example.cn"
ID_MASK = mask("CN_RESIDENT_ID", ID_NO)
PHONE_MASK = mask("CN_PHONE", PHONE)
EMAIL_MASK = mask("EMAIL_ADDRESS", EMAIL)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unit(*values: str) -> Unit:
    u = Unit("form", ("x", 0), "form.x")
    masks = {ID_NO: ID_MASK, PHONE: PHONE_MASK, EMAIL: EMAIL_MASK}
    for v in values:
        u.add(v, masks[v])
    return u


@pytest.mark.parametrize(
    "text, values, expected",
    [
        (PHONE, [PHONE], PHONE_MASK),
        (f"tel:{PHONE};", [PHONE], f"tel:{PHONE_MASK};"),
        (f"{PHONE} and {PHONE}", [PHONE], f"{PHONE_MASK} and {PHONE_MASK}"),
        (f"{ID_NO}/{PHONE}", [ID_NO, PHONE], f"{ID_MASK}/{PHONE_MASK}"),
        # encodings of the whole value
        (b64(ID_NO), [ID_NO], b64(ID_MASK)),
        (quote(f"id {ID_NO}"), [ID_NO], quote(f"id {ID_MASK}", safe="*")),
        ("&#49;&#51;&#56;00001111", [PHONE], "&#49;&#51;&#56;****1111"),
        (
            "".join(f"\\u{ord(c):04x}" for c in PHONE),
            [PHONE],
            "".join(f"\\u{ord(c):04x}" for c in PHONE_MASK),
        ),
        # layered: percent of base64
        (
            quote(b64(f"phone {PHONE}"), safe=""),
            [PHONE],
            quote(b64(f"phone {PHONE_MASK}"), safe=""),
        ),
        # structure: JSON, a number becomes a string
        (
            json.dumps({"a": {"tel": int(PHONE)}, "b": [ID_NO]}),
            [PHONE, ID_NO],
            json.dumps({"a": {"tel": PHONE_MASK}, "b": [ID_MASK]}),
        ),
        # JSON holding base64 holding JSON
        (
            json.dumps({"blob": b64(json.dumps({"id": ID_NO}))}),
            [ID_NO],
            json.dumps({"blob": b64(json.dumps({"id": ID_MASK}))}),
        ),
        # urlencoded pairs and a URL with a query (the fragment is masked too)
        (
            f"a=1&tel={PHONE}&e={quote(EMAIL)}",
            [PHONE, EMAIL],
            f"a=1&tel={PHONE_MASK}&e=z*******%40example.cn",
        ),
        (
            f"https://x.example/u/{PHONE}?tel={PHONE}#{PHONE}",
            [PHONE],
            f"https://x.example/u/{PHONE_MASK}?tel={PHONE_MASK}#{PHONE_MASK}",
        ),
        # a literal and an encoded copy in the same text
        (f"{PHONE} &#49;&#51;&#56;00001111", [PHONE], f"{PHONE_MASK} &#49;&#51;&#56;****1111"),
    ],
)
def test_redacted_text(text: str, values: list[str], expected: str) -> None:
    u = unit(*values)
    new = apply_edits(text, u.redact(text))
    assert new == expected
    assert u.redacted() == set(values)
    assert Redactor(u.targets).exposed(new) == set()


def test_value_not_there_is_not_redacted() -> None:
    u = unit(PHONE)
    assert u.redact("nothing to see") == []
    assert u.redacted() == set()
    assert u.reached


def test_unreached_and_broken_units_redact_nothing() -> None:
    u = unit(PHONE)
    assert u.redacted() == set()
    u.redact(PHONE)
    assert u.redacted() == {PHONE}
    u.fail()
    assert u.redacted() == set()


def test_a_place_of_several_texts_needs_every_copy_masked() -> None:
    u = unit(PHONE)
    u.redact(f"x{PHONE}")
    u.redact("no copy here")  # found in one text is enough ...
    assert u.redacted() == {PHONE}
    r = Redactor(u.targets)
    u.record(r, f"still {PHONE}")  # ... but a copy left anywhere fails it
    assert u.redacted() == set()


def test_same_value_twice_keeps_the_stronger_mask() -> None:
    u = Unit("form", ("x", 0), "form.x")
    u.add(PHONE, "1380000****")
    u.add(PHONE, PHONE_MASK)
    u.add(PHONE, "13800001***")
    assert [t.masked for t in u.targets] == ["1380000****"]
    assert len(u.targets) == 1


@pytest.mark.parametrize(
    "value, masked, expected",
    [
        (PHONE, PHONE_MASK, (3, 7, "****")),
        ("a@x.cn", "a*@x.cn", (1, 1, "*")),
        ("12345", "*****", (0, 5, "*****")),
    ],
)
def test_make_target_rewrites_only_what_differs(
    value: str, masked: str, expected: tuple[int, int, str]
) -> None:
    t = make_target(value, masked)
    assert (t.start, t.end, t.replacement) == expected
    assert value[: t.start] + t.replacement + value[t.end :] == masked
    assert value not in repr(t)


def test_exposed_reads_like_the_scanner() -> None:
    r = Redactor([make_target(PHONE, PHONE_MASK)])
    assert r.exposed(b64(json.dumps({"a": f"x={PHONE}"}))) == {PHONE}
    assert r.exposed(quote(quote(f"&#{ord('1')};3800001111"))) == {PHONE}
    assert r.exposed(json.dumps({"a": "\\u0031\\u0033800001111"})) == {PHONE}
    assert r.exposed(f"nothing {PHONE_MASK}") == set()


def test_longest_value_first() -> None:
    card = "6222021234567890128"
    inner = card[4:15]  # a phone-shaped run inside the card
    u = Unit("form", ("x", 0), "form.x")
    u.add(inner, "*" * len(inner))
    u.add(card, mask("CN_BANK_CARD", card))
    new = apply_edits(card, u.redact(card))
    assert new == mask("CN_BANK_CARD", card)
    assert u.redacted() == {card, inner}
