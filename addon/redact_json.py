"""Redaction inside a JSON document, in place: only the tokens that hold findings are rewritten.

A JSON body (also GraphQL, and each line of NDJSON) is not re-serialized: the walker follows
the paths of the places to redact (``("data", "user", "idNo")``, ``("items", 0, "tel")``, a key
when the path ends with :data:`~detectors.structure.KEY`) through the document text, skipping
everything else with the C JSON scanner, and rewrites only the string (or number) tokens at
those paths. Every other byte, whitespace and escape of the document stays as it was:

* a string keeps its escapes, the masked characters are written like the ones they replace
  (``*`` for literal digits, ``\\u002a`` for ``\\u0031``);
* a number holding a value (a phone sent as ``13812345678``) becomes a string holding its mask
  (``"138****5678"``), since ``*`` cannot appear in a number; the document keeps its shape;
* a subtree path (the parser gives one when nesting exceeds its depth limit) is redacted as a
  JSON text of its own, token by token.

A path that is not in the document leaves its place unreached; the caller fails closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from addon.redact_text import Redactor, Unit
from addon.redact_views import Edit, json_string_view
from detectors.model import PathStep
from detectors.structure import KEY

__all__ = ["json_edits"]

_WS_RE = re.compile(r"[ \t\n\r]*")
_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class _Node:
    """A step of the paths to redact: the places at this step and the steps below it.

    Callers give one unit per place; were there two, the later one wins and the earlier one
    stays unreached (so it fails closed).
    """

    value: Unit | None = None
    key: Unit | None = None
    children: dict[PathStep, _Node] = field(default_factory=dict)


def _trie(units: Sequence[Unit], skip: int) -> _Node:
    root = _Node()
    for unit in units:
        path = unit.key[skip:]
        is_key = bool(path) and path[-1] == KEY
        if is_key:
            path = path[:-1]
        node = root
        for step in path:
            node = node.children.setdefault(step, _Node())
        if is_key:
            node.key = unit
        else:
            node.value = unit
    return root


def json_edits(text: str, start: int, units: Sequence[Unit], skip: int = 0) -> list[Edit]:
    """Edits of ``text`` masking the targets of ``units`` in the JSON value starting at
    ``start``; ``skip`` leading steps of the units' keys are not JSON steps (NDJSON's line).

    Raises ``ValueError`` when the text is not the JSON the paths were taken from.
    """
    out: list[Edit] = []
    _walk(text, start, _trie(units, skip), out)
    return out


def _ws(text: str, pos: int) -> int:
    m = _WS_RE.match(text, pos)
    return m.end() if m else pos


def _skip(text: str, pos: int) -> int:
    return int(_DECODER.raw_decode(text, pos)[1])


def _walk(text: str, pos: int, node: _Node, out: list[Edit]) -> int:
    """Walk the value at ``pos`` (no leading whitespace); return where it ends."""
    if node.value is not None:
        return _redact_value(text, pos, node.value, out)
    char = text[pos : pos + 1]
    if not node.children or char not in ("{", "["):
        return _skip(text, pos)
    pos = _ws(text, pos + 1)
    closing = "}" if char == "{" else "]"
    index = 0
    if text.startswith(closing, pos):
        return pos + 1
    while True:
        if char == "{":
            key_match = _STRING_RE.match(text, pos)
            if key_match is None:
                raise ValueError("object member without a string key")
            key, key_end = _DECODER.raw_decode(text, pos)
            child = node.children.get(key)
            if child is not None and child.key is not None:
                _redact_string(key_match, child.key, out)
            pos = _ws(text, key_end)
            if not text.startswith(":", pos):
                raise ValueError("object member without a colon")
            pos = _ws(text, pos + 1)
        else:
            child = node.children.get(index)
            index += 1
        if child is not None and (child.value is not None or child.children):
            pos = _walk(text, pos, child, out)
        else:
            pos = _skip(text, pos)
        pos = _ws(text, pos)
        if text.startswith(",", pos):
            pos = _ws(text, pos + 1)
            continue
        if text.startswith(closing, pos):
            return pos + 1
        raise ValueError("malformed JSON container")


def _redact_string(match: re.Match[str], unit: Unit, out: list[Edit]) -> None:
    """Mask inside the string token ``match``, escapes kept."""
    view = json_string_view(match.group(1))
    base = match.start(1)
    edits = unit.redact(view.decoded)
    out.extend((s + base, e + base, r) for s, e, r in view.map_edits(edits))


def _redact_value(text: str, pos: int, unit: Unit, out: list[Edit]) -> int:
    """Mask inside the value at ``pos``: a string, a number, or a whole subtree."""
    string = _STRING_RE.match(text, pos)
    if string is not None:
        _redact_string(string, unit, out)
        return string.end()
    end = _skip(text, pos)
    number = _NUMBER_RE.match(text, pos)
    if number is not None and number.end() == end:
        redactor = Redactor(unit.targets)
        edits = redactor.number_edits(number.group(), pos)
        unit.record(redactor, json.loads(edits[0][2]) if edits else number.group())
        out.extend(edits)
    else:
        subtree = text[pos:end]
        out.extend((s + pos, e + pos, r) for s, e, r in unit.redact(subtree))
    return end
