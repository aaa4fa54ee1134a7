"""FieldCollector: structured values are replaced by their parts; the field limit is reported."""

from __future__ import annotations

import json

from addon.field_collector import FieldCollector, ParseLimits
from detectors.model import Field

PHONE = "13800001111"


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
