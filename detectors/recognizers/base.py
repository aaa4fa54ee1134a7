"""The Presidio side of formshield's detection rules: :class:`CnPatternRecognizer`.

A formshield recognizer is one entity's rules (:class:`~detectors.rules.base.PatternRules`:
patterns, context, validation, scores) inside a Presidio
:class:`~presidio_analyzer.PatternRecognizer`, so it can be registered with a plain
``AnalyzerEngine`` (see :mod:`detectors.registry`). The rules live apart from Presidio because
the proxy scans with them directly and must not load Presidio (see :mod:`detectors.rules.base`).

What the recognizer adds to the rules:

- :meth:`CnPatternRecognizer.analyze` runs the quick check and the rules' matches and returns
  Presidio ``RecognizerResult`` objects with an explanation and the recognizer's name;
- :meth:`CnPatternRecognizer.enhance_using_context` applies formshield's context rules
  (:mod:`detectors.context`): keywords just before a match or explicit context words (field
  names, labels).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from detectors.context import HasContext, boosted, context_matches, keyword_before, words_of_labels
from detectors.rules.base import PatternLike, PatternRules, to_halfwidth

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts


class CnPatternRecognizer(PatternRules, PatternRecognizer):
    """A Presidio pattern recognizer made of formshield's rules for one entity.

    Concrete recognizers list their rules class first (``class
    CnPhoneRecognizer(CnPhoneRules, CnPatternRecognizer)``), so its patterns, validation and
    scores take precedence over Presidio's defaults. ``patterns`` may be Presidio ``Pattern``
    objects or :class:`~detectors.rules.base.PatternSpec` tuples.
    """

    name: str
    patterns: list[Pattern]  # Presidio's attribute: the rules' patterns as Presidio objects

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
        PatternRules.__init__(
            self,
            patterns,
            context,
            supported_language=supported_language,
            supported_entity=supported_entity,
            replacement_pairs=replacement_pairs,
            name=name or type(self).__name__,
        )
        # Presidio's own attributes (``patterns`` as Presidio objects, ``id``, ``is_loaded``);
        # it calls ``load`` again, which the rules make cheap the second time.
        PatternRecognizer.__init__(
            self,
            supported_entity=self.supported_entities[0],
            patterns=[Pattern(spec.name, spec.regex, spec.score) for spec in self.pattern_specs],
            context=list(self.context),
            supported_language=supported_language,
            name=self.name,
        )

    def analyze(
        self,
        text: str,
        entities: list[str] | None = None,
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Find this recognizer's entity in ``text``; ``nlp_artifacts`` is not needed.

        ``entities`` limits the search like in Presidio (an empty or None list means all);
        ``regex_flags`` is accepted for API compatibility and ignored (patterns are precompiled).
        """
        entity = self.supported_entities[0]
        if entities and entity not in entities:
            return []
        normal = to_halfwidth(text)
        if self.QUICK_CHECK is not None and not self.QUICK_CHECK.search(normal):
            return []
        results: list[RecognizerResult] = []
        for start, end, score, pattern in self.find(normal):
            explanation = self.build_regex_explanation(
                self.name,
                pattern.name,
                pattern.regex,
                pattern.score,
                score == 1.0,
                self.FLAGS,
            )
            explanation.score = score
            results.append(
                RecognizerResult(
                    entity_type=entity,
                    start=start,
                    end=end,
                    score=score,
                    analysis_explanation=explanation,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            )
        if len(results) > 1:
            results = EntityRecognizer.remove_duplicates(results)
        return results

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Raise scores of results with a context keyword before them or in ``context``.

        Called by Presidio's ``AnalyzerEngine``; boosted results are flagged so Presidio's own
        enhancer does not add the boost twice. See :func:`apply_context`.
        """
        return apply_context(self, text, raw_recognizer_results, words_of_labels(context or ()))


def apply_context(
    recognizer: HasContext,
    text: str,
    results: Sequence[RecognizerResult],
    words: Iterable[str] = (),
) -> list[RecognizerResult]:
    """Return copies of ``results`` with scores raised where context supports them.

    Context is either one of ``words`` (field-name words from
    :func:`~detectors.context.field_name_words` or :func:`~detectors.context.words_of_labels`) or
    a keyword in the text just before the match (:func:`~detectors.context.keyword_before`).
    Every returned result is flagged ``is_score_enhanced_by_context`` in its metadata: context
    has been evaluated with formshield's rules, and Presidio's substring-based enhancer must not
    add to it.
    ``results`` and its items are not modified.
    """
    word_list = list(words)
    from_words: bool | None = None
    out: list[RecognizerResult] = []
    for result in results:
        new = copy.copy(result)
        new.recognition_metadata = dict(result.recognition_metadata or {})
        already = new.recognition_metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)
        if not already and new.score < 1.0:
            if from_words is None:
                from_words = bool(word_list) and context_matches(recognizer, word_list)
            if from_words or keyword_before(text, new.start, recognizer):
                new.score = boosted(new.score)
                if new.analysis_explanation is not None:
                    new.analysis_explanation = copy.copy(new.analysis_explanation)
                    new.analysis_explanation.set_improved_score(new.score)
        new.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        out.append(new)
    return out
