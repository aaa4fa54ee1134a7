"""The baseline formshield is measured against: plain Presidio, as a straightforward addon uses it.

What "vanilla" means here:

* ``AnalyzerEngine`` with *all* predefined recognizers Presidio ships for English (every entry of
  its ``default_recognizers.yaml``, including those it disables by default), except the ones that
  call a remote service or a model hub (Hugging Face NER, LangExtract). Presidio's own settings
  otherwise: default phone regions, default context words, score threshold 0.
* Offline NLP: a ``SpacyNlpEngine`` whose pipeline is ``spacy.blank("en")`` (tokenizer only, so
  the spaCy NER recognizer finds nothing and context enhancement has no lemmas to work with).
  Nothing is downloaded; tldextract (used by the email recognizer) is pointed at its bundled
  Public Suffix List snapshot instead of fetching one.
* Input: the request URL, a newline, and the body as text (``Request.get_text``: Content-Encoding
  undone, charset from the header or guessed), which is what an addon that "runs Presidio on the
  request" does. No form/JSON parsing, no value decoding.

Entity mapping used for scoring against formshield's labels (anything else Presidio reports is
counted apart as "unmapped" and never matched to a label):

====================  =========================================================================
Presidio              formshield
====================  =========================================================================
PHONE_NUMBER          CN_PHONE
CREDIT_CARD           CN_BANK_CARD for Chinese BINs (62, 81, 9558x, 955100, 601382, 603367,
                      436742, 9111, 966666, 998800), CREDIT_CARD otherwise (either counts for a
                      card label: see ``scripts.corpus.same_family``)
EMAIL_ADDRESS         EMAIL_ADDRESS
*_PASSPORT            CN_PASSPORT (US, UK, IN, IT, ES, KR, DE, PH, ZA passports)
====================  =========================================================================

Presidio has no recognizer for Chinese resident IDs, HK/Macau permits, HKID or Taiwan IDs: its
recall there is zero by construction, which is the point of the comparison.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from mitmproxy import http

from detectors.masking import mask
from detectors.model import Finding

# Recognizers that need a network service or model weights: never part of an offline baseline.
_REMOTE_RECOGNIZERS = frozenset(
    {"HuggingFaceNerRecognizer", "BasicLangExtractRecognizer", "AzureOpenAILangExtractRecognizer"}
)
_CN_CARD_BIN = re.compile(r"^(?:62|81|9558|9559|955100|601382|603367|436742|9111|966666|998800)")

ENTITY_MAP: dict[str, str] = {
    "PHONE_NUMBER": "CN_PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "US_PASSPORT": "CN_PASSPORT",
    "UK_PASSPORT": "CN_PASSPORT",
    "IN_PASSPORT": "CN_PASSPORT",
    "IT_PASSPORT": "CN_PASSPORT",
    "ES_PASSPORT": "CN_PASSPORT",
    "KR_PASSPORT": "CN_PASSPORT",
    "DE_PASSPORT": "CN_PASSPORT",
    "PH_PASSPORT": "CN_PASSPORT",
    "ZA_PASSPORT": "CN_PASSPORT",
}

RecognizerSet = Literal["all", "default"]


def _use_bundled_public_suffix_list() -> None:
    """Make tldextract use its bundled snapshot: its default extractor fetches the PSL online."""
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def build_vanilla_analyzer(recognizers: RecognizerSet = "all") -> Any:
    """Return an offline ``presidio_analyzer.AnalyzerEngine`` with Presidio's own recognizers.

    ``recognizers="all"`` enables every predefined English recognizer (the brief's baseline);
    ``"default"`` keeps Presidio's shipped enabled/disabled choices.
    """
    import spacy
    import yaml
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import (
        RecognizerConfigurationLoader,
        RecognizerListLoader,
    )

    _use_bundled_public_suffix_list()
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    # Setting the pipeline directly skips SpacyNlpEngine.load(), which would download a model.
    nlp_engine.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]

    conf_path = Path(RecognizerConfigurationLoader._get_full_conf_path())
    conf = yaml.safe_load(conf_path.read_text(encoding="utf-8"))
    configs: list[Any] = []
    for entry in conf["recognizers"]:
        name = entry if isinstance(entry, str) else entry.get("class_name", entry["name"])
        if name in _REMOTE_RECOGNIZERS:
            continue
        if isinstance(entry, dict) and recognizers == "all":
            configs.append({**entry, "enabled": True})
        else:
            configs.append(entry)
    instances = RecognizerListLoader.get(
        # Annotated as a dict in Presidio, but it is the list of recognizer entries.
        recognizers=cast(Any, configs),
        supported_languages=["en"],
        global_regex_flags=conf["global_regex_flags"],
    )
    registry = RecognizerRegistry(recognizers=list(instances), supported_languages=["en"])
    registry.add_nlp_recognizer(nlp_engine=nlp_engine)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def request_text(request: http.Request) -> str:
    """URL and body as one text, the way a straightforward addon hands a request to Presidio."""
    body = request.get_text(strict=False) or ""
    return f"{request.pretty_url}\n{body}"


def map_entity(presidio_type: str, value: str) -> str | None:
    """formshield's entity type for a Presidio result, or None when it has no counterpart."""
    mapped = ENTITY_MAP.get(presidio_type)
    if mapped == "CREDIT_CARD" and _CN_CARD_BIN.match(re.sub(r"\D", "", value)):
        return "CN_BANK_CARD"
    return mapped


@dataclass(slots=True)
class VanillaResult:
    """Mapped findings of one request, and how many results had no formshield counterpart."""

    findings: list[Finding] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)


class VanillaPresidio:
    """Run the baseline analyzer on whole requests."""

    def __init__(self, recognizers: RecognizerSet = "all", score_threshold: float = 0.0) -> None:
        self.analyzer = build_vanilla_analyzer(recognizers)
        self.score_threshold = score_threshold

    def scan_request(self, request: http.Request) -> VanillaResult:
        """Analyze URL + body text; map entity types (see the module table)."""
        text = request_text(request)
        result = VanillaResult()
        for res in self.analyzer.analyze(
            text=text, language="en", score_threshold=self.score_threshold
        ):
            value = text[res.start : res.end]
            entity = map_entity(res.entity_type, value)
            if entity is None:
                result.unmapped[res.entity_type] += 1
                continue
            result.findings.append(
                Finding(
                    entity_type=entity,
                    score=float(res.score),
                    location="url+body",
                    masked=mask(entity, value),
                    value=value,
                    start=res.start,
                    end=res.end,
                    recognizer=str(res.recognition_metadata.get("recognizer_name", ""))
                    if res.recognition_metadata
                    else "",
                )
            )
        return result
