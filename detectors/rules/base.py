"""Shared machinery of formshield's detection rules, without Presidio.

:class:`PatternRules` holds what one entity's recognizer knows: ``PATTERNS`` and ``CONTEXT``
class constants, like Presidio's predefined recognizers, validation and scoring. It imports
nothing of Presidio, so a proxy can scan with it without loading Presidio's NLP stack (spaCy,
numpy, pydantic: ~900 modules, ~64 MB and 1.3 s of start-up, see docs/performance.md).
:mod:`detectors.recognizers` builds the Presidio recognizers from these classes (the same
methods, a Presidio ``PatternRecognizer`` around them). The rules are tuned for scanning many
short form values:

- Full-width forms (``１３８``, ``（０１０）``, ``Ｘ``, the ideographic space) are read as their
  ASCII equivalents through a length-preserving translation (identical to NFKC on those
  characters), so match offsets index the caller's text unchanged.
- Patterns are compiled once with the standard ``re`` module and guarded by ``(?<![0-9])`` style
  look-arounds (never ``\\b``: CJK characters are word characters to ``re``).
- Cheap gates tell a scanner which recognizers a text needs (see :mod:`detectors.engine`):
  ``QUICK_CHECK`` must find something in every text any pattern could match; ``SOLO_CHECK``
  finds the shapes that may score above ``WEAK_MAX_SCORE`` without context (None: every match
  needs context); ``DIGIT_LENGTHS`` / ``SOLO_DIGIT_LENGTHS`` say the same for a text made only
  of ASCII digits by its length alone (the most common candidate: ids, timestamps, phones),
  refined by ``DIGITS_CHECK``.
  Gates run on the half-width text. Property tests check that a gate never skips a match.
- Per-match scoring goes through :meth:`PatternRules.score_candidate`, which by default
  follows Presidio's convention (``validate_result`` True -> 1.0, False -> dropped, None -> the
  pattern's score; ``invalidate_result`` True -> dropped) and may be overridden for graded scores.
- Context (keywords just before a match, field names and labels) is applied by the scanner
  (:mod:`detectors.engine`) or, in Presidio, by the recognizer (:mod:`detectors.context`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, NamedTuple, Protocol

# Presidio's score range (EntityRecognizer.MIN_SCORE and MAX_SCORE).
MIN_SCORE = 0.0
MAX_SCORE = 1.0


class PatternSpec(NamedTuple):
    """One regex of a recognizer: the fields of Presidio's ``Pattern`` (name, regex, score)."""

    name: str
    regex: str
    score: float


class PatternLike(Protocol):
    """A :class:`PatternSpec` or a Presidio ``Pattern``: what rules accept as a pattern."""

    @property
    def name(self) -> str: ...
    @property
    def regex(self) -> str: ...
    @property
    def score(self) -> float: ...


# Full-width ASCII variants U+FF01..U+FF5E map to U+0021..U+007E, the ideographic space to a space.
# NFKC does the same for these characters; unlike NFKC on a whole string, this never changes the
# length, so offsets stay valid.
_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALFWIDTH[0x3000] = 0x20
# Dashes that forms and word processors put between digit groups.
for _dash in ("\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63"):
    _HALFWIDTH[ord(_dash)] = ord("-")
_HALFWIDTH_TABLE = str.maketrans(_HALFWIDTH)
# str.translate with a table is slow on non-ASCII text (about 0.2 us per character); most text
# has no full-width forms at all, so look for one first.
# The characters to_halfwidth changes, escaped for use inside a regex character class.
WIDE_CHARACTERS = "".join(re.escape(chr(code)) for code in sorted(_HALFWIDTH))
_WIDE_RE = re.compile(f"[{WIDE_CHARACTERS}]")

# Any ASCII or full-width digit: every numeric recognizer needs at least one.
DIGIT_RE = re.compile(r"[0-9\uff10-\uff19]")
# The family of long numbers (resident IDs, bank and credit cards, phones): ten digits with at
# most five of " ()+-" between two of them (grouped IDs and cards use one space or dash).
NUMBER_FAMILY = re.compile(r"[0-9](?:[ ()+\-]{0,5}[0-9]){9}")
# The family of letter-led identifiers (passports, home-return permits, HK and Taiwan IDs): one
# or two letters not glued to a letter or digit before them, then 6 to 10 digits and no more
# (HKID: 6 + check; TW ID: 9; passport: 8, or 7 after a second letter; permit: 8 or 10).
# Order numbers like "E2023041121581948" (18 digits) fail it. IGNORECASE as their patterns.
LETTER_ID_FAMILY = re.compile(r"[A-Z](?<![0-9A-Za-z][A-Z])[A-Z]?[0-9]{6,10}(?![0-9])", re.I)


def to_halfwidth(text: str) -> str:
    """Return ``text`` with full-width ASCII forms and odd dashes replaced, same length."""
    if _WIDE_RE.search(text) is None:
        return text
    return text.translate(_HALFWIDTH_TABLE)


def digits_only(text: str) -> str:
    """Return the ASCII digits of ``text`` (after :func:`to_halfwidth`), in order."""
    if text.isascii() and text.isdigit():  # most candidates: nothing to drop
        return text
    return "".join(ch for ch in text if "0" <= ch <= "9")


# Luhn: a doubled digit d contributes 2d (minus 9 above 9): as a character, that digit sum.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_valid(number: str) -> bool:
    """Return True when the ASCII digit string ``number`` passes the Luhn (mod 10) check."""
    # Every other digit from the right is doubled; summing the bytes (in C) and removing the
    # ASCII offsets gives the digit sum without a Python loop.
    kept = number[::-2]
    doubled = number[-2::-2].translate(_LUHN_DOUBLED)
    total = sum(kept.encode()) + sum(doubled.encode()) - 48 * len(number)
    return total % 10 == 0


class PatternRules:
    """What one entity's recognizer knows: precompiled patterns, full-width aware, graded scores.

    Subclasses set ``ENTITY``, ``NAME``, ``PATTERNS`` and ``CONTEXT`` and override
    ``validate_result`` / ``invalidate_result`` or :meth:`score_candidate`. Flags: patterns are
    compiled with ``FLAGS`` (default ``0``: case-sensitive; letters-based IDs set
    ``re.IGNORECASE``). The attributes an instance has (``supported_entities``,
    ``supported_language``, ``name``, ``context``) are those of a Presidio recognizer.
    """

    ENTITY: ClassVar[str] = ""
    # The name findings carry: the class name of the Presidio recognizer built from these rules
    # (tests check that they agree).
    NAME: ClassVar[str] = ""
    PATTERNS: ClassVar[Sequence[PatternLike]] = []
    CONTEXT: ClassVar[list[str]] = []
    FLAGS: ClassVar[int] = 0
    # Must find something in every (half-width) text any pattern could match; None runs the
    # patterns always.
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = DIGIT_RE
    # Must find something in every text where a match may score above WEAK_MAX_SCORE before
    # context; None when every match needs context. The default assumes any match may.
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = DIGIT_RE
    WEAK_MAX_SCORE: ClassVar[float] = 0.3
    # For a text of ASCII digits only: the lengths a match may have (patterns are digit-guarded,
    # so a match is the whole text) and those that may score above WEAK_MAX_SCORE without
    # context. None: not declared, the scanner uses the regex gates.
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = None
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = None
    # Optional finer tests of such a text (``fullmatch``): may it match at all (e.g. the
    # prefixes a phone may have), may the match score above WEAK_MAX_SCORE without context?
    DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = None
    SOLO_DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = None
    # Optional check shared by several recognizers (the same object), which a scanner runs once
    # per text before their own QUICK_CHECKs; like QUICK_CHECK it must never miss a match.
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = None

    def __init__(
        self,
        patterns: Sequence[PatternLike] | None = None,
        context: list[str] | None = None,
        *,
        supported_language: str = "zh",
        supported_entity: str | None = None,
        replacement_pairs: list[tuple[str, str]] | None = None,
        name: str | None = None,
    ) -> None:
        self.supported_entities = [supported_entity or self.ENTITY]
        self.supported_language = supported_language
        self.name = name or self.NAME or type(self).__name__
        self.replacement_pairs = (
            replacement_pairs if replacement_pairs is not None else [("-", ""), (" ", "")]
        )
        # A copy: never share the class constant between instances.
        self.context = list(context if context else self.CONTEXT)
        self.pattern_specs = [
            PatternSpec(spec.name, spec.regex, spec.score) for spec in (patterns or self.PATTERNS)
        ]
        self._compiled: list[tuple[PatternSpec, re.Pattern[str]]] = [
            (spec, re.compile(spec.regex, self.FLAGS)) for spec in self.pattern_specs
        ]
        self.load()

    def load(self) -> None:
        """Load the tables the rules use now, not on the first match (default: none)."""

    def find(self, normal: str) -> list[tuple[int, int, float, PatternSpec]]:
        """Matches in the half-width text ``normal`` (see :func:`to_halfwidth`) as ``(start,
        end, score, pattern)``, scores before context, dropped ones left out.

        What a scanner calls after its own gates; the Presidio recognizer's ``analyze`` adds
        the quick check and result objects.
        """
        found: list[tuple[int, int, float, PatternSpec]] = []
        for pattern, compiled in self._compiled:
            # The usual answer is "no match": a search is cheaper than an iterator. Look-behind
            # guards still see the text before ``pos`` when iterating on from the first match.
            first = compiled.search(normal)
            if first is None:
                continue
            for match in compiled.finditer(normal, first.start()):
                start, end = match.span()
                if start == end:
                    continue
                score = self.score_candidate(normal[start:end], pattern)
                if score > MIN_SCORE:
                    found.append((start, end, score, pattern))
        return found

    def score_candidate(self, value: str, pattern: PatternSpec) -> float:
        """Score one match (``value`` is half-width); 0 drops it.

        Default: Presidio's convention with ``validate_result`` and ``invalidate_result``
        (validated -> 1.0, invalidated -> dropped, undecided -> the pattern's score).
        """
        validation = self.validate_result(value)
        if validation is False:
            return MIN_SCORE
        if self.invalidate_result(value):
            return MIN_SCORE
        return MAX_SCORE if validation else float(pattern.score)

    def validate_result(self, pattern_text: str) -> bool | None:
        """True: certainly the entity (1.0); False: certainly not (dropped); None: undecided."""
        return None

    def invalidate_result(self, pattern_text: str) -> bool | None:
        """True drops the match (e.g. a masked value)."""
        return False
