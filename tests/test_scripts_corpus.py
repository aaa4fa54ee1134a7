"""Tests for scripts/corpus.py: the labelled corpus must be deterministic, varied and truthful.

"Truthful" is checked with an independent oracle: every label's value must be recoverable from
the request's wire bytes by undoing containers and value layers with the standard library, and
every positive must satisfy its format's rule (check digits, phone metadata) while decoys don't.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import urllib.parse
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from scripts.corpus import (
    BODY_FORMATS,
    ENTITIES,
    Sample,
    generate,
    hkid_check,
    id_check_char,
    normalize,
    plausible_positive,
    same_family,
    to_fullwidth,
    twid_check,
)

CORPUS = generate(400, seed=11)


# ---- oracle: every string that can be read out of a request, decoded every way ----------------


def _container_strings(sample: Sample) -> list[str]:
    req = sample.request
    out = [urllib.parse.unquote(req.path)]
    out += [v for _, v in urllib.parse.parse_qsl(req.url.partition("?")[2])]
    body = req.get_content(strict=True) or b""
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        text = body.decode("ascii")
        for charset in ("utf-8", "gb18030"):
            try:
                out += [
                    v for _, v in urllib.parse.parse_qsl(text, encoding=charset, errors="strict")
                ]
                break
            except UnicodeDecodeError:
                continue
    elif ctype.startswith("multipart/"):
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        for part in msg.iter_parts():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)  # the generator writes leaf parts only
            out.append(payload.decode("utf-8"))
    else:
        out.append(body.decode("utf-8"))
    return out


def _decodings(text: str) -> list[str]:
    found = []
    if "%" in text:
        found.append(urllib.parse.unquote(text))
    if "&#" in text:
        found.append(html.unescape(text))
    if "\\u" in text:
        found.append(text.encode("latin-1", "backslashreplace").decode("unicode_escape"))
    if re.fullmatch(r"[A-Za-z0-9+/_-]{8,}={0,2}", text):
        padded = text + "=" * (-len(text) % 4)
        for dec in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(ValueError):
                found.append(dec(padded).decode("utf-8"))
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
        elif isinstance(node, str):
            found.append(node)
    if "=" in text and "&" in text:
        found += [v for _, v in urllib.parse.parse_qsl(text)]
    return found


def _readable(sample: Sample) -> str:
    seen: set[str] = set()
    frontier = _container_strings(sample)
    for _ in range(6):
        nxt = []
        for text in frontier:
            if text in seen:
                continue
            seen.add(text)
            nxt += _decodings(text)
        frontier = nxt
    return "\n".join(seen | set(frontier))


@pytest.mark.parametrize("sample", CORPUS[:150], ids=lambda s: f"s{s.index}")
def test_every_label_and_decoy_is_recoverable_from_the_wire(sample: Sample) -> None:
    readable = _readable(sample)
    for label in sample.labels:
        assert label.value in readable, (label.entity_type, label.location, label.encodings)
    for decoy in sample.decoys:
        assert decoy.value in readable, (decoy.kind, decoy.location)


# ---- determinism and variety ------------------------------------------------------------------


def test_same_seed_same_corpus_and_prefix_stable() -> None:
    a, b = generate(25, seed=3), generate(40, seed=3)[:25]
    for x, y in zip(a, b, strict=True):
        assert x.request.url == y.request.url
        assert x.request.raw_content == y.request.raw_content
        assert x.labels == y.labels
        assert x.decoys == y.decoys


def test_different_seeds_differ() -> None:
    assert [s.request.raw_content for s in generate(5, 1)] != [
        s.request.raw_content for s in generate(5, 2)
    ]


def test_corpus_covers_every_format_encoding_and_entity() -> None:
    formats = Counter(s.body_format for s in CORPUS)
    assert set(formats) == set(BODY_FORMATS)
    assert {s.content_encoding for s in CORPUS} == {None, "gzip", "br", "zstd"}
    entities = Counter(lb.entity_type for s in CORPUS for lb in s.labels)
    assert set(entities) == set(ENTITIES)
    layers = Counter(e for s in CORPUS for lb in s.labels for e in lb.encodings)
    for name in ("percent", "base64", "base64url", "html", "unicode_escape", "json", "label"):
        assert layers[name] > 0, name
    assert max(len(lb.encodings) for s in CORPUS for lb in s.labels) == 3
    assert any(lb.encodings[:2] == ("percent", "percent") for s in CORPUS for lb in s.labels)
    decoys = Counter(d.kind for s in CORPUS for d in s.decoys)
    assert len(decoys) == 19
    assert sum(1 for s in CORPUS if not s.labels) > 80  # negatives-only requests
    variants = {lb.variant for s in CORPUS for lb in s.labels}
    for v in ("legacy15", "luhn_invalid", "landline", "permit", "built-lower-x", "faker"):
        assert any(x.startswith(v) for x in variants), v


def test_gbk_forms_are_gbk_with_and_without_charset() -> None:
    for s in CORPUS:
        if not s.body_format.startswith("form-gbk"):
            continue
        ctype = s.request.headers["content-type"]
        assert ("charset" in ctype) == (s.body_format == "form-gbk")
        content = s.request.get_content()
        assert content is not None
        raw = urllib.parse.unquote_to_bytes(content.decode("ascii"))
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        raw.decode("gb18030")


def test_labels_are_unique_per_request() -> None:
    for s in CORPUS:
        keys = [(lb.entity_type, normalize(lb.entity_type, lb.value)) for lb in s.labels]
        assert len(keys) == len(set(keys))


# ---- truth of positives and negatives ---------------------------------------------------------

_CONTEXT_ONLY = {"CN_PASSPORT", "CN_HK_MACAU_PERMIT", "HK_ID", "TW_ID"}


def test_positives_satisfy_their_rules() -> None:
    for s in CORPUS:
        for lb in s.labels:
            key = normalize(lb.entity_type, lb.value)
            if lb.entity_type in _CONTEXT_ONLY or lb.variant.startswith(
                ("legacy15", "luhn_invalid")
            ):
                assert lb.context, (lb.entity_type, lb.variant, lb.location)
            if lb.entity_type == "CN_RESIDENT_ID" and len(key) == 18:
                assert id_check_char(key[:17]) == key[17]
            elif lb.entity_type == "CN_RESIDENT_ID":
                assert len(key) == 15 and lb.variant == "legacy15"
            elif lb.entity_type in ("CN_BANK_CARD", "CREDIT_CARD"):
                assert 15 <= len(key) <= 19
                assert luhn.is_valid(key) != lb.variant.startswith("luhn_invalid")
            elif lb.entity_type == "CN_PHONE":
                assert phonenumbers.is_valid_number(phonenumbers.parse("+86" + key))
                assert not key.startswith(("400", "800"))
            elif lb.entity_type == "EMAIL_ADDRESS":
                assert re.fullmatch(r"[^@\s]+@[a-z0-9.-]+\.[a-z]{2,}", key)
            elif lb.entity_type == "HK_ID":
                assert hkid_check(key[:-7], key[-7:-1]) == key[-1]
            elif lb.entity_type == "TW_ID":
                assert twid_check(key[0], key[1:9]) == key[9]


def test_decoys_are_not_positives() -> None:
    for s in CORPUS:
        for d in s.decoys:
            if d.kind == "glued_phone":
                assert re.fullmatch(r"[a-z]+1\d{10}[a-z]+", d.value)
            else:
                assert not plausible_positive(d.value), d.kind


# ---- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entity, a, b",
    [
        # phones: country prefix, trunk 0, separators, full width and extensions drop out
        ("CN_PHONE", "+86 138 1234 5678", "13812345678"),
        ("CN_PHONE", "0086-13812345678", "138-1234-5678"),
        ("CN_PHONE", "86-13812345678", "(+86)13812345678"),
        ("CN_PHONE", "１３８１２３４５６７８", "13812345678"),
        ("CN_PHONE", "+86-10-12345678", "(010)12345678"),
        ("CN_PHONE", "（0755）12345678", "0755-12345678"),
        ("CN_PHONE", "021-87654321转123", "021 87654321"),
        ("CN_PHONE", "0755-12345678分机8001", "075512345678"),
        # IDs and cards: separators, lower x, full width
        ("CN_RESIDENT_ID", "11010519491231002x", "11010519491231002X"),
        ("CN_RESIDENT_ID", to_fullwidth("11010519491231002X"), "11010519491231002X"),
        ("CN_RESIDENT_ID", "110105 19491231 002X", "11010519491231002X"),
        ("CN_BANK_CARD", "6222 0212 3456 7890 123", "6222021234567890123"),
        ("HK_ID", "A123456(3)", "A1234563"),
        ("EMAIL_ADDRESS", "Zhang.Wei@QQ.com", "zhang.wei@qq.com"),
    ],
)
def test_normalize_equal(entity: str, a: str, b: str) -> None:
    assert normalize(entity, a) == normalize(entity, b)


@pytest.mark.parametrize(
    "entity, a, b",
    [
        ("CN_PHONE", "13812345678", "13812345679"),
        ("CN_RESIDENT_ID", "11010519491231002X", "110105194912310021"),
        ("CN_PHONE", "8613812345678", "13812345678"),  # 13 bare digits: kept, not a phone key
    ],
)
def test_normalize_different(entity: str, a: str, b: str) -> None:
    if entity == "CN_PHONE" and a.startswith("86") and len(a) == 13:
        # Bare 86-prefixed runs are read as country code + mobile (how CRMs store them).
        assert normalize(entity, a) == normalize(entity, b)
    else:
        assert normalize(entity, a) != normalize(entity, b)


@pytest.mark.parametrize(
    "first17, check",
    [
        ("11010519491231002", "X"),  # GB 11643 annex
        ("36042619910101007", "1"),
        ("44011320141005001", "X"),
        ("41272319901005001", "2"),
        ("11010219910101007", "8"),
    ],
)
def test_id_check_char_reference_vectors(first17: str, check: str) -> None:
    assert id_check_char(first17) == check


@pytest.mark.parametrize(
    "prefix, digits, check",
    [
        ("A", "123456", "3"),  # the usual published example A123456(3)
        ("G", "123456", "A"),  # by hand: 36*9 + 16*8 + 77 = 529, 529 % 11 = 1 -> 10 -> A
        ("AB", "987654", "3"),  # by hand: 10*9 + 11*8 + 193 = 371, 371 % 11 = 8 -> 3
    ],
)
def test_hkid_check_vectors(prefix: str, digits: str, check: str) -> None:
    assert hkid_check(prefix, digits) == check


# A123456789 is the usual published example; the others were checked by hand (sum % 10 == 0).
@pytest.mark.parametrize("tw_id", ["A123456789", "F131232216", "B223456782"])
def test_twid_check_vectors(tw_id: str) -> None:
    assert twid_check(tw_id[0], tw_id[1:9]) == tw_id[9]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13812345678", True),
        ("8613812345678", True),
        ("a13812345678f", False),  # glued to letters
        ("1732812345678", False),  # ms timestamp
        ("6222021234567890128", luhn.is_valid("6222021234567890128")),
        ("11010519491231002X", True),
        ("110105194912310021", False),  # wrong check character
        ("4008208820", False),
        ("9787111547426", False),  # ISBN-13
        ("010-12345678", False),  # separated runs: each part alone is not a phone
    ],
)
def test_plausible_positive(text: str, expected: bool) -> None:
    assert plausible_positive(text) is expected


def _luhn_run(prefix: str, length: int) -> str:
    body = prefix + "3" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


@pytest.mark.parametrize(
    "prefix, length, expected",
    [
        ("57", 18, True),  # Maestro issues 12-19 digits
        ("36", 18, True),  # Diners 14-19
        ("622202", 19, True),  # UnionPay
        ("9558", 19, True),  # ICBC domestic
        ("41", 18, False),  # Visa is 13/16/19 digits, never 18
        ("2024", 18, False),  # order numbers: 2024 is below Mastercard's 2221
        ("17", 16, False),  # no network starts with 1
    ],
)
def test_plausible_positive_card_ranges(prefix: str, length: int, expected: bool) -> None:
    assert plausible_positive(_luhn_run(prefix, length)) is expected


def test_same_family() -> None:
    assert same_family("CN_BANK_CARD", "CREDIT_CARD")
    assert same_family("CREDIT_CARD", "CN_BANK_CARD")
    assert not same_family("CN_PHONE", "CN_RESIDENT_ID")
    assert same_family("HK_ID", "HK_ID")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_seed_builds_valid_requests(seed: int) -> None:
    for sample in generate(4, seed):
        assert sample.request.method in ("GET", "POST")
        assert sample.request.get_content(strict=True) is not None
        assert all(lb.entity_type in ENTITIES for lb in sample.labels)
        assert all(lb.value not in repr(lb) for lb in sample.labels)
