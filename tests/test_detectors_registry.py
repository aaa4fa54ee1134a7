"""formshield's recognizers inside plain Presidio: registry, offline AnalyzerEngine, context."""

from __future__ import annotations

import pytest
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

from detectors.nlp import build_nlp_engine
from detectors.recognizers import RECOGNIZER_CLASSES
from detectors.registry import build_analyzer_engine, build_registry, formshield_recognizers
from detectors.rules import ENTITIES

# One sample per entity, in Chinese and in English sentences; the context-dependent ones carry
# their keyword in the sentence.
SAMPLES = {
    "CN_RESIDENT_ID": ("身份证号码11010519491231002X已提交", "ID 11010519491231002X submitted"),
    "CN_BANK_CARD": ("收款卡号6222021234567890128。", "pay to 6222 0212 3456 7890 128 please"),
    "CN_PHONE": ("联系电话：138-1234-5678", "call +86 10 6234 5678 tomorrow"),
    "EMAIL_ADDRESS": ("邮箱zhang@example.com，谢谢", "mail zhang@example.com today"),
    "CREDIT_CARD": ("信用卡4111111111111111有效期", "card 4111-1111-1111-1111 expires"),
    "CN_PASSPORT": ("护照号码：E12345678", "passport E12345678"),
    "CN_HK_MACAU_PERMIT": ("回乡证号H12345678", "home return permit H1234567801"),
    "HK_ID": ("香港身份证A123456(3)", "HKID A123456(3)"),
    "TW_ID": ("身分證字號A123456789", "TWID A123456789"),
}


@pytest.fixture(scope="module")
def plain_engine() -> AnalyzerEngine:
    """A plain Presidio engine: our recognizers added one by one, offline NLP engine."""
    registry = RecognizerRegistry(supported_languages=["en", "zh"])
    for language in ("en", "zh"):
        for recognizer in formshield_recognizers(language):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry, nlp_engine=build_nlp_engine(), supported_languages=["en", "zh"]
    )


@pytest.fixture(scope="module")
def engine() -> AnalyzerEngine:
    return build_analyzer_engine()


def test_every_entity_has_samples() -> None:
    assert set(SAMPLES) == set(ENTITIES)


@pytest.mark.parametrize("entity", sorted(SAMPLES))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_plain_engine_finds_each_entity(
    plain_engine: AnalyzerEngine, entity: str, language: str
) -> None:
    text = SAMPLES[entity][0 if language == "zh" else 1]
    results = plain_engine.analyze(text, language=language, score_threshold=0.5)
    assert entity in {r.entity_type for r in results}, [(r.entity_type, r.score) for r in results]


@pytest.mark.parametrize("entity", sorted(SAMPLES))
def test_built_engine_finds_each_entity(engine: AnalyzerEngine, entity: str) -> None:
    for language, text in zip(("zh", "en"), SAMPLES[entity], strict=True):
        results = engine.analyze(text, language=language, score_threshold=0.5)
        assert entity in {r.entity_type for r in results}


@pytest.mark.parametrize(
    "text, context, entity",
    [
        ("110105491231002", ["sfzh"], "CN_RESIDENT_ID"),
        ("6214832018989180", ["yhkh"], "CN_BANK_CARD"),
        ("E12345678", ["passportNo"], "CN_PASSPORT"),
        ("H12345678", ["回乡证"], "CN_HK_MACAU_PERMIT"),
        ("A1234563", ["hkid"], "HK_ID"),
        ("A123456789", ["twId"], "TW_ID"),
        ("13800138000", ["sjhm"], "CN_PHONE"),
    ],
)
def test_context_lifts_above_threshold(
    plain_engine: AnalyzerEngine, text: str, context: list[str], entity: str
) -> None:
    def scores(ctx: list[str] | None) -> list[float]:
        return [
            r.score
            for r in plain_engine.analyze(text, language="zh", context=ctx)
            if r.entity_type == entity
        ]

    assert all(score < 0.5 for score in scores(None))
    assert scores(context) and max(scores(context)) == pytest.approx(0.65)


def test_whole_word_context_even_in_plain_presidio(plain_engine: AnalyzerEngine) -> None:
    # Presidio's default enhancer would match "tel" inside "hotel"; ours must not.
    results = plain_engine.analyze("13800138000", language="en", context=["hotel"])
    assert [r.score for r in results if r.entity_type == "CN_PHONE"] == [0.3]


def test_recognizers_are_new_instances() -> None:
    first, second = formshield_recognizers(), formshield_recognizers()
    assert [type(r) for r in first] == list(RECOGNIZER_CLASSES)
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert {r.supported_language for r in formshield_recognizers("en")} == {"en"}


def test_registry_per_language() -> None:
    registry = build_registry(["zh"])
    assert registry.supported_languages == ["zh"]
    assert len(registry.get_recognizers(language="zh", all_fields=True)) == len(RECOGNIZER_CLASSES)
    assert set(registry.get_supported_entities(["zh"])) == set(ENTITIES)


def test_engine_languages(engine: AnalyzerEngine) -> None:
    assert set(engine.supported_languages) == {"en", "zh"}
    assert set(engine.get_supported_entities("zh")) == set(ENTITIES)
