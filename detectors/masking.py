"""Masks for personal data: what output, logs and the audit store show instead of a value.

A mask keeps just enough to let a person recognise their own data (the first and last few
characters, the email domain) and never enough to reconstruct it. Masks break digit runs with
``*`` so a masked value is never detected again (redaction relies on this).
"""

from __future__ import annotations

MASK_CHAR = "*"

# (visible prefix, visible suffix) per entity type; tuned so at most 7 characters of an 18-char
# ID, 8 of a 16-19 digit card and 7 of an 11-digit phone remain, as Chinese banks' own receipts do.
_KEEP: dict[str, tuple[int, int]] = {
    "CN_RESIDENT_ID": (3, 4),
    "CN_BANK_CARD": (4, 4),
    "CREDIT_CARD": (4, 4),
    "CN_PHONE": (3, 4),
    "CN_PASSPORT": (1, 2),
    "CN_HK_MACAU_PERMIT": (1, 2),
    "HK_ID": (1, 1),
    "TW_ID": (1, 2),
}


def mask(entity_type: str, value: str) -> str:
    """Return a masked form of ``value`` of the same length (emails keep their domain)."""
    if entity_type == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.rpartition("@")
        return (local[:1] + MASK_CHAR * max(len(local) - 1, 1)) + "@" + domain
    head, tail = _KEEP.get(entity_type, (1, 1))
    if len(value) <= head + tail + 2:
        # Too short to show anything safely.
        return MASK_CHAR * len(value)
    middle = len(value) - head - tail
    return value[:head] + MASK_CHAR * middle + (value[-tail:] if tail else "")
