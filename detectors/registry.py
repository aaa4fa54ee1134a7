"""formshield's recognizers as a Presidio registry and an offline ``AnalyzerEngine``.

Use them in plain Presidio::

    registry = RecognizerRegistry(supported_languages=["en", "zh"])
    for recognizer in formshield_recognizers("zh"):
        registry.add_recognizer(recognizer)

or take :func:`build_analyzer_engine`, which never downloads a model (see :mod:`detectors.nlp`).
Presidio's own predefined recognizers are not loaded: formshield's CREDIT_CARD and EMAIL_ADDRESS
replace Presidio's (which use ``\\b`` and fail next to CJK text), and the rest cover other
countries or need NER models that are not available offline.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry

from detectors.nlp import DEFAULT_LANGUAGES, EngineKind, build_nlp_engine
from detectors.recognizers import RECOGNIZER_CLASSES


def formshield_recognizers(language: str = "zh") -> list[EntityRecognizer]:
    """New instances of every formshield recognizer, declared for ``language``.

    Presidio binds a recognizer to one language; register one set per language.
    """
    return [cls(supported_language=language) for cls in RECOGNIZER_CLASSES]


def build_registry(languages: Sequence[str] = DEFAULT_LANGUAGES) -> RecognizerRegistry:
    """A registry holding formshield's recognizers for each of ``languages`` (and nothing else)."""
    registry = RecognizerRegistry(supported_languages=list(languages))
    for language in languages:
        for recognizer in formshield_recognizers(language):
            registry.add_recognizer(recognizer)
    return registry


def build_analyzer_engine(
    languages: Sequence[str] = DEFAULT_LANGUAGES, nlp: EngineKind = "noop"
) -> AnalyzerEngine:
    """An offline ``AnalyzerEngine`` with formshield's recognizers for ``languages``.

    ``nlp`` picks the offline NLP engine (:func:`detectors.nlp.build_nlp_engine`). Context passed
    to ``analyze(context=[...])`` (field names, labels) and keywords just before a match are applied
    by the recognizers themselves with formshield's whole-word rules (:mod:`detectors.context`).
    """
    return AnalyzerEngine(
        registry=build_registry(languages),
        nlp_engine=build_nlp_engine(languages, nlp),
        supported_languages=list(languages),
    )
