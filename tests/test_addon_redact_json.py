"""json_edits: only the tokens at the findings' paths change; the document keeps its bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.redact_json import json_edits
from addon.redact_text import Unit
from addon.redact_views import apply_edits
from detectors.masking import mask
from detectors.structure import KEY, json_fields

PHONE = "13800001111"
PHONE_MASK = mask("CN_PHONE", PHONE)


def unit_at(*path: str | int, value: str = PHONE) -> Unit:
    u = Unit("json", tuple(path), "json")
    u.add(value, mask("CN_PHONE", value))
    return u


def redact(text: str, *units: Unit) -> str:
    start = len(text) - len(text.lstrip())
    return apply_edits(text, json_edits(text, start, list(units)))


@pytest.mark.parametrize(
    "text, path, expected",
    [
        (f'{{"a":"{PHONE}"}}', ("a",), f'{{"a":"{PHONE_MASK}"}}'),
        (f'{{ "a" : "{PHONE}" , "b":1 }}', ("a",), f'{{ "a" : "{PHONE_MASK}" , "b":1 }}'),
        (f'{{"a":[1, "x", "{PHONE}"]}}', ("a", 2), f'{{"a":[1, "x", "{PHONE_MASK}"]}}'),
        (f'{{"a":{{"b":{PHONE}}}}}', ("a", "b"), f'{{"a":{{"b":"{PHONE_MASK}"}}}}'),
        (f'{{"a":-{PHONE}}}', ("a",), f'{{"a":"-{PHONE_MASK}"}}'),
        (f'"{PHONE}"', (), f'"{PHONE_MASK}"'),
        (f"  {PHONE}  ", (), f'  "{PHONE_MASK}"  '),
        # escapes elsewhere in the string survive; "\/" too
        (f'{{"a":"\\/x\\t{PHONE}\\u4e2d"}}', ("a",), f'{{"a":"\\/x\\t{PHONE_MASK}\\u4e2d"}}'),
        # keys that need decoding to match the path
        (f'{{"\\u0061":"{PHONE}"}}', ("a",), f'{{"\\u0061":"{PHONE_MASK}"}}'),
        # a value holding JSON text
        (
            json.dumps({"p": json.dumps({"t": int(PHONE)})}),
            ("p",),
            json.dumps({"p": json.dumps({"t": PHONE_MASK})}),
        ),
        # a subtree (the parser's depth limit): every token inside
        (
            f'{{"deep":{{"x":[{PHONE},"{PHONE}"]}}}}',
            ("deep",),
            f'{{"deep":{{"x":["{PHONE_MASK}","{PHONE_MASK}"]}}}}',
        ),
        # duplicate keys: both members are rewritten
        (f'{{"a":"{PHONE}","a":"{PHONE}"}}', ("a",), f'{{"a":"{PHONE_MASK}","a":"{PHONE_MASK}"}}'),
    ],
)
def test_json_tokens(text: str, path: tuple[str | int, ...], expected: str) -> None:
    u = unit_at(*path)
    assert redact(text, u) == expected
    assert u.redacted() == {PHONE}


def test_key_holding_a_value() -> None:
    text = f'{{"book":{{"{PHONE}":"mum","x":"{PHONE}"}}}}'
    u = unit_at("book", PHONE, KEY)
    assert redact(text, u) == f'{{"book":{{"{PHONE_MASK}":"mum","x":"{PHONE}"}}}}'
    assert u.redacted() == {PHONE}


def test_several_units_in_one_walk() -> None:
    other = "13900002222"
    text = json.dumps({"a": [{"t": PHONE}, {"t": other}], "b": {"c": PHONE}}, indent=2)
    units = [unit_at("a", 0, "t"), unit_at("a", 1, "t", value=other), unit_at("b", "c")]
    new = redact(text, *units)
    assert json.loads(new) == {
        "a": [{"t": PHONE_MASK}, {"t": mask("CN_PHONE", other)}],
        "b": {"c": PHONE_MASK},
    }
    assert new.splitlines()[0] == "{"  # indentation kept
    assert all(u.redacted() for u in units)


def test_missing_path_leaves_unit_unreached() -> None:
    u = unit_at("nope")
    assert redact(f'{{"a":"{PHONE}"}}', u) == f'{{"a":"{PHONE}"}}'
    assert not u.reached and u.redacted() == set()
    u = unit_at("a", 5)
    redact(f'{{"a":["{PHONE}"]}}', u)
    assert not u.reached


@pytest.mark.parametrize("text", ["not json", '{"a" 1}', '{"a":1,,}', "[1 2]"])
def test_text_that_is_not_the_json_raises(text: str) -> None:
    with pytest.raises(ValueError):
        json_edits(text, 0, [unit_at("a", 0)])


# --- property: only the target leaf changes ----------------------------------------------------

_leaf = st.one_of(
    st.text(alphabet='abc 张\n"\\/', max_size=8),
    st.integers(-1000, 1000),
    st.booleans(),
    st.none(),
)
_docs = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet='kx"\\', max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(doc=_docs, indent=st.sampled_from([None, 1, 4]), ascii_only=st.booleans(), data=st.data())
def test_property_only_the_target_leaf_changes(
    doc: object, indent: int | None, ascii_only: bool, data: st.DataObject
) -> None:
    leaves = [f for f in json_fields(doc) if not f.path or f.path[-1] != KEY]
    if not leaves:
        return
    target = data.draw(st.sampled_from(leaves))
    placed = place_value(doc, target.path, f"tel {PHONE}")
    text = json.dumps(placed, indent=indent, ensure_ascii=ascii_only)
    u = unit_at(*target.path)
    new = redact(text, u)
    assert u.redacted() == {PHONE}
    # Byte for byte what the same document with the masked leaf serialises to.
    masked = place_value(doc, target.path, f"tel {PHONE_MASK}")
    assert new == json.dumps(masked, indent=indent, ensure_ascii=ascii_only)


def place_value(node: object, path: tuple[str | int, ...], value: str) -> object:
    """``node`` with the leaf at ``path`` replaced by ``value``."""
    if not path:
        return value
    if isinstance(node, dict):
        return {k: place_value(v, path[1:], value) if k == path[0] else v for k, v in node.items()}
    assert isinstance(node, list)
    return [place_value(v, path[1:], value) if i == path[0] else v for i, v in enumerate(node)]
