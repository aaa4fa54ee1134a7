"""Tests for policies/entities.py: the entity types policy files may name."""

from __future__ import annotations

from detectors.masking import _KEEP
from policies.entities import ENTITY_DESCRIPTIONS, KNOWN_ENTITIES

ISSUE_ENTITIES = {
    "CN_RESIDENT_ID",
    "CN_BANK_CARD",
    "CN_PHONE",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "CN_PASSPORT",
    "CN_HK_MACAU_PERMIT",
    "HK_ID",
    "TW_ID",
}


def test_known_entities_are_the_detectors_types() -> None:
    assert ISSUE_ENTITIES == KNOWN_ENTITIES


def test_every_type_with_a_mask_is_known_to_policies() -> None:
    # masking.py lists the types the detectors mask specially; a policy must be able to name them.
    assert set(_KEEP) <= KNOWN_ENTITIES


def test_every_type_is_described() -> None:
    assert all(text.strip() for text in ENTITY_DESCRIPTIONS.values())
