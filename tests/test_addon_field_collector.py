"""FieldCollector: structured values are replaced by their parts; the field limit is reported."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from addon.field_collector import FieldCollector, ParseLimits
from detectors.engine import Scanner
from detectors.model import Field
from detectors.structure import json_fields, json_leaves

PHONE = "13800001111"
SCANNER = Scanner()


def test_structured_value_is_replaced_by_its_parts() -> None:
    out = FieldCollector(ParseLimits())
    out.add(Field("form.p", json.dumps({"tel": PHONE}), "form", ("p", 0), "p"))
    out.add(Field("form.q", PHONE, "form", ("q", 0), "q"))
    assert [(f.location, f.value) for f in out.fields] == [("form.p.tel", PHONE), ("form.q", PHONE)]


def test_nesting_limit_comes_from_the_limits() -> None:
    value = json.dumps({"tel": PHONE})
    for _ in range(4):
        value = json.dumps({"v": value})
    out = FieldCollector(ParseLimits(max_nesting=2))
    out.add(Field("form.p", value, "form", ("p", 0), "p"))
    assert [i.kind for i in out.issues] == ["depth_limit"]
    assert len(out.fields) == 1 and PHONE in out.fields[0].value


def test_field_limit_is_reported_once() -> None:
    out = FieldCollector(ParseLimits(max_fields=3))
    out.add_all(Field(f"form.k{i}", "v", "form", (f"k{i}", 0)) for i in range(10))
    out.add(Field("form.late", "v"))
    assert len(out.fields) == 3
    assert [i.kind for i in out.issues] == ["too_many_fields"]


_LEAF = st.one_of(
    st.sampled_from(
        ["v", "", PHONE, "a=1&tel=13800001111", "x=", '{"tel": "13800001111"}', " [1, 2]",
         "[]", "{not json}", "k=v=w", "=="]
    ),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)  # fmt: skip
_DOCS = st.recursive(
    _LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["a", "b", "tel", PHONE, "k=v", "{"]), children, max_size=4
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(_DOCS, st.integers(1, 12), st.integers(1, 6))
def test_add_walked_equals_adding_each_field(doc: object, max_fields: int, nesting: int) -> None:
    limits = ParseLimits(max_fields=max_fields, max_nesting=nesting)
    walked, each = FieldCollector(limits), FieldCollector(limits)
    leaves = json_leaves(doc)
    walked.add_walked(leaves.fields, leaves.structured)
    each.add_all(json_fields(doc))
    assert walked.fields == each.fields
    assert walked.issues == each.issues


@settings(max_examples=300, deadline=None)
@given(st.lists(_DOCS, min_size=1, max_size=3), st.integers(1, 12))
def test_a_gate_changes_no_finding_and_no_issue(docs: list[object], max_fields: int) -> None:
    """Also over several documents (ndjson lines): skipped leaves count towards the limit."""
    limits = ParseLimits(max_fields=max_fields)
    gated, every = FieldCollector(limits, SCANNER.value_gate), FieldCollector(limits)
    for i, doc in enumerate(docs):
        gated.add_json(doc, "ndjson", f"ndjson[{i}]", (i,))
        every.add_json(doc, "ndjson", f"ndjson[{i}]", (i,))
    assert SCANNER.scan_fields(gated.fields) == SCANNER.scan_fields(every.fields)
    assert gated.issues == every.issues
    assert set(gated.fields) <= set(every.fields)


def test_a_gate_skips_plain_leaves_but_not_unsafe_keys() -> None:
    doc = {"name": "张三", "n": 42, PHONE: "x", "tel": PHONE, "list": ["paid", PHONE]}
    out = FieldCollector(ParseLimits(), SCANNER.value_gate)
    out.add_json(doc, "json", "json")
    assert [(f.location, f.value) for f in out.fields] == [
        ("json.<key>", PHONE),
        ("json.tel", PHONE),
        ("json.list[1]", PHONE),
    ]
