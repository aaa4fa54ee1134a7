"""redact_request / redact_websocket_message: every place, body format, charset and encoding.

Requests are built with ``mitmproxy.http.Request.make`` and scanned with the real
:class:`~detectors.engine.Scanner`; the findings are redacted and the request is scanned again.
Encoded bodies go into ``raw_content`` (``Request.make`` would encode ``content`` once more).
All personal data here is generated test data: the standard's example ID, 138-0000-xxxx
phones, a Luhn-valid test card.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import zlib
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from stdnum import luhn

from addon.bodies import decode_content
from addon.redact import (
    RedactOutcome,
    encode_content,
    redact_request,
    redact_websocket_message,
    unit_key,
)
from addon.request_fields import FILENAME, ParsedRequest, parse_request
from addon.scan import scan_request, scan_websocket_message
from detectors.engine import Scanner
from detectors.model import Finding, PathStep
from detectors.structure import JSON_IN_VALUE, KEY, URL_QUERY

ID_NO = "11010519491231002X"
PHONE = "13800001111"
CARD = "6222021234567890128"
EMAIL = "zhangsan@example.cn"
SECRETS = (ID_NO, PHONE, CARD, EMAIL)
PHONE_MASK = "138****1111"
FORM_TYPE = "application/x-www-form-urlencoded"

SCANNER = Scanner()


def req(
    body: bytes = b"",
    content_type: str | None = None,
    *,
    url: str = "http://shop.example/submit",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    content_encoding: str | None = None,
) -> http.Request:
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    fields = [(k.encode(), v.encode()) for k, v in pairs]
    r = http.Request.make("POST" if body else "GET", url, b"", fields)
    r.raw_content = body
    r.headers["content-length"] = str(len(body))
    if content_type is not None:
        r.headers["Content-Type"] = content_type
    if content_encoding is not None:
        r.headers["Content-Encoding"] = content_encoding
    return r


def scan_and_redact(r: http.Request) -> tuple[list[Finding], RedactOutcome]:
    findings = scan_request(r, SCANNER).findings
    return findings, redact_request(r, findings)


def body(r: http.Request) -> bytes:
    """The decoded body (also for stacked Content-Encodings mitmproxy cannot undo)."""
    raw = r.raw_content or b""
    decoded = decode_content(raw, r.headers.get("content-encoding"), 1 << 26)
    assert decoded.issues == []
    return decoded.data


def assert_clean(r: http.Request) -> None:
    """Nothing is found any more, and the framing headers are right."""
    again = scan_request(r, SCANNER)
    assert again.findings == [], [f.location for f in again.findings]
    raw = r.raw_content or b""
    if "content-length" in r.headers:
        assert r.headers["content-length"] == str(len(raw))
    text = body(r) + r.data.path + b"".join(v for _, v in r.headers.fields)
    for secret in SECRETS:
        assert secret.encode() not in text


def pct_all(value: str, charset: str = "utf-8") -> str:
    """Every byte percent-encoded (as some clients do even for digits)."""
    return "".join(f"%{b:02X}" for b in value.encode(charset))


def html_refs(value: str, hexa: bool = False) -> str:
    return "".join(f"&#x{ord(c):x};" if hexa else f"&#{ord(c)};" for c in value)


def u_escapes(value: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in value)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def b64url(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


# --- exact results -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_in, content_type, expected",
    [
        # plain form: only the value's middle changes, order and other bytes kept
        (
            f"qty=2&tel={PHONE}&note=hi+there".encode(),
            FORM_TYPE,
            b"qty=2&tel=138****1111&note=hi+there",
        ),
        # GBK form without charset: the Chinese field keeps its GBK percent-encoding
        (
            ("xm=" + quote("张三", encoding="gbk") + f"&sfz={ID_NO}").encode(),
            FORM_TYPE,
            b"xm=%D5%C5%C8%FD&sfz=110***********002X",
        ),
        # GBK bytes sent raw (not percent-encoded)
        (
            "xm=张三&sfz=".encode("gbk") + ID_NO.encode(),
            FORM_TYPE,
            "xm=张三&sfz=110***********002X".encode("gbk"),
        ),
        # a value whose every byte is percent-encoded stays percent-encoded
        (
            f"tel={pct_all(PHONE)}".encode(),
            FORM_TYPE,
            b"tel=%31%33%38%2A%2A%2A%2A%31%31%31%31",
        ),
        # e-mail: "@" stays escaped, the local part is masked
        (
            f"email={quote(EMAIL, safe='')}".encode(),
            FORM_TYPE,
            b"email=z*******%40example.cn",
        ),
        # base64 of the ID becomes the base64 of the masked ID
        (
            f"a=1&token={b64(ID_NO)}".encode(),
            FORM_TYPE,
            f"a=1&token={b64('110***********002X')}".encode(),
        ),
        # percent-encoded base64 (padding "=" as %3D)
        (
            f"token={quote(b64('phone ' + PHONE), safe='')}".encode(),
            FORM_TYPE,
            f"token={quote(b64('phone 138****1111'), safe='')}".encode(),
        ),
        # HTML references stay references
        (
            f"n={quote(html_refs(PHONE), safe='')}".encode(),
            FORM_TYPE,
            ("n=" + quote(html_refs("138") + "&#42;" * 4 + html_refs("1111"), safe="")).encode(),
        ),
        # \u escapes stay escapes
        (
            f"n={quote(u_escapes(PHONE), safe='')}".encode(),
            FORM_TYPE,
            ("n=" + quote(u_escapes("138****1111"), safe="")).encode(),
        ),
        # JSON inside a form field stays JSON in the form field (a number becomes a string)
        (
            ("payload=" + quote(json.dumps({"user": {"tel": int(PHONE)}}), safe="")).encode(),
            FORM_TYPE,
            ("payload=" + quote(json.dumps({"user": {"tel": "138****1111"}}), safe="*")).encode(),
        ),
        # JSON: formatting kept, numbers holding a phone become strings
        (
            b'{\n  "user": {"idNo": "%s", "tel": %s},\n  "ok": true\n}'
            % (ID_NO.encode(), PHONE.encode()),
            "application/json",
            b'{\n  "user": {"idNo": "110***********002X", "tel": "138****1111"},\n  "ok": true\n}',
        ),
        # JSON escapes in the string kept as escapes
        (
            ('{"tel": "' + u_escapes(PHONE) + '", "n": "a\\nb"}').encode(),
            "application/json",
            ('{"tel": "' + u_escapes("138****1111") + '", "n": "a\\nb"}').encode(),
        ),
        # GraphQL variables
        (
            json.dumps(
                {"query": "mutation($i: I!){ m(i: $i) }", "variables": {"i": {"phone": PHONE}}}
            ).encode(),
            "application/json",
            json.dumps(
                {
                    "query": "mutation($i: I!){ m(i: $i) }",
                    "variables": {"i": {"phone": "138****1111"}},
                }
            ).encode(),
        ),
        # NDJSON: a JSON line and a line that is not JSON
        (
            f'{{"a": 1}}\n{{"tel": "{PHONE}"}}\nnote {ID_NO}\n'.encode(),
            "application/x-ndjson",
            b'{"a": 1}\n{"tel": "138****1111"}\nnote 110***********002X\n',
        ),
        # text/plain beacon
        (
            f"contact me at {PHONE} or {EMAIL}".encode(),
            "text/plain",
            b"contact me at 138****1111 or z*******@example.cn",
        ),
        # a GBK text body without charset
        (
            f"电话 {PHONE}".encode("gbk"),
            "text/plain",
            "电话 138****1111".encode("gbk"),
        ),
        # hand-written form data (raw non-ASCII bytes): "+" is a plus, as the parser reads it
        (
            f"姓名=张三&手机=+86{PHONE}&备注=a+b".encode(),
            "application/x-www-form-urlencoded",
            "姓名=张三&手机=+86*******1111&备注=a+b".encode(),
        ),
        # the same inside a JSON string
        (
            json.dumps({"form": f"姓名=张三&tel=+86{PHONE}"}, ensure_ascii=False).encode(),
            "application/json",
            json.dumps({"form": "姓名=张三&tel=+86*******1111"}, ensure_ascii=False).encode(),
        ),
    ],
)
def test_exact_bytes(body_in: bytes, content_type: str, expected: bytes) -> None:
    r = req(body_in, content_type)
    findings, outcome = scan_and_redact(r)
    assert findings
    assert outcome.complete and outcome.failed == []
    assert outcome.replaced == len(findings)
    assert r.raw_content == expected
    assert_clean(r)


def test_multipart_keeps_boundary_headers_and_other_parts() -> None:
    parts = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"hello\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="tel"\r\n\r\n'
        b"%s\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="cv"; filename="cv_%s.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"ID card: %s\nthanks\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="photo"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
        b"\x89PNG\r\n\x1a\n\x00\x00\r\n"
        b"--XyZ--\r\n"
    )
    r = req(
        parts % (PHONE.encode(), ID_NO.encode(), ID_NO.encode()),
        "multipart/form-data; boundary=XyZ",
    )
    _, outcome = scan_and_redact(r)
    assert outcome.complete
    mask = b"110***********002X"
    assert r.raw_content == parts % (b"138****1111", mask, mask)
    assert_clean(r)


def test_multipart_rfc5987_filename_is_redacted_in_both_parameters() -> None:
    data = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="x%s.txt"; '
        b"filename*=UTF-8''%%E7%%AE%%80%%E5%%8E%%86%s.txt\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--b--\r\n"
    )
    r = req(data % (PHONE.encode(), PHONE.encode()), "multipart/form-data; boundary=b")
    findings, outcome = scan_and_redact(r)
    assert [f.path for f in findings] == [(0, FILENAME)]
    assert outcome.complete
    assert r.raw_content == data % (b"138****1111", b"138****1111")
    assert_clean(r)


@pytest.mark.parametrize(
    "url, expected_path",
    [
        (f"http://a.example/s?q=1&tel={PHONE}#top", b"/s?q=1&tel=138****1111#top"),
        (f"http://a.example/s?tel={pct_all(PHONE)}", b"/s?tel=%31%33%38%2A%2A%2A%2A%31%31%31%31"),
        (f"http://a.example/u/{PHONE}/orders", b"/u/138****1111/orders"),
        (f"http://a.example/u/{b64url(ID_NO)}", f"/u/{b64url('110***********002X')}".encode()),
        (
            f"http://a.example/s?e={quote(EMAIL, safe='')}&x=%E5%BC%A0",
            b"/s?e=z*******%40example.cn&x=%E5%BC%A0",
        ),
        # a name holding a value (no "=")
        (f"http://a.example/s?{PHONE}&a=1", b"/s?138****1111&a=1"),
    ],
)
def test_url(url: str, expected_path: bytes) -> None:
    r = req(url=url)
    findings, outcome = scan_and_redact(r)
    assert findings and outcome.complete
    assert r.data.path == expected_path
    assert_clean(r)


def test_referer_query_cookie_and_custom_header() -> None:
    r = req(
        headers={
            "Referer": f"https://shop.example/checkout?step=2&mobile={PHONE}&e={quote(EMAIL)}",
            "Cookie": f"sid=abc123; uid={b64(ID_NO)}; {CARD}",
            "X-User-Tel": f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}",
        }
    )
    findings, outcome = scan_and_redact(r)
    sources = sorted({f.source for f in findings})
    assert sources == ["cookie", "header"]
    assert outcome.complete
    assert r.headers["Referer"] == (
        "https://shop.example/checkout?step=2&mobile=138****1111&e=z*******%40example.cn"
    )
    assert r.headers["Cookie"] == (
        f"sid=abc123; uid={b64('110***********002X')}; 6222***********0128"
    )
    assert r.headers["X-User-Tel"] != f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"
    assert "*" in r.headers["X-User-Tel"]
    assert_clean(r)


def test_several_cookie_headers_count_occurrences_across_them() -> None:
    r = req(headers=[("Cookie", "a=1; t=x"), ("Cookie", f"t={PHONE}; b=2")])
    findings, outcome = scan_and_redact(r)
    assert [f.path for f in findings] == [("t", 1)]
    assert outcome.complete
    assert r.headers.get_all("Cookie") == ["a=1; t=x", "t=138****1111; b=2"]


def test_cookie_name_holding_a_value() -> None:
    r = req(headers={"Cookie": f"a=1; {PHONE}=seen; b=2"})
    findings, outcome = scan_and_redact(r)
    assert [f.path for f in findings] == [(PHONE, 0, KEY)]
    assert outcome.complete
    assert r.headers["Cookie"] == "a=1; 138****1111=seen; b=2"


def test_json_key_holding_a_value() -> None:
    r = req(json.dumps({"contacts": {PHONE: "mum"}}).encode(), "application/json")
    findings, outcome = scan_and_redact(r)
    assert findings[0].path == ("contacts", PHONE, KEY)
    assert outcome.complete
    assert r.raw_content == b'{"contacts": {"138****1111": "mum"}}'


def test_json_inside_form_inside_json_and_referer_url_inside_json() -> None:
    inner = "a=1&tel=" + PHONE
    doc = {"payload": json.dumps({"form": inner}), "page": f"https://x.example/p?id={ID_NO}"}
    r = req(json.dumps(doc).encode(), "application/json")
    findings, outcome = scan_and_redact(r)
    assert {f.path[1] for f in findings} == {JSON_IN_VALUE, URL_QUERY}
    assert outcome.complete
    out = json.loads(r.raw_content or b"")
    assert json.loads(out["payload"]) == {"form": "a=1&tel=138****1111"}
    assert out["page"] == "https://x.example/p?id=110***********002X"
    assert_clean(r)


def test_deep_json_subtree_is_redacted_token_by_token() -> None:
    doc: object = {"tel": PHONE, "n": 1}
    for _ in range(70):
        doc = {"x": doc}
    r = req(json.dumps(doc).encode(), "application/json")
    findings, outcome = scan_and_redact(r)
    assert findings and outcome.complete
    assert_clean(r)
    assert json.loads(r.raw_content or b"") is not None


# --- Content-Encoding --------------------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
    "deflate, zstd, gzip": lambda b: gzip.compress(
        zstandard.ZstdCompressor().compress(zlib.compress(b))
    ),
}


@pytest.mark.parametrize("coding", list(ENCODERS))
def test_content_encoding_is_kept(coding: str) -> None:
    plain = f"note=hi&tel={PHONE}&sfz={ID_NO}".encode()
    r = req(ENCODERS[coding](plain), FORM_TYPE, content_encoding=coding)
    _, outcome = scan_and_redact(r)
    assert outcome.complete
    assert r.headers["content-encoding"] == coding
    assert body(r) == b"note=hi&tel=138****1111&sfz=110***********002X"
    assert r.headers["content-length"] == str(len(r.raw_content or b""))
    assert_clean(r)


def test_raw_deflate_stays_raw() -> None:
    r = req(_raw_deflate(f"tel={PHONE}".encode()), FORM_TYPE, content_encoding="deflate")
    _, outcome = scan_and_redact(r)
    assert outcome.complete
    raw = r.raw_content or b""
    assert zlib.decompress(raw, -zlib.MAX_WBITS) == b"tel=138****1111"


@pytest.mark.parametrize(
    "codings, build_original",
    [
        (("gzip",), gzip.compress),
        (("deflate",), zlib.compress),
        (("deflate",), _raw_deflate),
        (("br", "gzip"), lambda b: brotli.compress(gzip.compress(b))),
        (("gzip", "deflate"), lambda b: gzip.compress(_raw_deflate(b))),
        (("zstd",), zstandard.ZstdCompressor().compress),
    ],
)
def test_encode_content_undoes_decode_content(
    codings: tuple[str, ...], build_original: Callable[[bytes], bytes]
) -> None:
    original = build_original(b"before")
    header = ", ".join(reversed(codings))
    assert decode_content(original, header, 1 << 20).encodings == codings
    new = encode_content(b"after " * 100, codings, original)
    decoded = decode_content(new, header, 1 << 20)
    assert decoded.issues == [] and decoded.data == b"after " * 100
    if codings[-1] == "deflate":
        # The innermost deflate layer is wrapped (or not) as the original was.
        inner = decode_content(new, ", ".join(reversed(codings[:-1])), 1 << 20).data
        was = decode_content(original, ", ".join(reversed(codings[:-1])), 1 << 20).data
        assert (inner[:1] == b"x") == (was[:1] == b"x")


@pytest.mark.parametrize(
    "path, key",
    [
        (("tel", 0), ("tel", 0)),
        (("tel", 0, KEY), ("tel", 0, KEY)),
        (("p", 0, JSON_IN_VALUE, "user", "tel"), ("p", 0)),
        (("referer", 0, URL_QUERY, "phone", 0), ("referer", 0)),
        (("a", "b", 3), ("a", "b", 3)),
        ((2, FILENAME), (2, FILENAME)),
        ((JSON_IN_VALUE, "a"), ()),
        ((), ()),
    ],
)
def test_unit_key(path: tuple[PathStep, ...], key: tuple[PathStep, ...]) -> None:
    assert unit_key(path) == key


def test_body_untouched_when_only_the_url_holds_data() -> None:
    compressed = gzip.compress(b"note=hello")
    r = req(compressed, FORM_TYPE, url=f"http://a.example/s?tel={PHONE}", content_encoding="gzip")
    _, outcome = scan_and_redact(r)
    assert outcome.complete
    assert r.raw_content == compressed


def test_content_length_not_added_with_transfer_encoding() -> None:
    r = req(f"tel={PHONE}".encode(), FORM_TYPE)
    del r.headers["content-length"]
    r.headers["transfer-encoding"] = "chunked"
    _, outcome = scan_and_redact(r)
    assert outcome.complete
    assert "content-length" not in r.headers


# --- fail closed -------------------------------------------------------------------------------


def test_unknown_content_encoding_fails_closed() -> None:
    r = req(f"tel={PHONE}".encode(), FORM_TYPE, content_encoding="compress")
    findings, outcome = scan_and_redact(r)
    assert findings
    assert not outcome.complete
    assert outcome.failed == findings
    assert outcome.replaced == 0


def test_truncated_gzip_fails_closed() -> None:
    data = gzip.compress(f"tel={PHONE}&pad=".encode() + bytes(range(256)) * 40)
    r = req(data[: len(data) // 2], FORM_TYPE, content_encoding="gzip")
    findings, outcome = scan_and_redact(r)
    assert findings
    assert not outcome.complete


def test_findings_of_another_request_fail_closed(caplog: pytest.LogCaptureFixture) -> None:
    source = req(json.dumps({"a": {"tel": PHONE}}).encode(), "application/json")
    findings = scan_request(source, SCANNER).findings
    caplog.set_level(logging.DEBUG)
    for target in (
        req(json.dumps({"b": PHONE}).encode(), "application/json"),  # path not there
        req(f"contact {PHONE}".encode(), "application/json"),  # not JSON at all
        req(b'{"a": {"tel": "no phone here"}}', "application/json"),  # value not there
    ):
        outcome = redact_request(target, findings)
        assert not outcome.complete
        assert outcome.failed == findings
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_value_inside_an_unrelated_field_does_not_block() -> None:
    # A 13-digit timestamp that happens to contain the phone is not a phone (not reported),
    # and redacting the phone elsewhere must not fail because of it.
    r = req(f"ts={PHONE}23&tel={PHONE}".encode(), FORM_TYPE)
    findings, outcome = scan_and_redact(r)
    assert [f.location for f in findings] == ["form.tel"]
    assert outcome.complete
    assert r.raw_content == f"ts={PHONE}23&tel={PHONE_MASK}".encode()


def test_binary_body_masks_in_place_but_refuses_length_changes() -> None:
    frame = b"\x08\x96\x01\x12\x0b" + PHONE.encode() + b"\x1a\x03abc\x00\xff"
    r = req(frame, "application/x-protobuf")
    findings, outcome = scan_and_redact(r)
    assert findings and outcome.complete
    assert r.raw_content == frame.replace(PHONE.encode(), b"138****1111")
    # A one-letter local part is masked with an extra "*": the length would change.
    frame = b"\x00\x12\x08a@qq.com\x00\x00\x12\x0b" + PHONE.encode() + b"\x00"
    r = req(frame, "application/octet-stream")
    findings, outcome = scan_and_redact(r)
    assert {f.entity_type for f in findings} >= {"EMAIL_ADDRESS"}
    assert not outcome.complete
    assert [f.entity_type for f in outcome.failed] == ["EMAIL_ADDRESS"]


def test_unknown_source_and_empty_value_fail() -> None:
    r = req(f"tel={PHONE}".encode(), FORM_TYPE)
    good = scan_request(r, SCANNER).findings[0]
    odd = Finding("CN_PHONE", 1.0, "x", "***", "", source="form", path=("tel", 0))
    alien = Finding("CN_PHONE", 1.0, "x", "***", PHONE, source="telepathy", path=())
    outcome = redact_request(r, [good, odd, alien])
    assert outcome.failed == [odd, alien]
    assert outcome.replaced == 1


def test_no_findings_is_complete_and_touches_nothing() -> None:
    r = req(b"a=1", FORM_TYPE)
    before = r.get_state()
    assert redact_request(r, []) == RedactOutcome(True, [], 0)
    assert r.get_state() == before


# --- WebSocket ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, is_text, expected",
    [
        (
            json.dumps({"op": "send", "to": PHONE}).encode(),
            True,
            b'{"op": "send", "to": "138****1111"}',
        ),
        (f"op=send&to={PHONE}".encode(), True, b"op=send&to=138****1111"),
        (f"my id {ID_NO}".encode(), True, b"my id 110***********002X"),
        (
            b"\x00\x05\x0a\x0b" + PHONE.encode() + b"\x00\xff",
            False,
            b"\x00\x05\x0a\x0b138****1111\x00\xff",
        ),
    ],
)
def test_websocket_messages(content: bytes, is_text: bool, expected: bytes) -> None:
    findings = scan_websocket_message(content, is_text, SCANNER).findings
    assert findings
    new = redact_websocket_message(content, is_text, findings)
    assert new == expected
    assert isinstance(new, bytes)
    assert scan_websocket_message(new, is_text, SCANNER).findings == []


def test_websocket_message_that_cannot_be_redacted_is_none() -> None:
    findings = scan_websocket_message(f"to {PHONE}".encode(), True, SCANNER).findings
    assert redact_websocket_message(b"something else entirely", True, findings) is None
    binary = b"\x00\x12\x08a@qq.com\x00"
    found = scan_websocket_message(binary, False, SCANNER).findings
    assert found
    assert redact_websocket_message(binary, False, found) is None
    assert redact_websocket_message(b"abc", True, []) == b"abc"


# --- every format x every encoding: redact, rescan, nothing left ------------------------------

VALUE_ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "base64": b64,
    "base64url": b64url,
    "percent": pct_all,
    "double_percent": lambda v: quote(pct_all(v), safe=""),
    "html": html_refs,
    "html_hex": lambda v: html_refs(v, hexa=True),
    "u_escape": u_escapes,
    "json_in_value": lambda v: json.dumps({"idNo": v, "n": 1}),
    "base64_of_json": lambda v: b64(json.dumps({"tel": v})),
}


def _multipart(fields: list[tuple[str, str]], file_text: str) -> bytes:
    out = b""
    for name, value in fields:
        out += b'--B0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value.encode(),
        )
    out += (
        b'--B0undary\r\nContent-Disposition: form-data; name="f"; filename="notes.txt"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--B0undary--\r\n"
        % file_text.encode()
    )
    return out


def build(container: str, value: str, coding: str | None = None) -> http.Request:
    """A request holding ``value`` (already value-encoded) in ``container``, with unrelated
    fields around it."""
    compress = ENCODERS[coding] if coding else (lambda b: b)
    ce = coding
    if container == "form":
        data = f"qty=2&note=hi+there&tel={quote_plus(value)}&xm=%E5%BC%A0".encode()
        return req(compress(data), FORM_TYPE, content_encoding=ce)
    if container == "form_gbk":
        data = ("xm=" + quote("张三", encoding="gbk") + "&tel=" + quote_plus(value)).encode()
        return req(compress(data), FORM_TYPE, content_encoding=ce)
    if container == "json":
        doc = {"order": {"qty": 2, "note": "hi", "tel": value}, "tags": ["a", "张"]}
        return req(
            compress(json.dumps(doc, indent=2).encode()), "application/json", content_encoding=ce
        )
    if container == "json_compact":
        doc = {"order": {"qty": 2, "tel": value}, "tags": ["a"]}
        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return req(compress(data), "application/json", content_encoding=ce)
    if container == "graphql":
        doc = {"query": "mutation($i: I!){ m(i: $i) }", "variables": {"i": {"tel": value}}}
        return req(compress(json.dumps(doc).encode()), "application/json", content_encoding=ce)
    if container == "ndjson":
        data = (json.dumps({"a": 1}) + "\n" + json.dumps({"tel": value}) + "\n").encode()
        return req(compress(data), "application/x-ndjson", content_encoding=ce)
    if container == "multipart":
        data = _multipart([("note", "hi"), ("tel", value)], "nothing here")
        return req(compress(data), "multipart/form-data; boundary=B0undary", content_encoding=ce)
    if container == "multipart_file":
        data = _multipart([("note", "hi")], value)
        return req(compress(data), "multipart/form-data; boundary=B0undary", content_encoding=ce)
    if container == "text":
        return req(compress(value.encode()), "text/plain", content_encoding=ce)
    if container == "query":
        return req(url=f"http://a.example/s?q=1&tel={quote_plus(value)}&z=%E5%BC%A0")
    if container == "referer":
        return req(headers={"Referer": f"https://a.example/p?tel={quote_plus(value)}&z=1"})
    if container == "cookie":
        return req(headers={"Cookie": f"sid=abc; tel={quote(value, safe='')}; z=1"})
    if container == "header":
        return req(headers={"X-Tel": value, "X-Other": "hello"})
    if container == "path":
        return req(url=f"http://a.example/u/{quote(value, safe='')}/orders")
    raise AssertionError(container)


CONTAINERS = [
    "form",
    "form_gbk",
    "json",
    "json_compact",
    "graphql",
    "ndjson",
    "multipart",
    "multipart_file",
    "text",
    "query",
    "referer",
    "cookie",
    "header",
    "path",
]
# Whole-body text is decoded as a whole value by the scanner only for these encodings.
_TEXT_ENCODINGS = {"plain", "base64", "base64url", "percent", "html", "html_hex", "u_escape"}


def _places(findings: list[Finding]) -> set[tuple[str, tuple[object, ...]]]:
    return {(f.source, unit_key(f.path)) for f in findings}


def assert_unrelated_identical(
    before: ParsedRequest, after: ParsedRequest, touched: set[tuple[str, tuple[object, ...]]]
) -> None:
    def others(p: ParsedRequest) -> list[tuple[str, str, str]]:
        return [
            (f.source, f.location, f.value)
            for f in p.fields
            if (f.source, unit_key(f.path)) not in touched
        ]

    assert others(before) == others(after)
    assert before.body_format == after.body_format
    assert [i.kind for i in before.issues] == [i.kind for i in after.issues]


def check_round_trip(r: http.Request, secret: str) -> None:
    before = parse_request(r)
    findings = scan_request(r, SCANNER).findings
    assert any(f.value == secret or secret in f.value for f in findings), "not found at all"
    outcome = redact_request(r, findings)
    assert outcome.complete, [f.location for f in outcome.failed]
    again = scan_request(r, SCANNER).findings
    assert all(secret not in f.value for f in again)
    assert again == []
    assert_unrelated_identical(before, parse_request(r), _places(findings))
    if "content-length" in r.headers:
        assert r.headers["content-length"] == str(len(r.raw_content or b""))


@pytest.mark.parametrize("encoding", list(VALUE_ENCODINGS))
@pytest.mark.parametrize("container", CONTAINERS)
def test_every_container_and_value_encoding(container: str, encoding: str) -> None:
    if container == "text" and encoding not in _TEXT_ENCODINGS:
        pytest.skip("a text body is not decoded as a whole by the scanner in this encoding")
    if container == "cookie" and encoding.startswith("html"):
        pytest.skip("HTML references hold ';', which splits cookies")
    secret = ID_NO
    r = build(container, VALUE_ENCODINGS[encoding](secret))
    check_round_trip(r, secret)


@pytest.mark.parametrize("coding", list(ENCODERS))
@pytest.mark.parametrize(
    "container", ["form", "json", "graphql", "ndjson", "multipart", "multipart_file", "text"]
)
def test_every_body_format_and_content_encoding(container: str, coding: str) -> None:
    r = build(container, b64(PHONE) if container != "text" else PHONE, coding)
    check_round_trip(r, PHONE)
    assert r.headers["content-encoding"] == coding


# --- property: generated values anywhere -------------------------------------------------------


def id_check_char(body17: str) -> str:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


_REGIONS = ["110105", "310104", "440305", "320102", "510107", "420106", "330106"]


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(_REGIONS))
    year = draw(st.integers(1950, 2005))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    seq = draw(st.integers(0, 999))
    body17 = f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}"
    return body17 + id_check_char(body17)


@st.composite
def phones(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["138", "139", "150", "186", "177", "199", "135"]))
    return prefix + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=8, max_size=8)))


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["622202", "621700", "622848"]))
    length = draw(st.sampled_from([16, 19]))
    digits = "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=length - 7, max_size=length - 7))
    )
    partial = prefix + digits
    return partial + luhn.calc_check_digit(partial)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    secret=st.one_of(resident_ids(), phones(), cards()),
    container=st.sampled_from(CONTAINERS),
    encoding=st.sampled_from(list(VALUE_ENCODINGS)),
    coding=st.sampled_from([None, *ENCODERS]),
)
def test_property_redact_then_rescan_finds_nothing(
    secret: str, container: str, encoding: str, coding: str | None
) -> None:
    assume(not (container == "text" and encoding not in _TEXT_ENCODINGS))
    assume(not (container == "cookie" and encoding.startswith("html")))
    if container in ("query", "referer", "cookie", "header", "path"):
        coding = None
    r = build(container, VALUE_ENCODINGS[encoding](secret), coding)
    findings = scan_request(r, SCANNER).findings
    # Some generated numbers are rightly not reported (placeholders, context-only types).
    assume(any(secret in f.value for f in findings))
    check_round_trip(r, secret)
    if coding:
        assert r.headers["content-encoding"] == coding


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secrets=st.lists(st.one_of(resident_ids(), phones(), cards()), min_size=2, max_size=4),
    indent=st.sampled_from([None, 2]),
)
def test_property_several_values_in_one_json_document(
    secrets: list[str], indent: int | None
) -> None:
    doc = {
        "keep": "unrelated text",
        "items": [{"v": s, "n": i} for i, s in enumerate(secrets)],
        "blob": b64(json.dumps({"all": secrets})),
    }
    r = req(json.dumps(doc, indent=indent).encode(), "application/json")
    found = {f.value for f in scan_request(r, SCANNER).findings}
    assume(found)
    before = json.loads(r.raw_content or b"")
    check_round_trip(r, next(iter(found)))
    after = json.loads(r.raw_content or b"")
    assert after["keep"] == before["keep"]
    assert [i["n"] for i in after["items"]] == [i["n"] for i in before["items"]]
