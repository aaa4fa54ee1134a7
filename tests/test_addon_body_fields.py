"""parse_body: dispatch on the declared type and sniffing of untyped bodies, called directly."""

from __future__ import annotations

import json

import pytest

from addon.bodies import parse_content_type
from addon.body_fields import parse_body
from addon.field_collector import FieldCollector, ParseLimits

PHONE = "13800001111"
NAME = "张三丰"


def parse(data: bytes, content_type: str | None, prefix: str = "") -> FieldCollector:
    out = FieldCollector(ParseLimits())
    parse_body(data, parse_content_type(content_type), prefix, ("gzip",), out)
    return out


@pytest.mark.parametrize(
    "data, content_type, body_format, locations",
    [
        (f"tel={PHONE}".encode(), "application/x-www-form-urlencoded", "form", ["form.tel"]),
        (f"tel={PHONE}".encode(), None, "form", ["form.tel"]),
        (f"tel={PHONE}\r\n".encode(), "text/plain", "form", ["form.tel"]),
        (json.dumps({"tel": PHONE}).encode(), "application/json", "json", ["json.tel"]),
        (json.dumps({"tel": PHONE}).encode(), "application/ld+json", "json", ["json.tel"]),
        (b'\xef\xbb\xbf {"tel": "1"}', None, "json", ["json.tel"]),
        (json.dumps([PHONE]).encode(), "text/plain", "json", ["json[0]"]),
        (b'{"a":1}\n{"b":2}', "application/x-ndjson", "ndjson", ["ndjson[0].a", "ndjson[1].b"]),
        (f"{NAME} {PHONE}".encode(), "text/plain", "text", ["body"]),
        (f"{NAME} {PHONE}".encode(), "application/octet-stream", "text", ["body"]),
        (f"<a>{PHONE}</a>".encode(), "application/soap+xml", "text", ["body"]),
        (f"x = {PHONE}".encode(), None, "text", ["body"]),  # spaces: not a form
        (b"\x00\x01" + PHONE.encode(), None, "binary", ["binary@2"]),
        (b"\x89PNG" + PHONE.encode(), "image/png", "binary", []),
    ],
)
def test_dispatch(
    data: bytes, content_type: str | None, body_format: str, locations: list[str]
) -> None:
    out = parse(data, content_type)
    assert out.result.body_format == body_format
    assert [f.location for f in out.fields] == locations


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", None])
def test_text_that_looks_like_a_form_keeps_its_plus_signs(content_type: str | None) -> None:
    # A beacon of label text that happens to start with "name=value": no encoder wrote it
    # (raw non-ASCII), so "+86" is not " 86".
    data = "agree=true；手机号：+86-10-45965473；备注：好的".encode()
    out = parse(data, content_type)
    assert [(f.location, f.value) for f in out.fields] == [
        ("form.agree", "true；手机号：+86-10-45965473；备注：好的")
    ]


def test_prefix_and_container_encodings() -> None:
    out = parse(json.dumps({"tel": PHONE}).encode(), "application/json", prefix="ws.")
    (f,) = out.fields
    assert (f.location, f.source, f.path, f.encodings) == (
        "ws.json.tel",
        "json",
        ("tel",),
        ("gzip", "utf-8"),
    )


def test_empty_body_adds_nothing() -> None:
    out = parse(b"", "application/json")
    assert out.fields == [] and out.issues == [] and out.result.body_format is None
