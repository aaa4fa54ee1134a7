"""header_values reads headers as ``Headers.get`` does, in one pass."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http

from addon.header_values import header_values

NAMES = [b"origin", b"referer", b"sec-fetch-site", b"content-type", b"cookie"]
# Names in any case (and one that is not asked for), values with non-ASCII and invalid UTF-8.
FIELDS = st.lists(
    st.tuples(
        st.sampled_from([b"Origin", b"ORIGIN", b"referer", b"Referer", b"Sec-Fetch-Site",
                         b"Content-Type", b"Cookie", b"X-Other"]),
        st.binary(max_size=12) | st.sampled_from([b"https://a.example.cn/", "页".encode()]),
    ),
    max_size=8,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_header_values_equal_headers_get(fields: list[tuple[bytes, bytes]]) -> None:
    request = http.Request.make("GET", "https://a.example.cn/", b"", http.Headers(fields))
    expected = tuple(request.headers.get(name.decode(), "") for name in NAMES)
    assert header_values(request, *NAMES) == expected


def test_repeated_header_is_folded_and_absent_is_empty() -> None:
    request = http.Request.make(
        "GET",
        "https://a.example.cn/",
        b"",
        http.Headers([(b"Referer", b"https://a.cn/"), (b"REFERER", b"https://b.cn/")]),
    )
    assert header_values(request, b"referer", b"origin") == ("https://a.cn/, https://b.cn/", "")
