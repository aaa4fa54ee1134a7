"""Entity types that policy files may name.

These are the ``entity_type`` values that formshield's detectors report (see ``detectors/``); a
policy that names anything else is rejected at load time, because a misspelt entity type would
silently never match. When a detector learns a new entity type, add it here too.

At evaluation time an entity type that is not listed here (a detector newer than this list) is
not an error: it simply matches only rules whose ``entities`` is ``"*"``.
"""

from __future__ import annotations

# Name -> one-line description (used by `formshield policy check` and the docs).
ENTITY_DESCRIPTIONS: dict[str, str] = {
    "CN_RESIDENT_ID": "Chinese Resident Identity Card number (GB 11643-1999, 18 or 15 chars)",
    "CN_BANK_CARD": "Chinese bank card number (UnionPay and domestic BINs, 14-19 digits)",
    "CN_PHONE": "Chinese mobile or landline phone number",
    "EMAIL_ADDRESS": "E-mail address",
    "CREDIT_CARD": "Payment card number (Visa, Mastercard, Amex, JCB, ...; Luhn-valid)",
    "CN_PASSPORT": "Chinese passport number (E/G + 8 characters)",
    "CN_HK_MACAU_PERMIT": "Mainland travel permit for Hong Kong and Macau (H/M + 8 digits)",
    "HK_ID": "Hong Kong Identity Card number",
    "TW_ID": "Taiwan national identification number",
}

KNOWN_ENTITIES: frozenset[str] = frozenset(ENTITY_DESCRIPTIONS)

# The wildcard accepted wherever a list of entity types is expected.
ANY_ENTITY = "*"
