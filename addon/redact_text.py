"""Redacting personal data inside one decoded value: literal, structured and encoded copies.

Given the text of one container unit (a form value, a JSON string, a header, a whole text
body) and the raw values found in it, :class:`Redactor` computes edits that replace every copy
of each value by its mask wherever the scanner could see it:

* literally in the text;
* inside structure in the text, the way :func:`detectors.structure.expand_value` reads it: the
  string and number tokens of a JSON document (a number holding a value becomes a JSON string
  holding the mask, the document stays valid JSON), the names and values of ``a=1&b=2`` pairs
  and of a URL's query string (percent-decoded with the charset ``decode_pairs`` picks);
* inside encodings, the way :data:`detectors.decoders.DECODERS` read them (percent, HTML
  references, ``\\u``/``\\x`` escapes, base64): the text is decoded, redacted recursively and
  the edits are written back in the same encoding (see :mod:`addon.redact_views`).

Then :meth:`Redactor.exposed` re-reads the result the way the scanner does (every decoded
variant, every structured child) and reports any value still visible: those redactions failed
and the caller fails closed. Nothing here logs or raises with a value in the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from addon.redact_views import (
    Base64View,
    Edit,
    View,
    ViewError,
    apply_edits,
    base64_view,
    common_affixes,
    html_view,
    json_string_view,
    merge_edits,
    percent_view,
    unicode_escape_view,
)
from detectors.decoders import DECODERS, decode_bytes_text, decode_layers, percent_decode_bytes
from detectors.model import Field, PathStep
from detectors.structure import (
    FORM_IN_VALUE,
    URL_BASE,
    decode_urlencoded,
    expand_value,
    form_plus_is_space,
)

__all__ = ["Redactor", "Target", "Unit", "make_target"]

# Recursion bound of redaction and of the re-reading check: the scanner undoes up to 3 value
# encodings and 4 levels of structure per field, and request parsing up to 6 levels of
# structure before that; 12 covers both with room.
MAX_DEPTH = 12
# Decoding layers per step of the re-reading check (as the scanner's MAX_DECODE_LAYERS).
_DECODE_LAYERS = 3
# A character that may hide a value behind an encoding or structure.
_HIDING_RE = re.compile(r"[%&\\=+{\[]")
_JSON_TOKEN_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)', re.S)
_JSON_INT_RE = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Target:
    """A raw value to replace by ``masked``; an occurrence at ``i`` becomes the edit
    ``(i + start, i + end, replacement)`` (only the characters that differ are rewritten)."""

    value: str = field(repr=False)
    masked: str
    start: int
    end: int
    replacement: str


def make_target(value: str, masked: str) -> Target:
    """The target replacing ``value`` by ``masked``."""
    prefix, suffix = common_affixes(value, masked)
    return Target(value, masked, prefix, len(value) - suffix, masked[prefix : len(masked) - suffix])


def _json_number_text(token: str) -> str:
    """A JSON number as :func:`detectors.structure.json_fields` shows it to the scanner."""
    if _JSON_INT_RE.fullmatch(token):
        return str(int(token))
    return json.dumps(float(token))


def _structure_kind(text: str) -> str | None:
    """``json``, ``form`` or ``url`` when :func:`expand_value` would expand ``text``, else None."""
    if len(text) < 3:
        return None
    first = text[0] if not text[0].isspace() else text.lstrip()[:1]
    if first in ("{", "["):
        stripped = text.strip()
        if stripped[-1:] not in ("}", "]"):
            return None
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            return None
        return "json" if isinstance(obj, dict | list) and obj else None
    if "=" not in text:
        return None
    children = expand_value(Field("v", text), max_depth=1)
    if not children:
        return None
    first_step = children[0].path[0]
    if first_step == URL_BASE:
        return "url"
    return "form" if first_step == FORM_IN_VALUE else None


def _percent_value_view(text: str) -> View | None:
    decoded = decode_bytes_text(percent_decode_bytes(text))
    if decoded is None:
        return None
    return percent_view(text, decoded[1], plus=False, latin1=False)


# How to build the view matching each of the scanner's value decoders.
_VIEW_BUILDERS: dict[str, Callable[[str], View | Base64View | None]] = {
    "percent": _percent_value_view,
    "html": html_view,
    "unicode_escape": unicode_escape_view,
    "base64": base64_view,
}


class Redactor:
    """Edits that mask ``targets`` in a text; ``found`` collects the values met on the way."""

    def __init__(self, targets: Sequence[Target]) -> None:
        # Longest first: a card number is masked before a phone-shaped piece of it is looked at.
        self.targets = sorted(targets, key=lambda t: -len(t.value))
        self.values = frozenset(t.value for t in targets)
        self.found: set[str] = set()
        self.conflicts = 0

    # --- computing edits ----------------------------------------------------------------------

    def edits(self, text: str, depth: int = 0) -> list[Edit]:
        """Sorted, non-overlapping edits of ``text`` masking every visible copy of a target."""
        out: list[Edit] = []
        kind = _structure_kind(text) if depth < MAX_DEPTH else None
        if kind == "json":
            out.extend(self._json_edits(text, depth))
        elif kind == "form":
            out.extend(self._pairs_edits(text, 0, depth))
        elif kind == "url":
            q = text.index("?")
            hash_at = text.find("#", q + 1)
            q_end = hash_at if hash_at >= 0 else len(text)
            out.extend(self.edits(text[:q], depth + 1))
            out.extend(self._pairs_edits(text[q + 1 : q_end], q + 1, depth))
            # The scanner does not read a fragment, but a copy there would still leave.
            out.extend((s + q_end, e + q_end, r) for s, e, r in self._literal(text[q_end:]))
        else:
            out.extend(self._literal(text))
        if depth < MAX_DEPTH:
            out.extend(self._decoded_edits(text, depth))
        merged, conflicts = merge_edits(out)
        self.conflicts += conflicts
        return merged

    def _literal(self, text: str) -> list[Edit]:
        out: list[Edit] = []
        spans: list[tuple[int, int]] = []
        for t in self.targets:
            if t.value not in text:
                continue
            self.found.add(t.value)
            size = len(t.value)
            i = text.find(t.value)
            while i >= 0:
                j = i + size
                if not any(s < j and i < e for s, e in spans):
                    out.append((i + t.start, i + t.end, t.replacement))
                    spans.append((i, j))
                i = text.find(t.value, j)
        return out

    def worth(self, text: str) -> bool:
        """Cheap test: could ``text`` hold a target, literally or behind an encoding?"""
        if any(v in text for v in self.values):
            return True
        return len(text) >= 3 and (
            _HIDING_RE.search(text) is not None or (len(text) >= 8 and bool(decode_layers(text, 1)))
        )

    def _json_edits(self, text: str, depth: int) -> list[Edit]:
        out: list[Edit] = []
        for m in _JSON_TOKEN_RE.finditer(text):
            inner = m.group(1)
            if inner is not None:
                if not self.worth(inner):
                    continue
                view = json_string_view(inner)
                base = m.start(1)
                out.extend(
                    (s + base, e + base, r)
                    for s, e, r in view.map_edits(self.edits(view.decoded, depth + 1))
                )
            else:
                out.extend(self.number_edits(m.group(2), m.start(2)))
        return out

    def number_edits(self, token: str, base: int) -> list[Edit]:
        """A JSON number holding a target becomes a JSON string holding the mask."""
        shown = _json_number_text(token)
        if not any(v in shown for v in self.values):
            return []
        masked = apply_edits(shown, self._literal(shown))
        return [(base, base + len(token), json.dumps(masked))]

    def _pairs_edits(self, text: str, base: int, depth: int) -> list[Edit]:
        """Edits of the names and values of ``a=1&b=2``, one charset for all pairs as
        :func:`detectors.structure.decode_urlencoded` guesses it; ``+`` read as the parser reads it
        (:func:`detectors.structure.form_plus_is_space`)."""
        charset = decode_urlencoded(text.encode("utf-8", "surrogatepass")).charset
        plus = form_plus_is_space(text)
        out: list[Edit] = []
        pos = 0
        for item in text.split("&"):
            start = pos
            pos += len(item) + 1
            if not item:
                continue
            name, eq, value = item.partition("=")
            pieces = [(name, start)]
            if eq:
                pieces.append((value, start + len(name) + 1))
            for raw, offset in pieces:
                if not self.worth(raw):
                    continue
                view = percent_view(raw, charset, plus=plus, latin1=False)
                sub = self.edits(view.decoded, depth + 1)
                out.extend(
                    (s + base + offset, e + base + offset, r) for s, e, r in view.map_edits(sub)
                )
        return out

    def _decoded_edits(self, text: str, depth: int) -> list[Edit]:
        """Edits through each value decoder whose output still shows a target."""
        out: list[Edit] = []
        for name, decoder in DECODERS:
            decoded = decoder(text)
            if decoded is None or not self.exposed(decoded):
                continue
            view = _VIEW_BUILDERS[name](text)
            if view is None:
                continue
            try:
                out.extend(view.map_edits(self.edits(view.decoded, depth + 1)))
            except ViewError:
                # Cannot be written back in this encoding; the re-reading check decides.
                self.conflicts += 1
        return out

    # --- checking ----------------------------------------------------------------------------

    def exposed(self, text: str, values: Collection[str] | None = None, depth: int = 0) -> set[str]:
        """Targets still visible in ``text`` to a scanner: literally, in any decoded variant
        (up to 3 layers) or in any structured child, recursively."""
        wanted = frozenset(values) if values is not None else self.values
        hits: set[str] = set()
        variants = [text, *(v for v, _ in decode_layers(text, _DECODE_LAYERS))]
        for variant in variants:
            hits.update(v for v in wanted if v in variant)
            if len(hits) == len(wanted):
                return hits
            if (
                depth < MAX_DEPTH
                and len(variant) >= 3
                and ("=" in variant or variant.lstrip()[:1] in ("{", "["))
            ):
                for child in expand_value(Field("v", variant)):
                    hits |= self.exposed(child.value, wanted - hits, depth + 1)
                    if len(hits) == len(wanted):
                        return hits
        return hits


@dataclass(eq=False, slots=True)
class Unit:
    """One place of a request that holds findings: a form value, a JSON leaf, a header...

    ``source`` and ``key`` name it as :mod:`addon.request_fields` does (``key`` is the path up to
    the first structure marker, ending in ``KEY``/``FILENAME`` when the place is a name);
    ``location`` is for logs; ``encodings`` are the container-level encodings the parser
    applied (Content-Encodings, then the charset), taken from a finding. While redacting,
    ``reached`` records that the place was found in the request, ``found`` the values met
    there and ``exposed`` those still visible after the edits; ``broken`` that the place could
    not be rewritten at all.
    """

    source: str
    key: tuple[PathStep, ...]
    location: str
    encodings: tuple[str, ...] = ()
    targets: list[Target] = field(default_factory=list)
    reached: bool = False
    broken: bool = False
    found: set[str] = field(default_factory=set, repr=False)
    exposed: set[str] = field(default_factory=set, repr=False)

    def charset(self, index: int, default: str = "utf-8") -> str:
        """The charset at ``encodings[index]`` (after ``index`` Content-Encodings)."""
        return self.encodings[index] if len(self.encodings) > index else default

    def add(self, value: str, masked: str) -> None:
        """Add a value to mask here (a value found twice keeps the mask that hides more)."""
        for i, t in enumerate(self.targets):
            if t.value == value:
                if masked.count("*") > t.masked.count("*"):
                    self.targets[i] = make_target(value, masked)
                return
        self.targets.append(make_target(value, masked))

    def redact(self, text: str) -> list[Edit]:
        """Edits of ``text`` (a decoded text of this place) masking the targets; the outcome
        is recorded (a place may consist of several texts, e.g. filename and filename*)."""
        redactor = Redactor(self.targets)
        edits = redactor.edits(text)
        self.record(redactor, apply_edits(text, edits))
        return edits

    def record(self, redactor: Redactor, new: str) -> None:
        """Record what ``redactor`` found and what ``new`` (the text after its edits) still
        shows."""
        self.reached = True
        self.found |= redactor.found
        self.exposed |= redactor.exposed(new)

    def fail(self) -> None:
        """The place was found but cannot be rewritten."""
        self.reached = True
        self.broken = True

    def redacted(self) -> set[str]:
        """Values masked here: found, and no longer visible anywhere in the place."""
        if not self.reached or self.broken:
            return set()
        return {t.value for t in self.targets} & self.found - self.exposed
