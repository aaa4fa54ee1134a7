"""The scanning engine: fields in, findings out, fast enough to sit in a proxy's hot path.

Presidio's ``AnalyzerEngine`` runs an NLP pipeline and every recognizer over every text; a proxy
cannot afford that per request. The :class:`Scanner` keeps Presidio's recognizers (the same
objects a plain ``AnalyzerEngine`` uses, see :mod:`detectors.registry`) but drives them itself:

1. each field value is expanded when it holds structured data (JSON, urlencoded) and decoded
   through up to three layers of value encodings (percent, base64, HTML references, escapes),
   see :mod:`detectors.decoders` and :mod:`detectors.structure`;
2. a cheap combined pre-check (:func:`detectors.recognizers.has_candidate`) skips the vast
   majority of values that cannot hold anything;
3. the recognizers run without NLP artifacts; context comes from the field's name and labels
   and from keywords just before a match (:mod:`detectors.context`), not from lemmas;
4. overlapping results are resolved (the highest score wins, then the longest span), and the
   same value found again in a decoded variant of the same field is reported once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.context import apply_context, words_of_labels
from detectors.decoders import decode_layers
from detectors.masking import mask
from detectors.model import Field, Finding
from detectors.recognizers import has_candidate
from detectors.registry import formshield_recognizers
from detectors.structure import expand_value

DEFAULT_MIN_SCORE = 0.5
# Layers of value encodings undone per field (percent inside base64 inside percent, ...).
MAX_DECODE_LAYERS = 3
# Nesting of structured values inside values (a JSON string holding a form holding JSON ...).
MAX_EXPAND_DEPTH = 4


class Scanner:
    """Find personal data in :class:`~detectors.model.Field` values.

    ``entities`` restricts the entity types reported (default: every type the recognizers
    support); ``min_score`` is the reporting threshold (0.5: candidates that need context score
    0.3 and reach it only with context). ``recognizers`` replaces the default set, e.g. to add
    a custom Presidio recognizer. A Scanner is immutable after construction and safe to share
    between threads.
    """

    def __init__(
        self,
        *,
        entities: Collection[str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        recognizers: Sequence[EntityRecognizer] | None = None,
    ) -> None:
        chosen = list(recognizers) if recognizers is not None else formshield_recognizers()
        wanted = set(entities) if entities is not None else None
        self.min_score = min_score
        self._recognizers: list[tuple[EntityRecognizer, list[str]]] = []
        for recognizer in chosen:
            supported = [e for e in recognizer.supported_entities if wanted is None or e in wanted]
            if supported:
                self._recognizers.append((recognizer, supported))
        self.entities = frozenset(e for _, ents in self._recognizers for e in ents)

    def scan_text(
        self, text: str, *, location: str = "text", name: str | None = None
    ) -> list[Finding]:
        """Scan one string, as if it were the value of a field called ``name``."""
        return self.scan_fields([Field(location=location, value=text, name=name)])

    def scan_fields(self, fields: Iterable[Field]) -> list[Finding]:
        """Scan every field; findings come in field order, then by position."""
        findings: list[Finding] = []
        for field in fields:
            self._scan_field(field, findings, depth=0, base=len(field.encodings))
        return findings

    def _scan_field(self, field: Field, out: list[Finding], depth: int, base: int) -> None:
        """Scan ``field``; ``base`` is how many of its encodings are the request container's
        (the rest, added while decoding and expanding values, are reported as value encodings)."""
        if not field.value:
            return
        seen: set[tuple[str, str]] = set()
        words: list[str] | None = None
        variants = [(field.value, ()), *decode_layers(field.value, MAX_DECODE_LAYERS)]
        for text, chain in variants:
            current = (
                field
                if not chain
                else dataclasses.replace(field, value=text, encodings=(*field.encodings, *chain))
            )
            if depth < MAX_EXPAND_DEPTH:
                # Structured data inside the value (a JSON payload in a form field, a form
                # inside base64): scan its leaves with their own names as context.
                children = expand_value(current)
                if children:
                    for child in children:
                        self._scan_field(child, out, depth + 1, base)
                    continue
            if not has_candidate(text):
                continue
            if words is None:
                words = words_of_labels((field.name or "", *field.labels))
            for result, recognizer in self._analyze(text, words):
                value = text[result.start : result.end]
                key = (result.entity_type, value)
                if key in seen:
                    continue
                seen.add(key)
                out.append(
                    Finding(
                        entity_type=result.entity_type,
                        score=result.score,
                        location=field.location,
                        masked=mask(result.entity_type, value),
                        value=value,
                        start=result.start,
                        end=result.end,
                        field_name=field.name,
                        encodings=current.encodings,
                        value_encodings=current.encodings[base:],
                        recognizer=recognizer,
                        source=field.source,
                        path=field.path,
                    )
                )

    def _analyze(self, text: str, words: list[str]) -> list[tuple[RecognizerResult, str]]:
        """Run every recognizer on ``text``; return non-overlapping results above threshold."""
        candidates: list[tuple[RecognizerResult, str]] = []
        for recognizer, entities in self._recognizers:
            # No NLP artifacts: our recognizers need none (Presidio annotates the parameter
            # as required but its pattern recognizers accept None).
            results = recognizer.analyze(text, entities, None)  # type: ignore[arg-type]
            if not results:
                continue
            if any(r.score < 1.0 for r in results):
                results = apply_context(recognizer, text, results, words)
            candidates.extend((r, type(recognizer).__name__) for r in results if r.score >= self.min_score)
        if len(candidates) <= 1:
            return candidates
        # Highest score first, then the longest span: a 19-digit card beats a phone-shaped
        # piece of it, a validated ID beats a passport-shaped guess.
        candidates.sort(key=lambda c: (-c[0].score, -(c[0].end - c[0].start), c[0].start))
        kept: list[tuple[RecognizerResult, str]] = []
        for cand in candidates:
            r = cand[0]
            if all(r.end <= k.start or r.start >= k.end for k, _ in kept):
                kept.append(cand)
        kept.sort(key=lambda c: c[0].start)
        return kept
