"""Context words: does a field name, a label or the text just before a match support an entity?

Presidio's default enhancer matches context by substring (so ``tel`` matches ``hotel``) and needs
lemmas a blank spaCy pipeline does not produce. formshield matches instead:

- ASCII keywords as whole words only, after splitting names the way programmers write them
  (camelCase, snake_case, kebab-case, dots, digits): ``idCardNo`` gives ``id``, ``card``, ``no``
  plus the joined forms ``idcard``, ``cardno``, ``idcardno``, so both ``card`` and ``idcard`` match
  but ``hotelName`` never matches ``tel``. Pinyin abbreviations (``sfzh``, ``sjhm``, ``yhkh``) are
  plain words here.
- CJK keywords as substrings (Chinese has no spaces): ``身份证`` matches ``身份证号码``.

Scores follow Presidio's ``LemmaContextAwareEnhancer`` defaults: context adds
:data:`CONTEXT_BOOST` (0.35) with a floor of :data:`CONTEXT_FLOOR` (0.4), capped at 1.0. Together
with the recognizers' base scores (0.3 or less for candidates that need context) and the scanner's
threshold of 0.5, a candidate is reported only with context.

Keywords come from each recognizer's ``context`` list (its ``CONTEXT`` class constant).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

CONTEXT_BOOST = 0.35
CONTEXT_FLOOR = 0.4
# Characters before a match searched for keywords: enough for "身份证号码：" or "Mobile phone: ".
WINDOW = 16
# Longest ASCII name split into joined forms (bounds the quadratic number of joins).
_MAX_PARTS = 8

# CJK Unified Ideographs (+ extension A and compatibility ideographs): keyword text matched as
# substrings.
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAS_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# camelCase pieces: "IDCard" -> ID, Card; "idCardNo" -> id, Card, No; digits split off.
_ASCII_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_NON_LETTER = re.compile(r"[^A-Za-z]+")
# A run of hex digits with a digit and a letter (uuid and hash pieces): ``6a3cc868642c`` holds
# the letters "a", "cc", "c", which are not words ("cc" would be credit card context).
_HEX_TOKEN_RE = re.compile(
    r"(?<![0-9A-Za-z])(?=[A-Fa-f]*[0-9])(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]+(?![0-9A-Za-z])"
)
# How far a window edge inside an ASCII token is moved back to the token's start.
_MAX_EDGE_SHIFT = 64


class HasContext(Protocol):
    """Anything with a Presidio-style ``context`` keyword list (every ``EntityRecognizer``)."""

    context: list[str]


@dataclass(frozen=True, slots=True)
class ContextIndex:
    """A recognizer's keywords prepared for matching: compact ASCII words and CJK substrings."""

    ascii: frozenset[str]
    cjk: tuple[str, ...]
    # Any ASCII keyword as a substring of a text's lower-case letters (see may_occur_in).
    _ascii_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def may_occur_in(self, text: str, letters: str | None = None) -> bool:
        """Cheap necessary condition for :func:`keyword_before` to find a keyword in ``text``.

        True when a CJK keyword occurs in ``text`` or an ASCII keyword occurs in its lower-case
        ASCII letters with everything else removed (``letters``, from :func:`ascii_letters`,
        may be passed in when several indexes are asked about the same text): a keyword that
        :func:`field_name_words` finds is a run of adjacent letter parts, so it is a substring
        of those letters.
        """
        if self.cjk and _HAS_CJK.search(text) and any(k in text for k in self.cjk):
            return True
        if self._ascii_re is None:
            return False
        if letters is None:
            letters = ascii_letters(text)
        return bool(letters) and self._ascii_re.search(letters) is not None

    def matches_words(self, words: Iterable[str]) -> bool:
        """True when a word equals an ASCII keyword or contains a CJK keyword."""
        for word in words:
            if word in self.ascii:
                return True
            if self.cjk and _HAS_CJK.search(word) and any(k in word for k in self.cjk):
                return True
        return False


@lru_cache(maxsize=256)
def keyword_index(keywords: tuple[str, ...]) -> ContextIndex:
    """Prepare ``keywords``: CJK ones kept as is, ASCII ones lower-cased without separators
    (``"credit card"`` and ``"credit_card"`` become ``creditcard``, matched as one word)."""
    ascii_words: set[str] = set()
    cjk: list[str] = []
    for raw in keywords:
        keyword = raw.strip()
        if not keyword:
            continue
        if _HAS_CJK.search(keyword):
            cjk.append(keyword)
        else:
            compact = _NON_ALNUM.sub("", keyword.lower())
            if compact:
                ascii_words.add(compact)
    words = sorted(ascii_words, key=lambda w: (-len(w), w))
    pattern = re.compile("|".join(re.escape(w) for w in words)) if words else None
    return ContextIndex(frozenset(ascii_words), tuple(dict.fromkeys(cjk)), pattern)


def ascii_letters(text: str) -> str:
    """The ASCII letters of ``text``, lower-cased, everything else removed."""
    return _NON_LETTER.sub("", text).lower() if _ASCII_LETTER.search(text) else ""


def index_of(recognizer: HasContext) -> ContextIndex:
    """The :class:`ContextIndex` of a recognizer's ``context`` list (cached by content)."""
    return keyword_index(tuple(recognizer.context or ()))


def field_name_words(name: str) -> list[str]:
    """Split a field name or label into lower-case words for whole-word matching.

    ASCII parts are split on camelCase, ``_``, ``-``, ``.``, digits and any other separator;
    every run of two or more adjacent parts is also given joined (``idCardNo`` ->
    ``["id", "card", "no", "idcard", "cardno", "idcardno"]``), so a keyword written as one word
    matches however the name was spelled. Digits are dropped. CJK runs are kept whole
    (``用户身份证号`` stays one word; CJK keywords match inside it).
    """
    words: list[str] = []
    for cjk in _CJK_RUN.findall(name):
        words.append(cjk)
    parts = [p.lower() for p in _ASCII_PART.findall(name) if not p.isdigit()]
    if not parts:
        return words
    words.extend(parts)
    tail = parts[-_MAX_PARTS:]
    for size in range(2, len(tail) + 1):
        for first in range(len(tail) - size + 1):
            words.append("".join(tail[first : first + size]))
    return list(dict.fromkeys(words))


def words_of_labels(labels: Iterable[str]) -> list[str]:
    """:func:`field_name_words` of every label (field name, form label, file name), merged."""
    words: list[str] = []
    for label in labels:
        if label:
            words.extend(field_name_words(label))
    return list(dict.fromkeys(words))


def context_matches(recognizer: HasContext, words: Iterable[str]) -> bool:
    """True when any of ``words`` (from :func:`field_name_words`) is a keyword of ``recognizer``."""
    return index_of(recognizer).matches_words(words)


def keyword_before(text: str, start: int, recognizer: HasContext, window: int = WINDOW) -> bool:
    """True when one of ``recognizer``'s keywords appears in the ``window`` characters before
    ``start`` in ``text`` (e.g. ``"身份证号：110105..."``, ``"mobile: 138..."``).

    A window edge inside an ASCII word is moved back to the word's start, so a cut never turns
    ``hotel`` into ``tel``; hex tokens (``6a3cc868642c``) hold no words.
    """
    return has_keyword_before(text, start, index_of(recognizer), window)


def has_keyword_before(text: str, start: int, index: ContextIndex, window: int = WINDOW) -> bool:
    """:func:`keyword_before` with a prepared :class:`ContextIndex` (the scanner's hot path)."""
    if start <= 0:
        return False
    first = max(0, start - window)
    stop = max(0, first - _MAX_EDGE_SHIFT)
    while first > stop and text[first - 1].isascii() and text[first - 1].isalnum():
        first -= 1
    segment = text[first:start]
    if index.cjk and _HAS_CJK.search(segment) and any(k in segment for k in index.cjk):
        return True
    if index.ascii and _ASCII_LETTER.search(segment):
        segment = _HEX_TOKEN_RE.sub(" ", segment)
        return any(word in index.ascii for word in field_name_words(segment))
    return False


def boosted(score: float) -> float:
    """A score raised by context: +0.35, at least 0.4, at most 1.0."""
    return min(1.0, round(max(score + CONTEXT_BOOST, CONTEXT_FLOOR), 6))
