"""EMAIL_ADDRESS: e-mail addresses, next to CJK text too.

Presidio's ``EmailRecognizer`` builds its pattern from ``\\b`` and ``\\w``; both treat CJK
characters as word characters, so in ``邮箱abc@example.com结束`` its match swallows the Chinese
text. These rules keep Presidio's entity, context and domain check but match ASCII local
parts (RFC 5322 atext, dot-separated) and ASCII or punycode domain labels, guarded by look-arounds
instead of ``\\b``. Full-width ``＠`` and letters are read as ASCII.

The domain must end in a public suffix, checked with tldextract's bundled Public Suffix List
snapshot (never fetched at run time). Valid -> 1.0; unknown suffix (``user@host.local``) ->
dropped; masked addresses (``z****@example.com``) -> dropped. Internationalised (non-ASCII)
domains are not matched unless written in punycode.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar

import tldextract

from detectors.rules.base import PatternRules, PatternSpec

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_REGEX = (
    rf"(?<![A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]){_ATEXT}+(?:\.{_ATEXT}+)*"
    rf"@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
)


@lru_cache(maxsize=1)
def _offline_extractor() -> tldextract.TLDExtract:
    """tldextract on its bundled snapshot only: no download, no cache directory."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def has_public_suffix(domain: str) -> bool:
    """True when ``domain`` has a registrable name under a known public suffix."""
    result = _offline_extractor()(domain)
    return bool(result.suffix and result.domain)


class EmailAddressRules(PatternRules):
    """Presidio's ``EmailRecognizer`` entity and domain check, with a pattern that works in
    Chinese text."""

    ENTITY: ClassVar[str] = "EMAIL_ADDRESS"
    NAME: ClassVar[str] = "EmailAddressRecognizer"
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile("[@\uff20]")
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = QUICK_CHECK
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("Email (CJK-safe)", EMAIL_REGEX, 0.5)]
    CONTEXT: ClassVar[list[str]] = [
        "邮箱", "电子邮箱", "邮件", "电子邮件", "邮箱地址", "電郵", "郵箱",
        "email", "mail", "emailaddress", "yx", "dzyx", "yxdz",
    ]  # fmt: skip

    def load(self) -> None:
        """Build the suffix table now (about 40 ms, once per process), not on the first e-mail
        (tldextract reads its snapshot on the first lookup, not when it is constructed)."""
        has_public_suffix("example.com")

    def validate_result(self, pattern_text: str) -> bool:
        """True when the part after ``@`` ends in a public suffix (tldextract, offline)."""
        return has_public_suffix(pattern_text.rpartition("@")[2])

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop masked addresses (``z****@example.com`` from :func:`detectors.masking.mask`).

        Masks must never be detected again (redaction re-scans its output). A mask keeps the
        first character of the local part and stars the rest; real local parts that are one
        character and stars, or hold two stars in a row, are vanishingly rare.
        """
        local = pattern_text.partition("@")[0]
        return "**" in local or (len(local) > 1 and local[1:].strip("*") == "")
