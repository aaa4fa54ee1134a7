"""Decoded views of encoded text, and edits on a view carried back to the encoded text.

Redaction replaces a value "in the text you can see": the decoded text of a percent-encoded
form value, a JSON string, an HTML-escaped or ``\\uXXXX``-escaped value, a base64 value. A
:class:`View` pairs the encoded (``raw``) text with its ``decoded`` text and knows which raw
characters produced which decoded characters, so an edit of the decoded text (replace these
characters by ``*``) becomes an edit of the raw text that leaves every other raw character as it
was, and writes the replacement in the same style as what it replaces: digits sent as ``%31``
become ``%2A``, digits sent literally become ``*``, ``\\u0031`` becomes ``\\u002a``.

An :data:`Edit` is ``(start, end, replacement)`` on a string; lists of edits are sorted and do
not overlap. Raw text of byte containers (a query string, a form body) is handled as Latin-1
text, one character per byte.

Views never hold more than the text they were built from, and raise :class:`ViewError` (a
``ValueError`` without any value in its message) when an edit cannot be expressed faithfully;
the caller turns that into a failed redaction.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from detectors.decoders import decode_bytes_text

__all__ = [
    "Edit",
    "View",
    "ViewError",
    "apply_edits",
    "base64_view",
    "html_view",
    "identity_view",
    "json_string_view",
    "merge_edits",
    "percent_view",
    "unicode_escape_view",
]

Edit = tuple[int, int, str]

# Group kinds: IDENT maps raw to decoded character for character (a literal run); ATOM is a
# literal unit that must be rewritten whole (a UTF-8 character seen as 3 Latin-1 bytes); ESC is
# an escape (%41, &#49;, \u0031, \n) that is rewritten whole, in escaped style.
IDENT, ATOM, ESC = 0, 1, 2

_PCT_OR_PLUS_RE = re.compile(r"%[0-9A-Fa-f]{2}|\+")
_PCT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_HEX_ESCAPE_RE = re.compile(
    r"%([0-9A-Fa-f]{2})|\\x([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})"
    r"|&#[xX]([0-9A-Fa-f]{1,6});"
)
# Characters written literally in a percent-encoded replacement (RFC 3986 unreserved, and "*",
# which HTML forms never escape).
_PCT_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~*")
_HTML_REF_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ESCAPE_TOKEN_RE = re.compile(
    r"(?P<x>(?:\\x[0-9A-Fa-f]{2})+)|\\u(?P<u>[0-9A-Fa-f]{4})|\\U(?P<U>[0-9A-Fa-f]{8})"
)
_JSON_ESCAPE_RE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|([\"\\/bfnrt]))")
_JSON_SHORT = dict(zip('"\\/bfnrt', '"\\/\b\f\n\r\t', strict=True))
_JSON_LITERAL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class ViewError(ValueError):
    """An edit cannot be written back faithfully (message never contains values)."""


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with sorted, non-overlapping ``edits`` applied."""
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for start, end, rep in edits:
        out.append(text[pos:start])
        out.append(rep)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def merge_edits(edits: Sequence[Edit]) -> tuple[list[Edit], int]:
    """Sort ``edits`` and drop duplicates; return ``(edits, conflicts)``.

    Two passes of a redaction (the literal text and a decoded variant of it) usually produce
    the same edit for the same characters; an edit that overlaps a different earlier one is
    dropped and counted as a conflict (the caller verifies the result, so a dropped edit can
    only make a redaction fail, never pass wrongly).
    """
    if len(edits) <= 1:
        return list(edits), 0
    ordered = sorted(edits, key=lambda e: (e[0], e[1]))
    out: list[Edit] = [ordered[0]]
    conflicts = 0
    for edit in ordered[1:]:
        last = out[-1]
        if edit == last:
            continue
        if edit[0] < last[1] or (edit[0] == last[0] and edit[0] == edit[1] == last[1]):
            conflicts += 1
            continue
        out.append(edit)
    return out, conflicts


def common_affixes(old: str, new: str) -> tuple[int, int]:
    """``(prefix, suffix)`` lengths shared by ``old`` and ``new`` (not overlapping)."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def diff_edit(old: str, new: str) -> list[Edit]:
    """One edit turning ``old`` into ``new`` (none when equal)."""
    if old == new:
        return []
    prefix, suffix = common_affixes(old, new)
    return [(prefix, len(old) - suffix, new[prefix : len(new) - suffix])]


# --- views -------------------------------------------------------------------------------------

Encoder = Callable[[str, bool, str], str]
# (raw start, raw end, decoded start, decoded end, kind): a piece of a view's mapping.
Group = tuple[int, int, int, int, int]


@dataclass(slots=True)
class View:
    """Encoded ``raw`` text, its ``decoded`` text and the correspondence between them.

    ``groups`` lists ``(raw_start, raw_end, dec_start, dec_end, kind)`` covering both texts in
    order; None means the texts are identical. ``encode(text, escaped, sample)`` writes
    replacement text in the raw encoding, escaped or literal, following the style of
    ``sample``: the raw text it replaces (escape form, hex case), then a NUL and the raw text
    around it (hex case when the replaced escapes show no letter).
    """

    raw: str
    decoded: str
    groups: list[tuple[int, int, int, int, int]] | None
    encode: Encoder

    def map_edits(self, edits: Sequence[Edit]) -> list[Edit]:
        """Edits of ``decoded`` as edits of ``raw``."""
        if not edits:
            return []
        if self.groups is None:
            return [(s, e, self.encode(r, False, "")) for s, e, r in edits]
        clusters = self._clusters(edits)
        out: list[Edit] = []
        for ds, de, rs, re_, items, escaped in clusters:
            text = apply_edits(self.decoded[ds:de], [(s - ds, e - ds, r) for s, e, r in items])
            # The style sample: the raw text replaced, then (after a NUL) the raw text around
            # it, which decides the hex case when the replaced escapes show no letter.
            context = self.raw[max(rs - 16, 0) : rs] + self.raw[re_ : re_ + 16]
            sample = self.raw[rs:re_] + "\x00" + context
            out.append((rs, re_, self.encode(text, escaped, sample)))
        return out

    def _clusters(self, edits: Sequence[Edit]) -> list[tuple[int, int, int, int, list[Edit], bool]]:
        """Edits widened to whole atomic groups, merged where they share one.

        Each cluster is ``(dec_start, dec_end, raw_start, raw_end, edits, escaped)``.
        """
        groups = self.groups
        assert groups is not None
        starts = [g[2] for g in groups]
        n = len(self.decoded)
        out: list[tuple[int, int, int, int, list[Edit], bool]] = []
        for s, e, r in edits:
            if not 0 <= s <= e <= n:
                raise ViewError("edit outside the decoded text")
            gi = bisect_right(starts, s) - 1 if s < n else len(groups)
            if s == e:
                g = groups[gi] if gi < len(groups) else None
                if g is not None and g[2] < s and g[4] != IDENT:
                    # Inside an atomic group: rewrite the group.
                    ds, de, rs, re_ = g[2], g[3], g[0], g[1]
                    escaped = g[4] == ESC
                else:
                    if g is None:
                        rs = len(self.raw)
                    elif g[2] < s:
                        rs = g[0] + (s - g[2])
                    else:
                        rs = g[0]
                    ds = de = s
                    re_ = rs
                    # Between groups: in the style of the character before.
                    before = bisect_right(starts, s - 1) - 1 if s > 0 else -1
                    escaped = before >= 0 and groups[before][4] == ESC
            else:
                gj = bisect_right(starts, e - 1) - 1
                g0, g1 = groups[gi], groups[gj]
                if g0[4] == IDENT:
                    ds, rs = s, g0[0] + (s - g0[2])
                else:
                    ds, rs = g0[2], g0[0]
                if g1[4] == IDENT:
                    de, re_ = e, g1[0] + (e - g1[2])
                else:
                    de, re_ = g1[3], g1[1]
                escaped = all(groups[k][4] == ESC for k in range(gi, gj + 1))
            if out and (rs < out[-1][3] or ds < out[-1][1]):
                pds, pde, prs, pre, items, pesc = out[-1]
                out[-1] = (
                    min(pds, ds),
                    max(pde, de),
                    min(prs, rs),
                    max(pre, re_),
                    [*items, (s, e, r)],
                    pesc and escaped,
                )
            else:
                out.append((ds, de, rs, re_, [(s, e, r)], escaped))
        return out


def _hx(value: int, width: int, sample: str, *, upper: bool) -> str:
    """``value`` in hex, ``width`` digits, in the letter case of the first escape of ``sample``
    that shows one, or else upper case when ``upper`` (browsers' percent-encoding) or lower
    case (``JSON.stringify``, Python and HTML writers)."""
    for m in _HEX_ESCAPE_RE.finditer(sample):
        digits = m.group(m.lastindex or 0)
        if not digits.isdigit():
            upper = digits.isupper()
            break
    return format(value, f"0{width}{'X' if upper else 'x'}")


def identity_view(text: str, encode: Encoder | None = None) -> View:
    """A view of text that is not encoded (replacements written as they are)."""
    return View(text, text, None, encode or (lambda t, _e, _s: t))


# --- percent-encoding --------------------------------------------------------------------------


def _percent_encoder(charset: str, plus: bool) -> Encoder:
    def encode(text: str, escaped: bool, sample: str) -> str:
        out: list[str] = []
        for byte in text.encode(charset):
            if not escaped and byte in _PCT_SAFE:
                out.append(chr(byte))
            elif not escaped and plus and byte == 0x20:
                out.append("+")
            else:
                out.append("%" + _hx(byte, 2, sample, upper=True))
        return "".join(out)

    return encode


def _align(
    units: Sequence[tuple[int, int, int, int]],
    text: str,
    charset: str,
    dec_base: int,
    groups: list[tuple[int, int, int, int, int]],
) -> None:
    """Group byte-producing raw ``units`` ``(raw_start, raw_end, nbytes, kind)`` with the
    characters of ``text`` (their decoding in ``charset``) at common byte boundaries.

    A group of escapes only is ESC; one 1-byte literal unit giving one character is IDENT;
    anything else (a multi-byte character sent partly escaped, or as several literal bytes)
    is ATOM.
    """
    ui = ci = 0
    n_units, n_chars = len(units), len(text)
    while ui < n_units or ci < n_chars:
        g_unit, g_char = ui, ci
        ub = cb = 0
        while True:
            if ub <= cb and ui < n_units:
                ub += units[ui][2]
                ui += 1
            elif ci < n_chars:
                cb += len(text[ci].encode(charset, "surrogateescape"))
                ci += 1
            else:
                raise ViewError("encoded bytes and decoded characters do not line up")
            if ub == cb:
                break
        kinds = {units[k][3] for k in range(g_unit, ui)}
        if kinds == {ESC}:
            kind = ESC
        elif kinds == {IDENT} and ui - g_unit == 1 and ci - g_char == 1:
            kind = IDENT
        else:
            kind = ATOM
        groups.append((units[g_unit][0], units[ui - 1][1], dec_base + g_char, dec_base + ci, kind))


def percent_view(raw: str, charset: str, *, plus: bool, latin1: bool) -> View:
    """A view of percent-encoded ``raw`` decoded to bytes and then text in ``charset``.

    ``plus`` applies the form rule (``+`` is a space). ``latin1`` says ``raw`` stands for bytes
    (a query string or form body, one character per byte); otherwise its literal characters
    are UTF-8, as :func:`detectors.decoders.percent_decode_bytes` reads them. Undecodable bytes
    are kept as surrogate escapes, so nothing is lost.
    """
    encode = _percent_encoder(charset, plus)
    literal = "latin-1" if latin1 else "utf-8"
    errors = "strict" if latin1 else "surrogatepass"
    if "%" not in raw and not (plus and "+" in raw) and raw.isascii():
        return identity_view(raw, encode)
    units: list[tuple[int, int, int, int]] = []
    chunks: list[bytes] = []
    pos = 0
    pattern = _PCT_OR_PLUS_RE if plus else _PCT_RE
    for m in pattern.finditer(raw):
        _literal_units(
            raw, pos, m.start(), literal=literal, errors=errors, units=units, chunks=chunks
        )
        token = m.group()
        if token == "+":
            units.append((m.start(), m.end(), 1, IDENT))
            chunks.append(b" ")
        else:
            units.append((m.start(), m.end(), 1, ESC))
            chunks.append(bytes((int(token[1:], 16),)))
        pos = m.end()
    _literal_units(raw, pos, len(raw), literal=literal, errors=errors, units=units, chunks=chunks)
    decoded = b"".join(chunks).decode(charset, "surrogateescape")
    groups: list[tuple[int, int, int, int, int]] = []
    _align(units, decoded, charset, 0, groups)
    return View(raw, decoded, _coalesce(groups), encode)


def _literal_units(
    raw: str,
    start: int,
    end: int,
    *,
    literal: str,
    errors: str,
    units: list[tuple[int, int, int, int]],
    chunks: list[bytes],
) -> None:
    for i in range(start, end):
        b = raw[i].encode(literal, errors)
        units.append((i, i + 1, len(b), IDENT if len(b) == 1 else ATOM))
        chunks.append(b)


def _coalesce(
    groups: list[tuple[int, int, int, int, int]],
) -> list[tuple[int, int, int, int, int]]:
    """Join neighbouring one-to-one IDENT groups into runs (fewer groups, same mapping)."""
    out: list[tuple[int, int, int, int, int]] = []
    for g in groups:
        if (
            out
            and g[4] == IDENT
            and out[-1][4] == IDENT
            and out[-1][1] == g[0]
            and out[-1][3] == g[2]
            and g[1] - g[0] == g[3] - g[2]
            and out[-1][1] - out[-1][0] == out[-1][3] - out[-1][2]
        ):
            last = out[-1]
            out[-1] = (last[0], g[1], last[2], g[3], IDENT)
        else:
            out.append(g)
    return out


# --- HTML character references -----------------------------------------------------------------


def _html_encode(text: str, escaped: bool, sample: str) -> str:
    if escaped:
        region = sample.partition("\x00")[0]
        if "&#x" in region or "&#X" in region:
            return "".join(f"&#x{_hx(ord(c), 1, sample, upper=False)};" for c in text)
        return "".join(f"&#{ord(c)};" for c in text)
    return text.replace("&", "&amp;").replace("<", "&lt;")


def html_view(raw: str) -> View:
    """A view of ``raw`` with its HTML character references (``&#49;``, ``&amp;``) resolved."""
    groups: list[tuple[int, int, int, int, int]] = []
    parts: list[str] = []
    pos = dec = 0
    for m in _HTML_REF_RE.finditer(raw):
        if m.start() > pos:
            parts.append(raw[pos : m.start()])
            groups.append((pos, m.start(), dec, dec + m.start() - pos, IDENT))
            dec += m.start() - pos
        token = m.group()
        piece = html.unescape(token)
        parts.append(piece)
        kind = IDENT if piece == token else ESC
        groups.append((m.start(), m.end(), dec, dec + len(piece), kind))
        dec += len(piece)
        pos = m.end()
    if pos < len(raw):
        parts.append(raw[pos:])
        groups.append((pos, len(raw), dec, dec + len(raw) - pos, IDENT))
    return View(raw, "".join(parts), _coalesce(groups), _html_encode)


# --- \uXXXX and \xHH escapes -------------------------------------------------------------------


def _escape_encoder(text: str, escaped: bool, sample: str) -> str:
    if not escaped:
        return text
    if sample.startswith("\\x"):
        return "".join("\\x" + _hx(b, 2, sample, upper=False) for b in text.encode("utf-8"))
    if sample.startswith("\\U"):
        return "".join("\\U" + _hx(ord(c), 8, sample, upper=False) for c in text)
    return "".join("\\u" + _hx(u, 4, sample, upper=False) for u in _utf16_units(text))


def unicode_escape_view(raw: str) -> View:
    """A view of ``raw`` with ``\\uXXXX`` (surrogate pairs joined), ``\\UXXXXXXXX`` and runs of
    ``\\xHH`` (UTF-8, else GB18030, else Latin-1 bytes) resolved, as
    :func:`detectors.decoders.decode_unicode_escapes` reads them."""
    tokens = list(_ESCAPE_TOKEN_RE.finditer(raw))
    return _escapes_view(raw, tokens, _unicode_escape, _escape_encoder)


def _unicode_escape(
    tokens: list[re.Match[str]], i: int, dec: int, groups: list[Group]
) -> tuple[str, int, int]:
    m = tokens[i]
    run = m.group("x")
    if run is not None:
        data = bytes(int(run[k + 2 : k + 4], 16) for k in range(0, len(run), 4))
        decoded = decode_bytes_text(data)
        text, charset = decoded if decoded is not None else (data.decode("latin-1"), "latin-1")
        units = [(m.start() + k, m.start() + k + 4, 1, ESC) for k in range(0, len(run), 4)]
        _align(units, text, charset, dec, groups)
        return text, m.end(), i + 1
    code = int(m.group("u") or m.group("U"), 16)
    if code > 0x10FFFF:
        piece = m.group()
        groups.append((m.start(), m.end(), dec, dec + len(piece), IDENT))
        return piece, m.end(), i + 1
    piece, end, i = _code_point(code, tokens, i, "u")
    if 0xD800 <= ord(piece[0]) <= 0xDFFF:
        piece = "\ufffd"
    groups.append((m.start(), end, dec, dec + len(piece), ESC))
    return piece, end, i + 1


def _code_point(
    code: int, tokens: list[re.Match[str]], i: int, low_group: str | int
) -> tuple[str, int, int]:
    """The character of escape ``tokens[i]`` (``code``), joined with the next token when that
    is the low half of a surrogate pair right after it: ``(piece, end, index of the last token
    used)``."""
    end = tokens[i].end()
    if 0xD800 <= code <= 0xDBFF and i + 1 < len(tokens):
        nxt = tokens[i + 1]
        low = nxt.group(low_group)
        if nxt.start() == end and low is not None and 0xDC00 <= int(low, 16) <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + int(low, 16) - 0xDC00), nxt.end(), i + 1
    return chr(code), end, i


def _escapes_view(
    raw: str,
    tokens: list[re.Match[str]],
    resolve: Callable[[list[re.Match[str]], int, int, list[Group]], tuple[str, int, int]],
    encoder: Encoder,
) -> View:
    """A view of ``raw`` whose escape ``tokens`` are resolved by ``resolve(tokens, i, dec,
    groups)``: it appends the groups of ``tokens[i]`` (decoded text starting at ``dec``) and
    returns ``(decoded piece, raw end, index of the next token)``. Text between tokens maps to
    itself."""
    groups: list[Group] = []
    parts: list[str] = []
    pos = dec = 0
    i = 0
    while i < len(tokens):
        start = tokens[i].start()
        if start > pos:
            parts.append(raw[pos:start])
            groups.append((pos, start, dec, dec + start - pos, IDENT))
            dec += start - pos
        piece, pos, i = resolve(tokens, i, dec, groups)
        parts.append(piece)
        dec += len(piece)
    if pos < len(raw):
        parts.append(raw[pos:])
        groups.append((pos, len(raw), dec, dec + len(raw) - pos, IDENT))
    return View(raw, "".join(parts), _coalesce(groups), encoder)


# --- JSON string contents ----------------------------------------------------------------------


def _json_encoder(text: str, escaped: bool, sample: str) -> str:
    if escaped:
        return "".join("\\u" + _hx(u, 4, sample, upper=False) for u in _utf16_units(text))
    out: list[str] = []
    for c in text:
        if c in _JSON_LITERAL_ESCAPES:
            out.append(_JSON_LITERAL_ESCAPES[c])
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[k : k + 2], "big") for k in range(0, len(data), 2)]


def json_string_view(raw: str) -> View:
    """A view of the contents of a JSON string token (between its quotes), escapes resolved.

    Lone surrogates stay as they are (``json.loads`` keeps them too).
    """
    if "\\" not in raw:
        return identity_view(raw, _json_encoder)
    return _escapes_view(raw, list(_JSON_ESCAPE_RE.finditer(raw)), _json_escape, _json_encoder)


def _json_escape(
    tokens: list[re.Match[str]], i: int, dec: int, groups: list[Group]
) -> tuple[str, int, int]:
    m = tokens[i]
    if m.group(2) is not None:
        piece, end = _JSON_SHORT[m.group(2)], m.end()
    else:
        piece, end, i = _code_point(int(m.group(1), 16), tokens, i, 1)
    groups.append((m.start(), end, dec, dec + len(piece), ESC))
    return piece, end, i + 1


# --- base64 ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Base64View:
    """A base64 / base64url value decoded to text; edits re-encode the whole value.

    The alphabet (standard or URL-safe) and the presence of padding are kept as they were; a
    value using neither ``+/`` nor ``-_`` is re-encoded with the standard alphabet (the output
    decodes either way only when it happens to avoid those characters, see the report).
    """

    raw: str
    decoded: str
    charset: str
    urlsafe: bool
    padded: bool

    def map_edits(self, edits: Sequence[Edit]) -> list[Edit]:
        if not edits:
            return []
        new = apply_edits(self.decoded, edits).encode(self.charset)
        encoded = (base64.urlsafe_b64encode if self.urlsafe else base64.b64encode)(new).decode(
            "ascii"
        )
        if not self.padded:
            encoded = encoded.rstrip("=")
        return diff_edit(self.raw, encoded)


def base64_view(raw: str) -> Base64View | None:
    """Decode ``raw`` as :func:`detectors.decoders.decode_base64` does; None when it cannot."""
    stripped = raw.rstrip("=")
    padded = len(stripped) != len(raw)
    has_std = "+" in raw or "/" in raw
    urlsafe = not has_std and ("-" in raw or "_" in raw)
    core = stripped + "=" * (-len(stripped) % 4)
    if urlsafe:
        core = core.translate(str.maketrans("-_", "+/"))
    try:
        data = binascii.a2b_base64(core, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    decoded = decode_bytes_text(data)
    if decoded is None:
        return None
    return Base64View(raw, decoded[0], decoded[1], urlsafe, padded)
