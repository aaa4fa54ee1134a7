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

from detectors.decoders import MIN_BASE64_LEN, may_be_encoded
from detectors.recognizers.base import WIDE_CHARACTERS

__all__ = ["ValueGate"]

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


class ValueGate:
    """Does a value need the scanner at all? See the module docstring.

    ``prefilter`` is the scanner's shared candidate pattern (run on half-width text; values
    with full-width forms are always passed on), ``digit_lengths`` the lengths of digits-only
    values some recognizer may match.
    """

    __slots__ = ("digit_lengths", "needs_scan")

    def __init__(self, prefilter: re.Pattern[str], digit_lengths: Collection[int]) -> None:
        self.digit_lengths = frozenset(digit_lengths)
        self.needs_scan: Callable[[str], bool] = _needs_scan_function(
            prefilter, self.digit_lengths
        )
        """``needs_scan(value)`` is False only when scanning ``value``, in any field, finds
        nothing. A closure over its regexes: it runs once per leaf of a big body."""


def _needs_scan_function(
    prefilter: re.Pattern[str], digit_lengths: frozenset[int]
) -> Callable[[str], bool]:
    work = WORK_HINT.search
    deep = _DEEP_RE.search
    candidate = prefilter.search
    b64_alphabet = _B64_ALPHABET_RE.fullmatch
    min_b64 = MIN_BASE64_LEN

    def needs_scan(value: str) -> bool:
        # The same steps as Scanner._scan_all, without what depends on the field.
        if value.isdigit() and value.isascii():
            return len(value) in digit_lengths  # routed by length
        if work(value) is not None and (deep(value) is not None or candidate(value) is not None):
            return True
        # Only base64 is left.
        return (
            len(value) >= min_b64
            and value.isascii()
            and b64_alphabet(value) is not None
            and may_be_encoded(value)
        )

    return needs_scan
