"""Body formats rewritten in place: urlencoded, NDJSON, multipart parameters, binary runs."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from addon.bodies import ContentType
from addon.redact_body import (
    apply_byte_edits,
    body_edits,
    text_byte_edits,
    urlencoded_edits,
)
from addon.redact_text import Unit
from addon.redact_views import ViewError
from addon.request_fields import FILENAME
from detectors.masking import mask
from detectors.structure import KEY

PHONE = "13800001111"
PHONE_MASK = mask("CN_PHONE", PHONE)


def unit(source: str, *key: str | int, encodings: tuple[str, ...] = ("utf-8",)) -> Unit:
    u = Unit(source, tuple(key), source, encodings)
    u.add(PHONE, PHONE_MASK)
    return u


# --- urlencoded --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, key, expected",
    [
        (f"a=1&t={PHONE}".encode(), ("t", 0), f"a=1&t={PHONE_MASK}".encode()),
        (f"t=1&t={PHONE}".encode(), ("t", 1), f"t=1&t={PHONE_MASK}".encode()),
        (f"t={PHONE}&&t=2".encode(), ("t", 0), f"t={PHONE_MASK}&&t=2".encode()),
        # a name without "=" counts as an occurrence of that name
        (f"t&t={PHONE}".encode(), ("t", 1), f"t&t={PHONE_MASK}".encode()),
        # a name that is a value
        (f"{PHONE}=1&b=2".encode(), (PHONE, 0, KEY), f"{PHONE_MASK}=1&b=2".encode()),
        (f"a=1&{PHONE}".encode(), (PHONE, 0, KEY), f"a=1&{PHONE_MASK}".encode()),
        # names are matched decoded ("+" and %XX)
        (f"my+tel={PHONE}".encode(), ("my tel", 0), f"my+tel={PHONE_MASK}".encode()),
        (f"%74el={PHONE}".encode(), ("tel", 0), f"%74el={PHONE_MASK}".encode()),
        # numeric character references (sent by GBK forms) are read through
        (
            b"n=" + quote("&#26410;" + PHONE).encode(),
            ("n", 0),
            b"n=" + quote("&#26410;" + PHONE_MASK, safe="*").encode(),
        ),
    ],
)
def test_urlencoded(raw: bytes, key: tuple[str | int, ...], expected: bytes) -> None:
    u = unit("form", *key)
    assert apply_byte_edits(raw, urlencoded_edits(raw, "utf-8", [u])) == expected
    assert u.redacted() == {PHONE}


def test_urlencoded_value_of_a_name_without_equals_is_unreached() -> None:
    u = unit("form", "t", 0)
    assert urlencoded_edits(b"t&x=1", "utf-8", [u]) == []
    assert not u.reached


# --- text to bytes -----------------------------------------------------------------------------


def test_text_byte_edits_in_gbk() -> None:
    text = f"电话{PHONE}"
    data = text.encode("gb18030")
    edits = text_byte_edits(text, [(5, 9, "****")], "gb18030", data, 0)
    assert apply_byte_edits(data, edits) == f"电话{PHONE_MASK}".encode("gb18030")


def test_text_byte_edits_keep_undecodable_bytes() -> None:
    data = b"\xff\xfe" + PHONE.encode()
    text = data.decode("utf-8", "surrogateescape")
    edits = text_byte_edits(text, [(5, 9, "****")], "utf-8", data, 0)
    assert apply_byte_edits(data, edits) == b"\xff\xfe" + PHONE_MASK.encode()


def test_text_byte_edits_refuse_what_does_not_map_back() -> None:
    with pytest.raises(ViewError):
        text_byte_edits("ab", [(0, 1, "*")], "utf-16", "ab".encode("utf-16"), 0)
    with pytest.raises(ViewError):
        text_byte_edits("ab", [(0, 1, "*")], "utf-8", b"xb", 0)


def test_apply_byte_edits_refuses_overlaps() -> None:
    with pytest.raises(ViewError):
        apply_byte_edits(b"abcdef", [(0, 3, b"x"), (2, 4, b"y")])


# --- NDJSON ------------------------------------------------------------------------------------


def test_ndjson_lines_json_seq_and_invalid_lines() -> None:
    data = f'\x1e{{"t":"{PHONE}"}}\r\n  broken {PHONE}  \n\n{{"u":[{PHONE}]}}\n'.encode()
    units = [unit("ndjson", 0, "t"), unit("ndjson", 1), unit("ndjson", 3, "u", 0)]
    new = apply_byte_edits(
        data, body_edits(data, ContentType("application/x-ndjson", {}), units, 0)
    )
    assert (
        new
        == (
            f'\x1e{{"t":"{PHONE_MASK}"}}\r\n  broken {PHONE_MASK}  \n\n{{"u":["{PHONE_MASK}"]}}\n'
        ).encode()
    )
    assert all(u.redacted() == {PHONE} for u in units)


# --- multipart ---------------------------------------------------------------------------------

MULTIPART = (
    b"--b\r\n"
    b"Content-Disposition: form-data; name=%s\r\n\r\nx\r\n"
    b"--b\r\n"
    b'content-disposition: form-data; name="f"; filename="%s.txt"\r\n\r\n%s\r\n'
    b"--b--\r\n"
)


def test_multipart_name_token_filename_and_content() -> None:
    data = MULTIPART % (PHONE.encode(), PHONE.encode(), PHONE.encode())
    units = [unit("multipart", 0, KEY), unit("multipart", 1, FILENAME), unit("multipart", 1)]
    ctype = ContentType("multipart/form-data", {"boundary": "b"})
    new = apply_byte_edits(data, body_edits(data, ctype, units, 0))
    mask_bytes = PHONE_MASK.encode()
    assert new == MULTIPART % (mask_bytes, mask_bytes, mask_bytes)
    assert all(u.redacted() == {PHONE} for u in units)


def test_multipart_part_charset_and_missing_part() -> None:
    content = f"电话{PHONE}".encode("gbk")
    data = b'--b\r\nContent-Disposition: form-data; name="t"\r\n\r\n' + content + b"\r\n--b--\r\n"
    gbk = unit("multipart", 0, encodings=("gzip", "gb18030"))
    missing = unit("multipart", 7)
    ctype = ContentType("multipart/form-data", {"boundary": "b"})
    new = apply_byte_edits(data, body_edits(data, ctype, [gbk, missing], 1))
    assert f"电话{PHONE_MASK}".encode("gbk") in new
    assert gbk.redacted() == {PHONE}
    assert not missing.reached


# --- binary ------------------------------------------------------------------------------------


def test_binary_runs_keep_their_length() -> None:
    data = b"\x00\x01" + f"phone {PHONE}".encode() + b"\x00"
    u = unit("binary", 2)
    new = apply_byte_edits(data, body_edits(data, ContentType("", {}), [u], 0))
    assert new == b"\x00\x01" + f"phone {PHONE_MASK}".encode() + b"\x00"
    assert len(new) == len(data)
    assert u.redacted() == {PHONE}


def test_binary_length_change_fails_the_unit() -> None:
    data = b"\x00\x01mail a@x.cn\x00"
    u = Unit("binary", (2,), "binary@2", ("utf-8",))
    u.add("a@x.cn", mask("EMAIL_ADDRESS", "a@x.cn"))
    assert body_edits(data, ContentType("", {}), [u], 0) == []
    assert u.broken and u.redacted() == set()
