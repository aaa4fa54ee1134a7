"""A test on a value alone telling a parser it may skip it: the scanner would find nothing there.

A big JSON body has tens of thousands of leaves (ids, timestamps, amounts, names, statuses,
remarks); building a :class:`~detectors.model.Field` for each (its location string and path
tuple) and then deciding in :class:`~detectors.engine.Scanner` that it holds nothing costs
several microseconds per leaf. A parser holding a :class:`ValueGate` decides first, with one
regex search in C, and builds fields only for leaves that may matter.

The gate must never hide a finding: ``needs_scan(v)`` is False only when the scanner's own
shortcuts would skip ``v`` whatever the field's name, labels or place. It is the part of
``Scanner._scan_all``'s inline decision that depends on the value alone, made slightly wider
(a superset is safe; the scanner decides exactly). A property test checks the rule against the
scanner itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Protocol

from detectors.decoders import MIN_BASE64_LEN, may_be_encoded
from detectors.recognizers.base import WIDE_CHARACTERS

__all__ = ["DigitsNeed", "Keep", "ValueGate"]

# A value needs any work at all (a candidate, an encoding, structure) only with one of these
# characters (full-width digits and "@" included) or when it may be base64. Shared with
# Scanner._scan_all, which makes the same first test.
WORK_HINT = re.compile(r"[0-9%&\\=@{\[\uff10-\uff19\uff20]")
# Characters that send a value through decoding or structure expansion (percent, HTML
# references, escapes, "=", JSON starts) or through half-width conversion (full-width forms
# and odd dashes), after which the prefilter would run on a different text.
_DEEP_CLASS = r"[%&\\={\[" + WIDE_CHARACTERS + "]"
# A cheap superset of the base64 alphabet test, in C, before decoders.may_be_encoded.
_B64_ALPHABET_RE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


# Whether a digits-only value may give a finding in a field of this name and these labels
# (Scanner._digits_need: its length, the recognizers' digit checks, and context for the matches
# that need it).
DigitsNeed = Callable[[str, str | None, tuple[str, ...]], bool]


class Keep(Protocol):
    """``keep(value, name=None)``: may scanning ``value`` in a field called ``name`` find
    something?"""

    def __call__(self, value: str, name: str | None = None, /) -> bool: ...


# Keepers kept per labels (labels come from field names: bounded like the scanner's cache).
_MAX_KEEPERS = 1024


class ValueGate:
    """Does a value need the scanner at all? See the module docstring.

    ``prefilter`` is the scanner's shared candidate pattern (run on half-width text; values
    with full-width forms are always passed on), ``digit_lengths`` the lengths of digits-only
    values some recognizer may match, ``digits_need`` the scanner's exact test for such values
    given the field's name and labels (used by :meth:`keeper`).
    """

    __slots__ = ("_deep_or_candidate", "_digits_need", "_keepers", "digit_lengths", "min_digits",
                 "needs_scan")  # fmt: skip

    def __init__(
        self,
        prefilter: re.Pattern[str],
        digit_lengths: Collection[int],
        digits_need: DigitsNeed | None = None,
    ) -> None:
        # One search for both: a character that sends the value through decoding, expansion
        # or half-width conversion, or a candidate of some recognizer. Compiled once.
        self._deep_or_candidate = re.compile(
            f"{_DEEP_CLASS}|(?:{prefilter.pattern})", prefilter.flags
        )
        self._digits_need = digits_need
        # labels -> keeper: a request's JSON documents mostly share labels (none).
        self._keepers: dict[tuple[str, ...], Keep] = {}
        self.digit_lengths = frozenset(digit_lengths)
        # Shortest digits-only value that may matter: a JSON integer in [0, 10**(n-1)) is
        # skipped without turning it into text.
        self.min_digits = min(self.digit_lengths, default=1)
        self.needs_scan: Keep = _keep_function(
            self._deep_or_candidate, self.digit_lengths, None, ()
        )
        """``needs_scan(value)`` is False only when scanning ``value``, in any field, finds
        nothing. A closure over its regexes: it runs once per leaf of a big body."""

    def keeper(self, labels: tuple[str, ...] = ()) -> Keep:
        """``keep(value, name)``: False only when scanning ``value`` in a field called ``name``
        with ``labels`` finds nothing. Narrower than :attr:`needs_scan` for digits-only values
        (timestamps, order numbers), which most recognizers report only with context."""
        keep = self._keepers.get(labels)
        if keep is None:
            if len(self._keepers) >= _MAX_KEEPERS:
                self._keepers.clear()
            keep = self._keepers[labels] = _keep_function(
                self._deep_or_candidate, self.digit_lengths, self._digits_need, labels
            )
        return keep


def _keep_function(
    deep_or_candidate_re: re.Pattern[str],
    digit_lengths: frozenset[int],
    digits_need: DigitsNeed | None,
    labels: tuple[str, ...],
) -> Keep:
    work = WORK_HINT.search
    deep_or_candidate = deep_or_candidate_re.search
    b64_alphabet = _B64_ALPHABET_RE.fullmatch
    min_b64 = MIN_BASE64_LEN

    def keep(value: str, name: str | None = None, /) -> bool:
        # The same steps as Scanner._scan_all, without what depends on the field. Most values
        # (a name, a status, a sentence) hold no digit or special character: one search.
        if work(value) is not None:
            if value.isdigit() and value.isascii():
                # Routed by length, then by the recognizers' checks and context.
                if len(value) not in digit_lengths:
                    return False
                return digits_need is None or digits_need(value, name, labels)
            if deep_or_candidate(value) is not None:
                return True
        # Only base64 is left.
        return (
            len(value) >= min_b64
            and value.isascii()
            and b64_alphabet(value) is not None
            and may_be_encoded(value)
        )

    return keep
