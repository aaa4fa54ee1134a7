"""What the audit store writes in place of raw values: canonical forms, keyed fingerprints and
scrubbed text.

A finding's value only ever feeds its fingerprint: HMAC-SHA256 keyed with the per-install secret
(:mod:`addon.secrets`) over ``entity type + U+001F + canonical value`` (:func:`canonical_value`),
truncated to :data:`FINGERPRINT_BYTES` bytes and hex-encoded. Text that is stored (URLs,
locations, masks) goes through :func:`scrub` or :func:`sanitize_url`: known values replaced by
their masks, and, as a backstop for values a detector missed, runs of 11 or more digits (the
length of a phone, ID or card) masked too.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import unquote, urlsplit

from detectors.masking import mask

__all__ = [
    "FINGERPRINT_BYTES",
    "MAX_TEXT",
    "MAX_URL",
    "FindingLike",
    "Fingerprinter",
    "canonical_value",
    "clip",
    "safe_mask",
    "sanitize_url",
    "scrub",
]

FINGERPRINT_BYTES = 16

# Caps on attacker-influenced text (URLs and field names are chosen by websites).
MAX_URL = 2048
MAX_TEXT = 512

# Digit runs this long are phones, IDs or cards; shorter ones (dates, small ids) are kept.
# Everything but letters and digits of any script (\W is "not a word character"; _ is one).
_NON_ALNUM = re.compile(r"[\W_]+")
_LONG_DIGITS = re.compile(r"[0-9\uff10-\uff19]{11,}")


class FindingLike(Protocol):
    """What the store reads from a finding (:class:`detectors.model.Finding` fits)."""

    @property
    def entity_type(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def location(self) -> str: ...
    @property
    def masked(self) -> str: ...
    @property
    def value(self) -> str: ...


# --- canonical values and fingerprints -------------------------------------------------------


def canonical_value(entity_type: str, value: str) -> str:
    """Return the form of ``value`` that is fingerprinted.

    NFKC first (full-width digits, ``Ｘ``), then: emails lose whitespace and are case-folded;
    everything else keeps only letters and digits (any script: names stay distinct) in upper
    case, so ``110105 1949-1231 002x`` and ``11010519491231002X`` are equal. CN phones are put
    in national form: ``+86``/``0086``/``86`` dropped, landlines given their leading ``0``.
    """
    text = unicodedata.normalize("NFKC", value)
    if entity_type == "EMAIL_ADDRESS":
        return "".join(text.split()).casefold()
    compact = _NON_ALNUM.sub("", text).upper()
    if not compact:
        return text  # all punctuation: fingerprint it as is rather than as ""
    if entity_type == "CN_PHONE" and compact.isdigit():
        compact = _national_phone(compact)
    return compact


def _national_phone(digits: str) -> str:
    """``8613812345678`` -> ``13812345678``; ``861012345678`` -> ``01012345678``."""
    if digits.startswith("0086"):
        rest = digits[4:]
    elif digits.startswith("86") and len(digits) >= 11:
        # National numbers start with 1 (mobile) or 0 (landline), never 86.
        rest = digits[2:]
    else:
        return digits
    if rest.startswith("0") or (rest.startswith("1") and len(rest) == 11):
        return rest
    return "0" + rest  # landline area code without its trunk prefix


class Fingerprinter:
    """Keyed fingerprints of values: ``Fingerprinter(secret)(entity_type, value)``."""

    __slots__ = ("_base",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("fingerprint secret must be at least 16 bytes")
        # Keyed once; each value copies the keyed state (cheaper than keying again, and than
        # hmac.digest, which keys a new context per call).
        self._base = hmac.new(secret, digestmod="sha256")

    def __call__(self, entity_type: str, value: str) -> str:
        mac = self._base.copy()
        mac.update(
            f"{entity_type}\x1f{canonical_value(entity_type, value)}".encode(
                "utf-8", "surrogatepass"
            )
        )
        return mac.digest()[:FINGERPRINT_BYTES].hex()

    def __repr__(self) -> str:
        return "Fingerprinter(<secret>)"


# --- sanitising what goes into the store -----------------------------------------------------


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _mask_digit_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return run[:3] + "*" * (len(run) - 5) + run[-2:]


def scrub(text: str, replacements: Sequence[tuple[str, str]] = ()) -> str:
    """Replace each ``(raw, masked)`` pair's raw value, then mask long digit runs."""
    for raw, masked in replacements:
        if raw and raw in text:
            text = text.replace(raw, masked)
    return _LONG_DIGITS.sub(_mask_digit_run, text)


def sanitize_url(url: str, replacements: Sequence[tuple[str, str]] = ()) -> str:
    """Return ``scheme://host[:port]/path`` of ``url`` with finding values masked.

    The query, fragment and user info are dropped (their names are recorded separately as
    locations); the path is percent-decoded so that a value in it can be found and masked.
    An unparsable URL is stored as ``"<unparsable url>"`` rather than as given.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port is None else f"{host}:{port}"
    path = unquote(parts.path, errors="replace")
    base = f"{parts.scheme}://{netloc}" if parts.scheme or netloc else ""
    return clip(scrub(base + path, replacements), MAX_URL)


def safe_mask(finding: FindingLike) -> str:
    masked = finding.masked
    value = finding.value
    # A finding whose mask still contains its value is a caller bug; never store it.
    if value and len(value) >= 4 and value in masked:
        masked = mask(finding.entity_type, value)
    return clip(scrub(masked), MAX_TEXT)
