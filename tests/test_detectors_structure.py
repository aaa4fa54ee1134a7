"""JSON walking, urlencoded pairs and structure inside values: locations, paths, round trips."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import structure
from detectors.model import Field, PathStep, ScanIssue
from detectors.structure import (
    FORM_IN_VALUE,
    JSON_IN_VALUE,
    KEY,
    MAX_WALK_DEPTH,
    URL_BASE,
    URL_QUERY,
    decode_pairs,
    decode_urlencoded,
    expand_value,
    json_fields,
    key_is_safe,
    key_label,
    safe_key_label,
    split_urlencoded,
    urlencoded_fields,
)

ID_NO = "11010519491231002X"
PHONE = "13800001111"


def rows(fields: list[Field]) -> list[tuple[str, str, tuple[PathStep, ...]]]:
    return [(f.location, f.value, f.path) for f in fields]


@pytest.mark.parametrize(
    "doc, expected",
    [
        (
            {"data": {"user": {"idNo": ID_NO}}},
            [("json.data.user.idNo", ID_NO, ("data", "user", "idNo"))],
        ),
        (
            {"items": [{"tel": PHONE}, {"tel": 13800001112}]},
            [
                ("json.items[0].tel", PHONE, ("items", 0, "tel")),
                ("json.items[1].tel", "13800001112", ("items", 1, "tel")),
            ],
        ),
        # booleans and nulls hold nothing; order is document order
        (
            {"a": True, "b": None, "c": "x", "d": [1.5, "y"]},
            [
                ("json.c", "x", ("c",)),
                ("json.d[0]", "1.5", ("d", 0)),
                ("json.d[1]", "y", ("d", 1)),
            ],
        ),
        # a top-level scalar
        ("just text", [("json", "just text", ())]),
        # a key that may hold data is emitted (path ends with KEY) and hidden in locations
        (
            {PHONE: {"n": "a"}},
            [
                ("json.<key>", PHONE, (PHONE, KEY)),
                ("json.<key>.n", "a", (PHONE, "n")),
            ],
        ),
        ({"": "e"}, [('json.""', "e", ("",))]),
        ({"身份证号": ID_NO}, [("json.身份证号", ID_NO, ("身份证号",))]),
    ],
)
def test_json_fields(doc: object, expected: list[tuple[str, str, tuple[PathStep, ...]]]) -> None:
    assert rows(list(json_fields(doc))) == expected


@pytest.mark.parametrize(
    "number",
    [0, -7, 13800001112, 2**70, 1.5, -0.0, 1e-7, 1e100, 0.1 + 0.2, float("inf"), float("nan")],
)
def test_json_number_leaves_are_written_as_json_writes_them(number: float) -> None:
    # In a dict, in a list and at the top level (each walked by its own branch).
    for doc in ({"n": number}, [number], number):
        (f,) = json_fields(doc)
        assert f.value == json.dumps(number)


def test_json_fields_names_labels_encodings() -> None:
    (f,) = json_fields(
        {"u": {"tel": PHONE}},
        "graphql",
        "graphql",
        ("variables",),
        labels=("L",),
        encodings=("gzip",),
    )
    assert (f.location, f.source, f.path, f.name, f.labels, f.encodings) == (
        "graphql.u.tel",
        "graphql",
        ("variables", "u", "tel"),
        "tel",
        ("L",),
        ("gzip",),
    )


def test_json_fields_list_items_keep_the_list_name() -> None:
    (f,) = json_fields({"phones": [PHONE]})
    assert f.name == "phones"


def test_json_depth_limit_reports_and_keeps_the_rest_as_text() -> None:
    doc: object = {"tel": PHONE}
    for _ in range(10):
        doc = {"a": doc}
    issues: list[ScanIssue] = []
    fields = list(json_fields(doc, max_depth=5, issues=issues))
    assert [i.kind for i in issues] == ["depth_limit"]
    assert PHONE not in issues[0].detail
    (f,) = fields
    assert PHONE in f.value and f.path == ("a",) * 5 and f.encodings == ("json_subtree",)


def test_json_fields_depth_is_capped_whatever_the_caller_asks() -> None:
    doc: object = PHONE
    for _ in range(500):
        doc = [doc]
    issues: list[ScanIssue] = []
    (f,) = json_fields(doc, max_depth=10_000, issues=issues)
    assert PHONE in f.value and len(f.path) == MAX_WALK_DEPTH
    assert [i.kind for i in issues] == ["depth_limit"]


def _walk_seconds(n: int) -> float:
    doc = {"items": [{"name": f"n{i}", "tel": PHONE, "id": i} for i in range(n)]}
    start = time.perf_counter()
    assert len(list(json_fields(doc))) == 3 * n
    return time.perf_counter() - start


def test_json_fields_time_grows_linearly() -> None:
    # Interleaved and the best of five: a load spike on a shared machine hits one run, not all.
    smalls, larges = [], []
    for _ in range(5):
        smalls.append(_walk_seconds(5_000))
        larges.append(_walk_seconds(40_000))
    small, large = min(smalls), min(larges)
    # 8x the leaves: linear is ~8x; quadratic would be ~64x. Generous for noisy machines.
    assert large < small * 20


@pytest.mark.parametrize(
    "key, safe, label",
    [
        ("idNo", True, "idNo"),
        ("手机号", True, "手机号"),
        ("field_2024", True, "field_2024"),
        (PHONE, False, "<key>"),
        ("a@b.cn", False, "<key>"),
        ("x" * 65, False, "<key>"),
        ("", True, '""'),
    ],
)
def test_key_safety(key: str, safe: bool, label: str) -> None:
    for _ in range(2):  # the second time from the cache of safe labels
        assert key_is_safe(key) is safe
        assert key_label(key) == label
        assert safe_key_label(key) == (label if safe else None)
    # A name that may hold personal data is never remembered.
    assert (key in structure._SAFE_LABELS) is safe


@given(st.text(max_size=70))
def test_safe_key_label_is_key_label_of_safe_keys(key: str) -> None:
    expected = (key or '""') if key_is_safe(key) else None
    assert safe_key_label(key) == expected
    assert safe_key_label(key) == expected  # cached or not, the same answer
    assert key_label(key) == (expected or "<key>")


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"a=1&b=2", [(b"a", b"1"), (b"b", b"2")]),
        (b"a=1&&b=x+y%2B", [(b"a", b"1"), (b"b", b"x y+")]),
        (b"flag&a=", [(b"flag", None), (b"a", b"")]),
        (b"n=%D5%C5", [(b"n", b"\xd5\xc5")]),
        (b"a=b=c", [(b"a", b"b=c")]),
        (b"", []),
        # raw non-ASCII bytes: written by hand, not by an encoder, so "+" is a plus
        (
            "agree=true；手机号：+86-10-45965473".encode(),
            [(b"agree", "true；手机号：+86-10-45965473".encode())],
        ),
        ("n=张+三%2B&x+y=1".encode(), [(b"n", "张+三+".encode()), (b"x+y", b"1")]),
    ],
)
def test_split_urlencoded(data: bytes, expected: list[tuple[bytes, bytes | None]]) -> None:
    assert split_urlencoded(data) == expected


def test_split_urlencoded_plus_rule_can_be_forced() -> None:
    data = "n=张+三".encode()
    assert split_urlencoded(data, plus_is_space=True) == [(b"n", "张 三".encode())]
    assert split_urlencoded(b"n=a+b", plus_is_space=False) == [(b"n", b"a+b")]


@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(st.sampled_from("ab=&%+2E5B张é "), max_size=30).map(str.encode),
        st.text(st.sampled_from("ab1=&"), max_size=30).map(str.encode),  # the ASCII shortcut
    )
)
def test_decode_urlencoded_is_decode_pairs_of_split_urlencoded(data: bytes) -> None:
    assert decode_urlencoded(data) == decode_pairs(split_urlencoded(data))


def test_form_in_value_written_by_hand_keeps_plus() -> None:
    (child, _) = expand_value(parent(f"tel=+86-{PHONE}&name=张三"))
    assert (child.location, child.value) == ("form.payload.tel", f"+86-{PHONE}")
    (child, _) = expand_value(parent(f"tel=%2B86+{PHONE}&name=x"))  # an encoder's output
    assert (child.location, child.value) == ("form.payload.tel", f"+86 {PHONE}")


@pytest.mark.parametrize(
    "raw, charset, expected_charset, expected_values, lossy",
    [
        # all UTF-8
        ([(b"n", "张三".encode())], None, "utf-8", ["张三"], False),
        # a genuine U+FFFD is text, not a decoding loss; a name without a value stays None
        ([(b"n", "a\ufffdb".encode()), (b"flag", None)], None, "utf-8", ["a\ufffdb", None], False),
        # GBK: decided once for all values, including ones that alone would be valid UTF-8
        (
            [(b"a", "张三".encode("gbk")), (b"b", b"\xc3\xa9")],
            None,
            "gb18030",
            ["张三", "茅"],
            False,
        ),
        # explicit charset wins
        ([(b"n", "张三".encode("gbk"))], "gb18030", "gb18030", ["张三"], False),
        # explicit UTF-8 on GBK bytes: lossy, replaced
        ([(b"n", b"\xd5\xc5\xff")], "utf-8", "utf-8", ["\ufffd\ufffd\ufffd"], True),
    ],
)
def test_decode_pairs(
    raw: list[tuple[bytes, bytes | None]],
    charset: str | None,
    expected_charset: str,
    expected_values: list[str],
    lossy: bool,
) -> None:
    decoded = decode_pairs(raw, charset)
    assert decoded.charset == expected_charset
    assert [v for _, v in decoded.pairs] == expected_values
    assert decoded.lossy is lossy


def test_urlencoded_fields_occurrences_keys_and_ncr() -> None:
    pairs: list[tuple[str, str | None]] = [
        ("tel", PHONE),
        ("tel", "x"),
        (PHONE, None),
        ("n", "&#8364;&#24352;"),
    ]
    fields = list(urlencoded_fields(pairs, "form", "form", encodings=("gb18030",), ncr=True))
    assert [(f.location, f.value, f.path, f.encodings) for f in fields] == [
        ("form.tel", PHONE, ("tel", 0), ("gb18030",)),
        ("form.tel[1]", "x", ("tel", 1), ("gb18030",)),
        ("form.<key>", PHONE, (PHONE, 0, KEY), ("gb18030",)),
        ("form.n", "€张", ("n", 0), ("gb18030", "ncr")),
    ]


# --- expand_value ------------------------------------------------------------------------------


def parent(value: str) -> Field:
    return Field("form.payload", value, "form", ("payload", 0), "payload", (), ("utf-8",))


@pytest.mark.parametrize(
    "value, expected",
    [
        (
            json.dumps({"user": {"idNo": ID_NO}}),
            [("form.payload.user.idNo", ID_NO, ("payload", 0, JSON_IN_VALUE, "user", "idNo"))],
        ),
        (
            f'  [{{"tel": "{PHONE}"}}]  ',
            [("form.payload[0].tel", PHONE, ("payload", 0, JSON_IN_VALUE, 0, "tel"))],
        ),
        (
            f"idNo={ID_NO}&name=%E5%BC%A0",
            [
                ("form.payload.idNo", ID_NO, ("payload", 0, FORM_IN_VALUE, "idNo", 0)),
                ("form.payload.name", "张", ("payload", 0, FORM_IN_VALUE, "name", 0)),
            ],
        ),
        (f"tel={PHONE}", [("form.payload.tel", PHONE, ("payload", 0, FORM_IN_VALUE, "tel", 0))]),
        (
            f"https://shop.example/u/1/?phone={PHONE}#top",
            [
                ("form.payload.url", "https://shop.example/u/1/", ("payload", 0, URL_BASE)),
                ("form.payload.query.phone", PHONE, ("payload", 0, URL_QUERY, "phone", 0)),
            ],
        ),
        # JSON containing a form containing JSON
        (
            json.dumps({"q": "d=" + quote(json.dumps({"tel": PHONE}))}),
            [
                (
                    "form.payload.q.d.tel",
                    PHONE,
                    ("payload", 0, JSON_IN_VALUE, "q", FORM_IN_VALUE, "d", 0, JSON_IN_VALUE, "tel"),
                )
            ],
        ),
    ],
)
def test_expand_value(value: str, expected: list[tuple[str, str, tuple[PathStep, ...]]]) -> None:
    assert rows(expand_value(parent(value))) == expected


@pytest.mark.parametrize(
    "value",
    [
        "plain text",
        PHONE,
        "YWJjZGVmZw==",  # base64 padding is not a form
        "a=",  # a single name without a value
        "x=1=2",
        "1+1=2 is math",
        "{not json}",
        "[1, 2",
        "{}",
        "[]",
        '"quoted"',
        "   ",
        "ab",
    ],
)
def test_expand_value_leaves_unstructured_values(value: str) -> None:
    assert expand_value(parent(value)) == []


def test_expand_value_children_carry_context_and_encodings() -> None:
    (child,) = expand_value(parent(json.dumps({"idNo": ID_NO})))
    assert child.name == "idNo"
    assert child.labels == ("payload",)
    assert child.encodings == ("utf-8", "json")
    assert child.source == "form"


def test_expand_value_depth_limit() -> None:
    value = json.dumps({"tel": PHONE})
    for _ in range(8):
        value = json.dumps({"inner": value})
    issues: list[ScanIssue] = []
    children = expand_value(parent(value), max_depth=3, issues=issues)
    assert [i.kind for i in issues] == ["depth_limit"]
    assert all(PHONE not in i.detail for i in issues)
    # The innermost layer reached is kept as text, so nothing is lost.
    (child,) = children
    assert PHONE in child.value


# --- round trips -------------------------------------------------------------------------------

_values = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(key_is_safe)


@given(st.dictionaries(_names, _values, min_size=1, max_size=5))
def test_json_round_trip(doc: dict[str, str]) -> None:
    fields = list(json_fields(json.loads(json.dumps(doc))))
    assert {f.path: f.value for f in fields} == {(k,): v for k, v in doc.items()}


@given(st.lists(st.tuples(_names, _values), min_size=1, max_size=5))
def test_urlencoded_round_trip(pairs: list[tuple[str, str]]) -> None:
    data = urlencode(pairs).encode()
    decoded = decode_pairs(split_urlencoded(data))
    fields = list(urlencoded_fields(decoded.pairs, "form", "form"))
    assert [(f.name, f.value) for f in fields] == pairs


@given(st.lists(st.tuples(_names, _values), min_size=2, max_size=5))
def test_form_inside_json_value_round_trip(pairs: list[tuple[str, str]]) -> None:
    value = urlencode(pairs)
    children = expand_value(parent(value))
    # Each child value is exactly the original value (grandchildren when a value is itself
    # structured are covered by the other tests).
    flat = [(c.path[3], c.value) for c in children if len(c.path) == 5]
    assert all(pair in pairs for pair in flat)
