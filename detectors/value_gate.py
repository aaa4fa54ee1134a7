"""A test on a value alone telling a parser it may skip it: the scanner would find nothing there.

A big JSON body has tens of thousands of leaves (ids, timestamps, amounts, names, statuses,
remarks); building a :class:`~detectors.model.Field` for each (its location string and path
tuple) and then deciding in :class:`~detectors.engine.Scanner` that it holds nothing costs
several microseconds per leaf. A parser holding a :class:`ValueGate` decides first, with a few
regex searches in C, and builds fields only for leaves that may matter.

The gate must never hide a finding: ``needs_scan(v)`` is False only when the scanner's own
shortcuts would skip ``v`` whatever the field's name, labels or place. It is the part of
``Scanner._scan_all``'s inline decision that depends on the value alone, made slightly wider
(a superset is safe; the scanner decides exactly). A property test checks the rule against the
scanner itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import NamedTuple, Protocol

from detectors.decoders import MIN_BASE64_LEN, may_be_encoded
from detectors.rules.base import WIDE_CHARACTERS

__all__ = ["DigitsNeed", "Keep", "Keepers", "ValueGate"]

# A value needs any work at all (a candidate, an encoding, structure) only with one of these
# characters (full-width digits and "@" included) or when it may be base64. Shared with
# Scanner._scan_all, which makes the same first test.
WORK_HINT = re.compile(r"[0-9%&\\=@{\[\uff10-\uff19\uff20]")
# Characters that send a value through decoding or structure expansion (percent, HTML
# references, escapes, "=", JSON starts) or through half-width conversion (full-width forms
# and odd dashes), after which the prefilter would run on a different text.
_DEEP_RE = re.compile(r"[%&\\={\[" + WIDE_CHARACTERS + "]")
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


class Keepers(NamedTuple):
    """The tests a parser runs on the leaves of one document (see :meth:`ValueGate.keepers`)."""

    keep: Keep
    """``keep(value, name)``: may scanning ``value`` in a field called ``name`` find
    something?"""
    keep_digits: Keep
    """``keep`` for a value of ASCII digits only (a JSON integer's text), without the tests
    that tell such a value from others."""


class ValueGate:
    """Does a value need the scanner at all? See the module docstring.

    ``prefilter`` is the scanner's shared candidate pattern (run on half-width text; values
    with full-width forms are always passed on), ``digit_lengths`` the lengths of digits-only
    values some recognizer may match, ``digits_need`` the scanner's exact test for such values
    given the field's name and labels (used by :meth:`keeper`). Two optional shortcuts come
    with the prefilter, which alone knows them: ``token_candidate(token)`` gives
    ``prefilter.search(token) is not None`` faster for a token of ASCII letters and digits,
    and a JSON number whose text is shorter than ``min_number_text`` never matches it.
    """

    __slots__ = ("_digits_need", "_keepers", "_prefilter", "_token_candidate", "digit_lengths",
                 "min_digits", "min_number_text", "needs_scan", "small_ints")  # fmt: skip

    def __init__(
        self,
        prefilter: re.Pattern[str],
        digit_lengths: Collection[int],
        digits_need: DigitsNeed | None = None,
        *,
        token_candidate: Callable[[str], bool] | None = None,
        min_number_text: int = 0,
    ) -> None:
        self._prefilter = prefilter
        self._digits_need = digits_need
        self._token_candidate = token_candidate
        # labels -> keepers: a request's JSON documents mostly share labels (none).
        self._keepers: dict[tuple[str, ...], Keepers] = {}
        self.digit_lengths = frozenset(digit_lengths)
        # Shortest digits-only value that may matter: a JSON integer in [0, small_ints) has
        # fewer digits, and is skipped without turning it into text.
        self.min_digits = min(self.digit_lengths, default=1)
        self.small_ints = 10 ** (self.min_digits - 1)
        # A JSON float whose text is shorter is skipped without the gate's search.
        self.min_number_text = min_number_text
        self.needs_scan: Keep = self._make(None, ()).keep
        """``needs_scan(value)`` is False only when scanning ``value``, in any field, finds
        nothing. A closure over its regexes: it runs once per leaf of a big body."""

    def keeper(self, labels: tuple[str, ...] = ()) -> Keep:
        """``keep(value, name)``: False only when scanning ``value`` in a field called ``name``
        with ``labels`` finds nothing. Narrower than :attr:`needs_scan` for digits-only values
        (timestamps, order numbers), which most recognizers report only with context."""
        return self.keepers(labels).keep

    def keepers(self, labels: tuple[str, ...] = ()) -> Keepers:
        """:meth:`keeper` and its shortcut for digits-only values, for fields with ``labels``."""
        keepers = self._keepers.get(labels)
        if keepers is None:
            if len(self._keepers) >= _MAX_KEEPERS:
                self._keepers.clear()
            keepers = self._keepers[labels] = self._make(self._digits_need, labels)
        return keepers

    def _make(self, digits_need: DigitsNeed | None, labels: tuple[str, ...]) -> Keepers:
        return _keep_functions(
            self._prefilter, self._token_candidate, self.digit_lengths, digits_need, labels
        )


def _keep_functions(
    prefilter: re.Pattern[str],
    token_candidate: Callable[[str], bool] | None,
    digit_lengths: frozenset[int],
    digits_need: DigitsNeed | None,
    labels: tuple[str, ...],
) -> Keepers:
    work = WORK_HINT.search
    # Two searches, each skipping in C to the characters its pattern starts with (one pattern
    # joining both would start anywhere and try every position).
    deep = _DEEP_RE.search
    candidate = prefilter.search
    b64_alphabet = _B64_ALPHABET_RE.fullmatch
    min_b64 = MIN_BASE64_LEN

    def keep_digits(value: str, name: str | None = None, /) -> bool:
        # Routed by length, then by the recognizers' checks and context.
        if len(value) not in digit_lengths:
            return False
        return digits_need is None or digits_need(value, name, labels)

    def keep(value: str, name: str | None = None, /) -> bool:
        # The same steps as Scanner._scan_all, without what depends on the field. Most values
        # (a name, a status, a sentence) hold no digit or special character: one search.
        if work(value) is not None:
            if value.isascii():
                if value.isdigit():
                    return keep_digits(value, name)
                if token_candidate is not None and value.isalnum():
                    # Letters and digits only (an order number, a hex id): no character that
                    # sends it through decoding, and the prefilter's shortcut for tokens.
                    return token_candidate(value) or (
                        len(value) >= min_b64 and may_be_encoded(value)
                    )
            # A character that sends the value through decoding, expansion or half-width
            # conversion, or a candidate of some recognizer.
            if deep(value) is not None or candidate(value) is not None:
                return True
        # Only base64 is left.
        return (
            len(value) >= min_b64
            and value.isascii()
            and b64_alphabet(value) is not None
            and may_be_encoded(value)
        )

    return Keepers(keep, keep_digits)
