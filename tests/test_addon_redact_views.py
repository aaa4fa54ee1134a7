"""Views of encoded text: decoding matches the scanner's decoders, edits go back in style.

Property: for any text, encoded with any mix of escaped and literal characters, and any edits
of the decoded text, decoding the edited raw text gives the edited decoded text.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.redact_views import (
    Edit,
    View,
    ViewError,
    apply_edits,
    base64_view,
    diff_edit,
    html_view,
    identity_view,
    json_string_view,
    merge_edits,
    percent_view,
    unicode_escape_view,
)
from detectors.decoders import (
    decode_base64,
    decode_html_entities,
    decode_percent,
    decode_unicode_escapes,
    percent_decode_bytes,
)


def redo(view: View, edits: list[Edit]) -> str:
    return apply_edits(view.raw, view.map_edits(edits))


# --- tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, plus, edits, expected",
    [
        # escaped digits stay escaped, literal ones literal
        ("%31%33%38%30", False, [(1, 3, "**")], "%31%2A%2A%30"),
        ("1%33%3880", False, [(0, 4, "****")], "****0"),
        ("%31%33%38%30", False, [(1, 3, "**")], "%31%2A%2A%30"),
        # lower-case hex is kept
        ("%31%33%38%30", False, [(1, 2, "*")], "%31%2A%38%30"),
        ("%e5%bc%a0%31", False, [(1, 2, "*")], "%e5%bc%a0%2a"),
        # a multi-byte character is rewritten whole
        ("%E5%BC%A0x", False, [(0, 1, "*")], "%2Ax"),
        # "+" is a space in forms; a replaced space is literal
        ("a+b", True, [(1, 2, "*")], "a*b"),
        # insertion after an escape takes the escaped style
        ("a%40b", False, [(2, 2, "*")], "a%40%2Ab"),
        ("ab%40", False, [(1, 1, "*")], "a*b%40"),
        # characters that are not safe are escaped even in literal style
        ("abc", False, [(1, 2, "&")], "a%26c"),
        ("abc", True, [(1, 2, " ")], "a+c"),
    ],
)
def test_percent_edits(raw: str, plus: bool, edits: list[Edit], expected: str) -> None:
    view = percent_view(raw, "utf-8", plus=plus, latin1=False)
    assert redo(view, edits) == expected


def test_percent_view_of_bytes_in_gbk() -> None:
    raw = "张三".encode("gbk").decode("latin-1") + "13800001111"
    view = percent_view(raw, "gb18030", plus=True, latin1=True)
    assert view.decoded == "张三13800001111"
    new = redo(view, [(5, 9, "****")])
    assert new.encode("latin-1") == "张三138****1111".encode("gbk")


def test_percent_view_keeps_undecodable_bytes() -> None:
    raw = "%FF%FE1380"
    view = percent_view(raw, "utf-8", plus=False, latin1=False)
    assert view.decoded.endswith("1380")
    assert redo(view, [(3, 5, "**")]) == "%FF%FE1**0"


@pytest.mark.parametrize(
    "raw, edits, expected",
    [
        ("&#49;&#51;8", [(1, 3, "**")], "&#49;**"),
        ("&#49;&#51;&#56;", [(1, 2, "*")], "&#49;&#42;&#56;"),
        ("&#x31;&#x33;", [(0, 1, "*")], "&#x2a;&#x33;"),
        ("&#x31;&#x3a;", [(0, 1, "*")], "&#x2a;&#x3a;"),
        ("&#X31;&#X3A;", [(0, 1, "*")], "&#x2A;&#X3A;"),
        ("a&amp;b", [(0, 1, "*")], "*&amp;b"),
        ("a&unknown;b", [(1, 2, "*")], "a*unknown;b"),
    ],
)
def test_html_edits(raw: str, edits: list[Edit], expected: str) -> None:
    assert redo(html_view(raw), edits) == expected


@pytest.mark.parametrize(
    "raw, edits, expected",
    [
        ("\\u0031\\u0033", [(1, 2, "*")], "\\u0031\\u002a"),
        ("\\u0031\\u003A", [(0, 1, "*")], "\\u002A\\u003A"),
        ("\\x31\\x33", [(0, 1, "*")], "\\x2a\\x33"),
        ("\\xe5\\xbc\\xa0\\x31", [(0, 1, "*")], "\\x2a\\x31"),
        ("\\ud83d\\ude00x", [(0, 1, "*")], "\\u002ax"),
        ("\\U0001F600x", [(1, 2, "*")], "\\U0001F600*"),
        ("\\U0001f600", [(0, 1, "*")], "\\U0000002a"),
        ("ab\\u0031", [(2, 2, "*")], "ab*\\u0031"),
        ("\\u0031\\u0032", [(1, 1, "*")], "\\u0031\\u002a\\u0032"),
    ],
)
def test_unicode_escape_edits(raw: str, edits: list[Edit], expected: str) -> None:
    assert redo(unicode_escape_view(raw), edits) == expected


@pytest.mark.parametrize(
    "raw, edits, expected",
    [
        ("138", [(1, 2, "*")], "1*8"),
        ('a\\"b', [(0, 1, "*")], '*\\"b'),
        ('a\\"b', [(1, 2, "*")], "a\\u002ab"),
        ("\\u0031\\u0033", [(0, 1, '"')], "\\u0022\\u0033"),
        ("ab", [(0, 1, '"')], '\\"b'),
        ("ab", [(0, 1, "\n")], "\\nb"),
        ("\\ud83d\\ude00 1", [(2, 3, "*")], "\\ud83d\\ude00 *"),
    ],
)
def test_json_string_edits(raw: str, edits: list[Edit], expected: str) -> None:
    view = json_string_view(raw)
    new = redo(view, edits)
    assert new == expected
    assert json.loads(f'"{new}"') == apply_edits(json.loads(f'"{raw}"'), edits)


@pytest.mark.parametrize(
    "plain, encoder",
    [
        ("id 11010519491231002X", lambda b: base64.b64encode(b).decode()),
        ("id 11010519491231002X!", lambda b: base64.b64encode(b).decode().rstrip("=")),
        ("号码 13800001111??>>", lambda b: base64.urlsafe_b64encode(b).decode()),
        ("号码 13800001111??>>", lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    ],
)
def test_base64_keeps_alphabet_and_padding(plain: str, encoder: Callable[[bytes], str]) -> None:
    raw = encoder(plain.encode())
    view = base64_view(raw)
    assert view is not None
    assert view.decoded == plain
    start = plain.index("1") + 3
    new = redo(view, [(start, start + 4, "****")])  # type: ignore[arg-type]
    assert (new.endswith("=")) == raw.endswith("=")
    assert ("-" in new or "_" in new) <= ("-" in raw or "_" in raw or "+" not in new)
    padded = new + "=" * (-len(new) % 4)
    decoder = base64.urlsafe_b64decode if ("-" in raw or "_" in raw) else base64.b64decode
    assert decoder(padded).decode() == plain[:start] + "****" + plain[start + 4 :]


def test_base64_gbk_text_is_re_encoded_in_gbk() -> None:
    raw = base64.b64encode("电话13800001111".encode("gbk")).decode()
    view = base64_view(raw)
    assert view is not None and view.charset == "gb18030"
    new = redo(view, [(5, 9, "****")])  # type: ignore[arg-type]
    assert base64.b64decode(new).decode("gbk") == "电话138****1111"


def test_base64_view_refuses_non_base64() -> None:
    assert base64_view("not base64!") is None
    assert base64_view(base64.b64encode(b"\xff\xfe\x00\x01").decode()) is None


def test_edits_outside_the_text_raise_without_values() -> None:
    view = html_view("&#49;23")
    with pytest.raises(ViewError) as err:
        view.map_edits([(2, 9, "*")])
    assert "23" not in str(err.value)


def test_merge_edits_dedupes_and_counts_conflicts() -> None:
    edits, conflicts = merge_edits([(3, 5, "**"), (0, 1, "*"), (3, 5, "**"), (4, 6, "xx")])
    assert edits == [(0, 1, "*"), (3, 5, "**")]
    assert conflicts == 1
    assert merge_edits([(2, 2, "*"), (2, 2, "*")]) == ([(2, 2, "*")], 0)


def test_diff_edit_and_identity() -> None:
    assert diff_edit("13800001111", "138****1111") == [(3, 7, "****")]
    assert diff_edit("same", "same") == []
    view = identity_view("abc")
    assert redo(view, [(1, 2, "*")]) == "a*c"


# --- property: decode(edited raw) == edited decoded -------------------------------------------

_ALPHABET = st.sampled_from(list('0123456789Xx abc@.-_~*+/=&;"\\\n张三电话１２😀%#'))
_texts = st.lists(_ALPHABET, min_size=1, max_size=24).map("".join)


@st.composite
def edits_of(draw: st.DrawFn, text: str) -> list[Edit]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), min_size=0, max_size=6)))
    out: list[Edit] = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        if out and a < out[-1][1]:
            continue
        if out and a == b == out[-1][0] == out[-1][1]:
            continue
        out.append((a, b, "*" * draw(st.integers(0, 3))))
    return out


def _pct(text: str, flags: list[bool], upper: bool) -> str:
    out: list[str] = []
    for c, esc in zip(text, flags, strict=False):
        if esc or c in "%+&=#" or not c.isascii() or c in ' \n"\\;':
            out.extend((f"%{b:02X}" if upper else f"%{b:02x}") for b in c.encode())
        else:
            out.append(c)
    return "".join(out) + "".join(f"%{b:02X}" for c in text[len(flags) :] for b in c.encode())


def _html(text: str, flags: list[bool], upper: bool) -> str:
    out = []
    for i, c in enumerate(text):
        if (i < len(flags) and flags[i]) or c in "&<":
            out.append(f"&#x{ord(c):X};" if upper else f"&#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


def _uesc(text: str, flags: list[bool], upper: bool) -> str:
    out = []
    for i, c in enumerate(text):
        if (i < len(flags) and flags[i]) or c == "\\":
            data = c.encode("utf-16-be")
            for k in range(0, len(data), 2):
                unit = int.from_bytes(data[k : k + 2], "big")
                out.append(f"\\u{unit:04X}" if upper else f"\\u{unit:04x}")
        else:
            out.append(c)
    return "".join(out)


def _json(text: str, flags: list[bool], upper: bool) -> str:
    out = []
    for i, c in enumerate(text):
        if (i < len(flags) and flags[i]) or c in '"\\' or ord(c) < 0x20:
            if c == "\n" and not upper:
                out.append("\\n")
                continue
            data = c.encode("utf-16-be")
            for k in range(0, len(data), 2):
                unit = int.from_bytes(data[k : k + 2], "big")
                out.append(f"\\u{unit:04X}" if upper else f"\\u{unit:04x}")
        else:
            out.append(c)
    return "".join(out)


def _decode_pct(raw: str) -> str:
    return percent_decode_bytes(raw).decode("utf-8", "surrogateescape")


def _decode_html(raw: str) -> str:
    return decode_html_entities(raw) or raw


def _decode_uesc(raw: str) -> str:
    return decode_unicode_escapes(raw) or raw


def _decode_json(raw: str) -> str:
    return str(json.loads(f'"{raw}"'))


CODECS: dict[str, tuple[Callable[..., str], Callable[[str], View], Callable[[str], str]]] = {
    "percent": (_pct, lambda r: percent_view(r, "utf-8", plus=False, latin1=False), _decode_pct),
    "html": (_html, html_view, _decode_html),
    "unicode_escape": (_uesc, unicode_escape_view, _decode_uesc),
    "json": (_json, json_string_view, _decode_json),
}


@settings(max_examples=400, deadline=None)
@given(
    codec=st.sampled_from(list(CODECS)),
    text=_texts,
    flags=st.lists(st.booleans(), max_size=24),
    upper=st.booleans(),
    data=st.data(),
)
def test_property_edits_round_trip(
    codec: str, text: str, flags: list[bool], upper: bool, data: st.DataObject
) -> None:
    encode, build, decode = CODECS[codec]
    raw = encode(text, flags, upper)
    view = build(raw)
    assert view.decoded == text
    assert decode(raw) == text
    edits = data.draw(edits_of(text))
    new_raw = apply_edits(raw, view.map_edits(edits))
    assert decode(new_raw) == apply_edits(text, edits)


def test_views_agree_with_the_scanners_decoders() -> None:
    samples = {
        "percent": "%E5%BC%A0%E4%B8%89%31",
        "html": "&#24352;&#x4e09;&amp;1",
        "unicode_escape": "\\u5f20\\xe4\\xb8\\x89\\ud83d\\ude00\\U0001F600",
    }
    assert percent_view(samples["percent"], "utf-8", plus=False, latin1=False).decoded == (
        decode_percent(samples["percent"])
    )
    assert html_view(samples["html"]).decoded == html.unescape(samples["html"])
    assert unicode_escape_view(samples["unicode_escape"]).decoded == decode_unicode_escapes(
        samples["unicode_escape"]
    )
    token = base64.b64encode("张三 13800001111".encode()).decode()
    view = base64_view(token)
    assert view is not None and view.decoded == decode_base64(token)


@pytest.mark.parametrize(
    "view, raw, decoded",
    [
        # A lone high surrogate: unicode escapes read it as U+FFFD (as the scanner's decoder
        # does), JSON keeps it (as json.loads does).
        (unicode_escape_view, "\\ud83dx", "\ufffdx"),
        (json_string_view, "\\ud83dx", "\ud83dx"),
        # A pair split by other text is not a pair.
        (unicode_escape_view, "\\ud83d-\\ude00", "\ufffd-\ufffd"),
        (json_string_view, "\\ud83d\\ude00\\n", "\U0001f600\n"),
        # Beyond U+10FFFF: left as written.
        (unicode_escape_view, "\\U00110000a", "\\U00110000a"),
    ],
)
def test_escape_views_edge_cases(view: object, raw: str, decoded: str) -> None:
    assert view(raw).decoded == decoded  # type: ignore[operator]
