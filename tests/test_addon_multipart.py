"""split_multipart: parts with names, filenames, headers and offsets; damage reported."""

from __future__ import annotations

import pytest

from addon.multipart import split_multipart
from detectors.model import ScanIssue

B = "XyZ123"


def test_parts_names_filenames_and_offsets() -> None:
    body = (
        f"preamble\r\n--{B}\r\n"
        'Content-Disposition: form-data; name="a"\r\n\r\n'
        "one\r\n"
        f"--{B}\r\n"
        'Content-Disposition: form-data; name="f"; filename="x \\"y\\".txt"\r\n'
        "Content-Type: Text/Plain\r\n\r\n"
        "two\r\nlines\r\n"
        f"--{B}\r\n"
        "Content-Disposition: form-data; name=\"g\"; filename*=UTF-8''%E5%BC%A0.txt\r\n\r\n"
        "\r\n"
        f"--{B}--\r\nepilogue"
    ).encode()
    issues: list[ScanIssue] = []
    parts = split_multipart(body, B, "multipart", issues)
    assert issues == []
    assert [(p.index, p.name, p.filename, p.content_type, p.content) for p in parts] == [
        (0, "a", None, "", b"one"),
        (1, "f", 'x "y".txt', "text/plain", b"two\r\nlines"),
        (2, "g", "张.txt", "", b""),
    ]
    assert all(body[p.start : p.end] == p.content for p in parts)


def test_bare_lf_line_endings() -> None:
    body = f'--{B}\nContent-Disposition: form-data; name="a"\n\nv\n--{B}--\n'.encode()
    issues: list[ScanIssue] = []
    (part,) = split_multipart(body, B, "multipart", issues)
    assert (part.name, part.content) == ("a", b"v")
    assert issues == []


@pytest.mark.parametrize(
    "body, expected_contents, expected_kinds",
    [
        (b"no delimiter here", [], ["broken_multipart"]),
        (
            f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nv'.encode(),
            [b"v"],
            ["broken_multipart"],
        ),
        (f"--{B}\r\nonly content\r\n--{B}--".encode(), [b"only content"], ["broken_multipart"]),
        (f"--{B}--\r\n".encode(), [], []),
    ],
)
def test_damage_is_reported(
    body: bytes, expected_contents: list[bytes], expected_kinds: list[str]
) -> None:
    issues: list[ScanIssue] = []
    parts = split_multipart(body, B, "multipart", issues)
    assert [p.content for p in parts] == expected_contents
    assert [i.kind for i in issues] == expected_kinds
