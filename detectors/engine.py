"""The scanning engine: fields in, findings out, fast enough to sit in a proxy's hot path.

Presidio's ``AnalyzerEngine`` runs an NLP pipeline and every recognizer over every text; a proxy
cannot afford that per request. The :class:`Scanner` uses the rules formshield's Presidio
recognizers are made of (:mod:`detectors.rules`; the recognizers a plain ``AnalyzerEngine`` uses
are those rules inside Presidio classes, see :mod:`detectors.recognizers`) and drives them
itself. It does not import Presidio: a proxy that loads the scanner stays free of Presidio's NLP
stack (~900 modules, ~64 MB and 1.3 s of start-up, see docs/performance.md).

1. each field value is expanded when it holds structured data (JSON, urlencoded) and decoded
   through up to three layers of value encodings (percent, base64, HTML references, escapes),
   see :mod:`detectors.decoders` and :mod:`detectors.structure`;
2. each text is routed to the recognizers whose shape it has (the gates of
   :class:`~detectors.rules.base.PatternRules`: a text of digits only by its length, other
   texts by one combined pre-check and then per-recognizer checks); a recognizer whose matches
   all need context (passports, permits, HK/TW IDs, 15-digit IDs, 13-digit card numbers) runs
   only when the field name, its labels or the text hold one of its keywords.
   Most values (order numbers, timestamps, amounts, names) reach no recognizer at all;
3. the recognizers run without NLP artifacts; context comes from the field's name and labels
   and from keywords just before a match (:mod:`detectors.context`), not from lemmas;
4. overlapping results are resolved (the highest score wins, then the longest span; a legacy
   15-digit ID with ID context wins over the Amex-shaped card number it also is), and the same
   value found again in a decoded variant of the same field is reported once.

Recognizers that are not formshield's own (``recognizers=`` with any Presidio
``EntityRecognizer``) have no gates: they run on every text, through ``analyze``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Sequence, Sized
from typing import TYPE_CHECKING, NamedTuple

from detectors.context import (
    ContextIndex,
    ascii_letters,
    boosted,
    has_keyword_before,
    index_of,
    words_of_labels,
)
from detectors.decoders import MIN_BASE64_LEN, decode_layers, may_be_encoded
from detectors.gc_pause import paused_gc
from detectors.masking import mask
from detectors.model import Field, Finding
from detectors.rules import formshield_rules
from detectors.rules.base import PatternRules, to_halfwidth
from detectors.structure import expand_value
from detectors.value_gate import WORK_HINT, ValueGate

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

DEFAULT_MIN_SCORE = 0.5
# Layers of value encodings undone per field (percent inside base64 inside percent, ...).
MAX_DECODE_LAYERS = 3
# Nesting of structured values inside values (a JSON string holding a form holding JSON ...).
MAX_EXPAND_DEPTH = 4
# Scanning this many fields pauses the cyclic garbage collector (detectors.gc_pause).
_GC_PAUSE_FIELDS = 2000
# Field names/labels whose context is remembered (they repeat across the records of a body).
_CONTEXT_CACHE_SIZE = 4096
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# A value can hold structure (JSON, a form, a URL with a query) only with one of these.
_STRUCTURE_HINT = re.compile(r"[=\[{]")
# Every gate of formshield's recognizers implies this (on the half-width text), with the
# recognizers' own guards: ten digits in a row not glued to a letter or digit (cards, phones,
# IDs), 15 or 18 characters of an ID after a non-digit with its month or century in place (IDs
# may follow a letter: "sfz110105..."), a run of digits followed by at most five of " ()+-" and
# a digit (grouped numbers), 6-10 digits after one or two letters that start a token
# (passports, permits, HK/TW IDs; the letter class adds the four non-ASCII letters that
# IGNORECASE lets [A-Z] match) or an "@". Order numbers such as "DD2020110820493559387" and
# "E202304112158194876" fail it. Every branch starts at a digit (the first of its run) or an
# "@", so re skips everything else (letters, CJK) in C; a property test checks that it never
# hides a match.
_LETTER = "A-Za-z\u0130\u0131\u017f\u212a"
_NATIVE_PREFILTER = re.compile(
    r"[0-9@](?:(?<=[0-9])(?<![0-9][0-9])(?:"
    r"[0-9]*+[ ()+\-]{1,5}[0-9]"
    r"|(?<![A-Za-z][0-9])[0-9]{9}"
    r"|[0-9]{7}(?:0[1-9]|1[0-2])[0-9]{5}(?![0-9Xx])"
    r"|[0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])"
    rf"|(?:(?<=(?<![0-9{_LETTER}])[{_LETTER}][0-9])|(?<=(?<![0-9{_LETTER}])[{_LETTER}]{{2}}[0-9]))"
    r"[0-9]{5,9}+(?![0-9]))"
    r"|(?<=@))"
)
# On a token of ASCII letters and digits (order numbers, hex ids, codes: most values with digits
# in a big body) the prefilter can match only at its start (ten digits, or one or two letters
# and 6-10 digits) or where the 15 or 18 characters of an ID follow a letter: every other
# branch needs a non-alphanumeric character. One anchored match and one search that re starts
# at letters only; a property test checks they answer as the prefilter does.
_TOKEN_START = re.compile(r"[0-9]{10}|[A-Za-z]{1,2}[0-9]{6,10}+(?![0-9])")
_LETTER_THEN_ID = re.compile(
    r"[A-Za-z](?=[0-9]{8}(?:0[1-9]|1[0-2])[0-9]{5}(?![0-9Xx])"
    r"|[0-9]{6}(?:19|20)[0-9]{9}[0-9Xx](?![0-9]))"
)
# The text of a JSON number (sign, digits, point, exponent) can match the prefilter only through
# ten digits in a row: no letter in it starts a token, no separator follows a digit.
_NATIVE_NUMBER_MIN_LEN = 10


def _native_token_candidate(token: str) -> bool:
    """``_NATIVE_PREFILTER.search(token) is not None`` for ``token`` of ASCII letters and digits."""
    return _TOKEN_START.match(token) is not None or _LETTER_THEN_ID.search(token) is not None


# The one same-span preference that is not "highest score": a 15-digit number that is a
# plausible legacy resident ID (province and date; the recognizer scores it only with context)
# and has ID context is an ID, even when it also passes as an Amex card at 1.0 (34 and 37 are
# Anhui and Shandong: one in ten of their legacy IDs passes Luhn and looks like an Amex card).
# Without ID context the card stands; an 18-character ID wins on its own (same score, and the
# ID recognizer comes first).
_ID_ENTITY = "CN_RESIDENT_ID"
_CARD_ENTITY = "CREDIT_CARD"


class _Route:
    """One recognizer and its gates, prepared once per Scanner."""

    __slots__ = (
        "digit_lengths",
        "digits_check",
        "entities",
        "family",
        "index",
        "keywords",
        "label",
        "native",
        "needs_context",
        "position",
        "quick",
        "recognizer",
        "solo",
        "solo_digit_lengths",
        "solo_digits_check",
    )

    def __init__(
        self,
        recognizer: PatternRules | EntityRecognizer,
        entities: list[str],
        position: int,
        min_score: float,
    ) -> None:
        self.recognizer = recognizer
        self.entities = entities
        self.position = position
        self.keywords: ContextIndex = index_of(recognizer)
        # Only formshield's own rules (alone or inside its Presidio recognizers) declare gates
        # (and keep their own entity).
        self.native = isinstance(recognizer, PatternRules)
        if isinstance(recognizer, PatternRules):
            self.label: str = recognizer.name  # bare rules carry their Presidio recognizer's name
            cls = type(recognizer)
            self.family: re.Pattern[str] | None = cls.FAMILY_CHECK
            self.quick: re.Pattern[str] | None = cls.QUICK_CHECK
            self.solo: re.Pattern[str] | None = cls.SOLO_CHECK
            self.digit_lengths = cls.DIGIT_LENGTHS
            self.solo_digit_lengths = cls.SOLO_DIGIT_LENGTHS
            self.digits_check: re.Pattern[str] | None = cls.DIGITS_CHECK
            self.solo_digits_check: re.Pattern[str] | None = cls.SOLO_DIGITS_CHECK
            # Matches that do not fit the solo gate score at most WEAK_MAX_SCORE before context:
            # below the threshold they can only be reported with context.
            self.needs_context = min_score > cls.WEAK_MAX_SCORE
        else:
            self.label = type(recognizer).__name__
            self.family = self.quick = self.solo = None
            self.digit_lengths = self.solo_digit_lengths = None
            self.digits_check = self.solo_digits_check = None
            self.needs_context = False


class _Hit(NamedTuple):
    """A result after context: span in the text, score, entity, recognizer, context seen."""

    start: int
    end: int
    score: float
    entity: str
    recognizer: str
    context: bool


class Scanner:
    """Find personal data in :class:`~detectors.model.Field` values.

    ``entities`` restricts the entity types reported (default: every type the recognizers
    support); ``min_score`` is the reporting threshold (0.5: candidates that need context score
    0.3 and reach it only with context). ``recognizers`` replaces the default set (formshield's
    rules, :func:`detectors.rules.formshield_rules`), e.g. to add a custom Presidio recognizer;
    formshield's Presidio recognizers are scanned through their rules, like the default set.
    Building a Scanner loads every lazy table the recognizers use (public suffixes, GB/T 2260
    counties), so the first request is not slower than the others.
    A Scanner does not change after construction (apart from an internal cache of field-name
    context) and is safe to share between threads.
    """

    def __init__(
        self,
        *,
        entities: Collection[str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        recognizers: Sequence[PatternRules | EntityRecognizer] | None = None,
    ) -> None:
        chosen = list(recognizers) if recognizers is not None else formshield_rules()
        wanted = set(entities) if entities is not None else None
        self.min_score = min_score
        self._routes: list[_Route] = []
        for recognizer in chosen:
            supported = [e for e in recognizer.supported_entities if wanted is None or e in wanted]
            if supported:
                self._routes.append(_Route(recognizer, supported, len(self._routes), min_score))
        self.entities = frozenset(e for r in self._routes for e in r.entities)
        self._gated = True  # tests turn routing off to compare against running everything
        # formshield's recognizers share a prefilter; any other recognizer runs on every text.
        self._prefilter = (
            _NATIVE_PREFILTER if all(r.native and r.quick for r in self._routes) else None
        )
        # Digits-only texts: routes per length (a dict lookup instead of regex gates), each
        # with whether it may be strong at that length.
        self._by_length: dict[int, tuple[tuple[_Route, bool], ...]] = {}
        self._digits_routed = all(r.digit_lengths is not None for r in self._routes)
        if self._digits_routed:
            lengths = {n for r in self._routes for n in (r.digit_lengths or ())}
            self._by_length = {
                n: tuple(
                    (r, n in (r.solo_digit_lengths or ()))
                    for r in self._routes
                    if n in (r.digit_lengths or ())
                )
                for n in lengths
            }
        self._context_cache: dict[tuple[str | None, tuple[str, ...]], tuple[bool, ...]] = {}
        self._value_gate = (
            ValueGate(
                self._prefilter,
                self._by_length,
                self._digits_need,
                token_candidate=_native_token_candidate,
                min_number_text=_NATIVE_NUMBER_MIN_LEN,
            )
            if self._prefilter is _NATIVE_PREFILTER and self._digits_routed
            else None
        )

    @property
    def value_gate(self) -> ValueGate | None:
        """A test on a value alone that this scanner finds nothing in it (for parsers that
        skip such values of big bodies), or None when every value must be scanned (recognizers
        without gates). See :mod:`detectors.value_gate`."""
        return self._value_gate if self._gated else None

    def scan_text(
        self, text: str, *, location: str = "text", name: str | None = None
    ) -> list[Finding]:
        """Scan one string, as if it were the value of a field called ``name``."""
        return self.scan_fields([Field(location=location, value=text, name=name)])

    def scan_fields(self, fields: Iterable[Field]) -> list[Finding]:
        """Scan every field; findings come in field order, then by position.

        The cyclic garbage collector is paused while a big list of fields is scanned (see
        :mod:`detectors.gc_pause`).
        """
        # list first: it answers at once, before the (slow) check against the Sized ABC.
        if isinstance(fields, (list, Sized)) and len(fields) >= _GC_PAUSE_FIELDS:
            with paused_gc():
                return self._scan_all(fields)
        return self._scan_all(fields)  # no context manager for small requests (~2 us)

    def _scan_all(self, fields: Iterable[Field]) -> list[Finding]:
        findings: list[Finding] = []
        scan_field = self._scan_field
        if not self._gated:  # the reference for tests: no shortcut at all
            for field in fields:
                if field.value:
                    scan_field(field, findings, 0, len(field.encodings))
            return findings
        # Most values of a big body (ids, timestamps, amounts, names, statuses, remarks) hold
        # nothing to decode, expand or recognize: the common cases are decided inline, with
        # everything the loop needs bound to locals.
        work = WORK_HINT.search
        prefilter = self._prefilter.search if self._prefilter is not None else None
        digits_routed = self._digits_routed
        by_length = self._by_length
        digit_routes, routes_for, plain = self._digit_routes, self._routes_for, self._plain
        may_be_b64 = may_be_encoded
        min_b64 = MIN_BASE64_LEN
        for field in fields:
            value = field.value
            if not value:
                continue
            if digits_routed and value.isdigit() and value.isascii():
                # Digits only: never encoded or structured; routed by length.
                if len(value) in by_length:
                    routes = digit_routes(field, value)
                    if routes:
                        plain(field, value, value, routes, findings)
                continue
            ascii_value = value.isascii()
            if work(value) is None:
                # No digit, "@", escape or structure character: only base64 is possible.
                if ascii_value and len(value) >= min_b64 and may_be_b64(value):
                    scan_field(field, findings, 0, len(field.encodings))
                continue
            if (
                "%" in value
                or "&" in value
                or "\\" in value
                or (ascii_value and len(value) >= min_b64 and may_be_b64(value))
                or "=" in value  # structure (_STRUCTURE_HINT), as substring tests
                or "{" in value
                or "[" in value
            ):
                scan_field(field, findings, 0, len(field.encodings))
                continue
            normal = value if ascii_value else to_halfwidth(value)
            if prefilter is None or prefilter(normal) is not None:
                routes = routes_for(field, normal)
                if routes:
                    plain(field, value, normal, routes, findings)
        return findings

    def _plain(
        self,
        field: Field,
        value: str,
        normal: str,
        routes: list[tuple[_Route, bool]],
        out: list[Finding],
    ) -> None:
        """Run ``routes`` on a value that needs no decoding or expansion (``normal``:
        half-width) and report what they find."""
        hits = self._run(field, value, normal, routes)
        if hits:
            self._report(
                field,
                value,
                hits,
                encodings=field.encodings,
                base=len(field.encodings),
                out=out,
                seen=None,
            )

    # --- fields, variants, structure -------------------------------------------------------

    def _scan_field(self, field: Field, out: list[Finding], depth: int, base: int) -> None:
        """Scan ``field``; ``base`` is how many of its encodings are the request container's
        (the rest, added while decoding and expanding values, are reported as value encodings)."""
        value = field.value
        decoded = decode_layers(value, MAX_DECODE_LAYERS)
        if not decoded:
            # The common case: a plain value (one variant, nothing to deduplicate across).
            if depth < MAX_EXPAND_DEPTH and _STRUCTURE_HINT.search(value):
                children = expand_value(field)
                if children:
                    for child in children:
                        self._scan_field(child, out, depth + 1, base)
                    return
            self._scan_text(field, value, field.encodings, base, out, seen=None)
            return
        seen: set[tuple[str, str]] = set()
        # Chains of the variants that were read as structure: their leaves are decoded one by
        # one, so a variant decoded further from the whole text is not read again. Decoding a
        # whole form first is wrong: "a=x%2By%40b.cn" percent-decoded then split turns the
        # "+" into a space, and "y@b.cn" would be reported for "x+y@b.cn".
        structured: list[tuple[str, ...]] = []
        # Variants whose percent-decoding is a variant too: their digit runs glued to an escape
        # ("%226013..." for a quoted card number) are artifacts; the decoding is scanned.
        percent_parents = {chain[:-1] for _, chain in decoded if chain[-1] == "percent"}
        for text, chain in [(value, ()), *decoded]:
            if any(chain[: len(done)] == done for done in structured):
                continue
            current = (
                field
                if not chain
                else dataclasses.replace(field, value=text, encodings=(*field.encodings, *chain))
            )
            if depth < MAX_EXPAND_DEPTH and _STRUCTURE_HINT.search(text):
                # Structured data inside the value (a JSON payload in a form field, a form
                # inside base64): scan its leaves with their own names as context.
                children = expand_value(current)
                if children:
                    structured.append(chain)
                    for child in children:
                        self._scan_field(child, out, depth + 1, base)
                    continue
            self._scan_text(
                field,
                text,
                current.encodings,
                base,
                out,
                seen=seen,
                percent_encoded=chain in percent_parents,
            )

    def _scan_text(
        self,
        field: Field,
        text: str,
        encodings: tuple[str, ...],
        base: int,
        out: list[Finding],
        *,
        seen: set[tuple[str, str]] | None,
        percent_encoded: bool = False,
    ) -> None:
        """Append the findings of one (decoded) text of ``field`` to ``out``.

        ``seen`` holds ``(entity, value)`` already reported for this field (None: a new set).
        ``percent_encoded``: the text's percent-decoding is scanned too, so a match that
        overlaps a ``%XX`` escape (its hex digits glued to a number) is dropped here.
        """
        hits = self._analyze(field, text)
        if hits and percent_encoded:
            escapes = [m.span() for m in _PERCENT_ESCAPE.finditer(text)]
            hits = [h for h in hits if all(h.end <= s or h.start >= e for s, e in escapes)]
        self._report(
            field,
            text,
            hits,
            encodings=encodings,
            base=base,
            out=out,
            seen=seen,
        )

    @staticmethod
    def _report(
        field: Field,
        text: str,
        hits: list[_Hit],
        *,
        encodings: tuple[str, ...],
        base: int,
        out: list[Finding],
        seen: set[tuple[str, str]] | None,
    ) -> None:
        """Append a finding per hit, skipping values ``seen`` before in the same field."""
        if not hits:
            return
        if seen is None:
            seen = set()
        for hit in hits:
            value = text[hit.start : hit.end]
            key = (hit.entity, value)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                Finding(
                    entity_type=hit.entity,
                    score=hit.score,
                    location=field.location,
                    masked=mask(hit.entity, value),
                    value=value,
                    start=hit.start,
                    end=hit.end,
                    field_name=field.name,
                    encodings=encodings,
                    value_encodings=encodings[base:],
                    recognizer=hit.recognizer,
                    source=field.source,
                    path=field.path,
                )
            )

    # --- routing and recognizers -----------------------------------------------------------

    def _routes_for(self, field: Field, normal: str) -> list[tuple[_Route, bool]]:
        """The recognizers ``normal`` (a half-width text of ``field``) needs, each with whether
        its matches there may be reported without context ("strong")."""
        if not self._gated:
            return [(r, True) for r in self._routes]
        if self._digits_routed and normal.isdigit() and normal.isascii():
            return self._digit_routes(field, normal)
        if self._prefilter is not None and self._prefilter.search(normal) is None:
            return []
        routes = []
        families: dict[re.Pattern[str], bool] = {}
        for route in self._routes:
            family = route.family
            if family is not None:
                passed = families.get(family)
                if passed is None:
                    passed = families[family] = family.search(normal) is not None
                if not passed:
                    continue
            quick = route.quick
            if quick is not None and quick.search(normal) is None:
                continue
            solo = route.solo
            strong = solo is not None and (solo is quick or solo.search(normal) is not None)
            routes.append((route, strong))
        weak = [r for r, strong in routes if not strong and r.needs_context]
        if not weak:
            return routes
        # Matches of these routes are reported only with context: keep them only when the
        # field's name/labels or the text itself hold one of their keywords.
        named = self._name_context(field)
        letters: str | None = None
        keep: list[tuple[_Route, bool]] = []
        for route, strong in routes:
            if strong or not route.needs_context or named[route.position]:
                keep.append((route, strong))
                continue
            if letters is None:
                letters = ascii_letters(normal)
            if route.keywords.may_occur_in(normal, letters):
                keep.append((route, strong))
        return keep

    def _digit_routes(self, field: Field, digits: str) -> list[tuple[_Route, bool]]:
        """:meth:`_routes_for` a text of ASCII digits only (see :meth:`_digit_routes_named`)."""
        return self._digit_routes_named(digits, field.name, field.labels)

    def _digit_routes_named(
        self, digits: str, name: str | None, labels: tuple[str, ...]
    ) -> list[tuple[_Route, bool]]:
        """The routes of ``digits`` (ASCII digits only) in a field called ``name`` with
        ``labels``: by its length, then the finer checks; a route whose matches need context
        keeps them only when the name or labels give it (the text itself holds no keyword)."""
        entries = self._by_length.get(len(digits))
        if not entries:
            return []
        routes: list[tuple[_Route, bool]] = []
        named: tuple[bool, ...] | None = None
        for route, solo_length in entries:
            check = route.digits_check
            if check is not None and check.fullmatch(digits) is None:
                continue
            solo = route.solo_digits_check
            strong = solo_length and (solo is None or solo.fullmatch(digits) is not None)
            if not strong and route.needs_context:
                if named is None:
                    named = self._context_of(name, labels)
                if not named[route.position]:
                    continue
            routes.append((route, strong))
        return routes

    def _digits_need(self, digits: str, name: str | None, labels: tuple[str, ...]) -> bool:
        """Would ``digits`` be routed anywhere in a field called ``name`` with ``labels``? The
        value gate's test for digits-only leaves: the same routing, so they cannot disagree."""
        return bool(self._digit_routes_named(digits, name, labels))

    def _name_context(self, field: Field) -> tuple[bool, ...]:
        """Per route: does the field's name or one of its labels hold one of its keywords?"""
        return self._context_of(field.name, field.labels)

    def _context_of(self, name: str | None, labels: tuple[str, ...]) -> tuple[bool, ...]:
        """Per route: does ``name`` or one of ``labels`` hold one of its keywords? (cached)"""
        key = (name, labels)
        cached = self._context_cache.get(key)
        if cached is None:
            words = words_of_labels((name or "", *labels))
            cached = tuple(bool(words) and r.keywords.matches_words(words) for r in self._routes)
            if len(self._context_cache) >= _CONTEXT_CACHE_SIZE:
                self._context_cache.clear()
            self._context_cache[key] = cached
        return cached

    def _analyze(self, field: Field, text: str) -> list[_Hit]:
        """Run the routed recognizers on ``text``; non-overlapping results above threshold."""
        normal = text if text.isascii() else to_halfwidth(text)
        routes = self._routes_for(field, normal)
        if not routes:
            return []
        return self._run(field, text, normal, routes)

    def _run(
        self, field: Field, text: str, normal: str, routes: list[tuple[_Route, bool]]
    ) -> list[_Hit]:
        """Run ``routes`` on ``text`` (half-width ``normal``), apply context, resolve overlaps."""
        named: tuple[bool, ...] | None = None
        hits: list[_Hit] = []
        for route, _strong in routes:
            for start, end, raw, entity, enhanced in _matches(route, text, normal):
                score = raw
                context = False
                if score < 1.0 and not enhanced:
                    if named is None:
                        named = self._name_context(field)
                    context = named[route.position] or has_keyword_before(
                        text, start, route.keywords
                    )
                    if context:
                        score = boosted(score)
                if score >= self.min_score:
                    hits.append(_Hit(start, end, score, entity, route.label, context))
        if len(hits) <= 1:
            return hits
        return _resolve(hits)


def _matches(route: _Route, text: str, normal: str) -> list[tuple[int, int, float, str, bool]]:
    """``(start, end, score, entity, context already applied)`` of one recognizer on a text
    (``normal`` is its half-width form, which formshield's recognizers read)."""
    recognizer = route.recognizer
    if isinstance(recognizer, PatternRules):
        entity = route.entities[0]
        return [
            (start, end, score, entity, False) for start, end, score, _ in recognizer.find(normal)
        ]
    # Another Presidio recognizer, so Presidio is loaded already. No NLP artifacts: pattern
    # recognizers accept None (Presidio annotates the parameter as required). A recognizer that
    # applied context itself says so in its metadata.
    from presidio_analyzer import RecognizerResult

    results = recognizer.analyze(text, route.entities, None)  # type: ignore[arg-type]
    key = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
    return [
        (r.start, r.end, r.score, r.entity_type, bool((r.recognition_metadata or {}).get(key)))
        for r in results
    ]


def _resolve(hits: list[_Hit]) -> list[_Hit]:
    """Non-overlapping hits in text order: the highest score wins, then the longest span
    (a 19-digit card beats a phone-shaped piece of it, a validated ID beats a passport-shaped
    guess), except that an ID with context wins its own span from a card (see _ID_ENTITY)."""
    ids = {(h.start, h.end) for h in hits if h.entity == _ID_ENTITY and h.context}
    if ids:
        hits = [h for h in hits if not (h.entity == _CARD_ENTITY and (h.start, h.end) in ids)]
    hits.sort(key=lambda h: (-h.score, -(h.end - h.start), h.start))
    kept: list[_Hit] = []
    for hit in hits:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    kept.sort(key=lambda h: h.start)
    return kept
