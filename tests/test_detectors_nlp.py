"""Offline NLP engines: nothing is downloaded, both kinds process Chinese and English."""

from __future__ import annotations

import pytest

from detectors.nlp import BlankSpacyNlpEngine, build_nlp_engine


@pytest.mark.parametrize("kind", ["noop", "blank"])
def test_engines_process_text_offline(kind: str) -> None:
    engine = build_nlp_engine(("en", "zh"), kind)  # type: ignore[arg-type]
    assert engine.is_loaded()
    assert set(engine.get_supported_languages()) == {"en", "zh"}
    for language, text in (("zh", "手机13812345678"), ("en", "call 13812345678")):
        artifacts = engine.process_text(text, language)
        assert list(artifacts.entities) == []


def test_blank_engine_tokenizes() -> None:
    engine = build_nlp_engine(("zh",), "blank")
    assert isinstance(engine, BlankSpacyNlpEngine)
    assert [t.text for t in engine.process_text("身份证", "zh").tokens] == ["身", "份", "证"]


@pytest.mark.parametrize("kind, languages", [("bert", ("en",)), ("noop", ())])
def test_bad_arguments(kind: str, languages: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        build_nlp_engine(languages, kind)  # type: ignore[arg-type]
