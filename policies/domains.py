"""Host names for policies: normalising, registrable domains, and the domain patterns of rules.

A *site* is the registrable domain ("eTLD+1") of the page the user is on, as browsers define it:
``www.bank.com`` -> ``bank.com``, ``zwfw.beijing.gov.cn`` -> ``beijing.gov.cn``. It comes from the
Public Suffix List snapshot that ships inside ``tldextract`` (never fetched: no network at run
time), private suffixes included (``user.github.io`` is its own site, as in browsers).

Domain patterns (``site:``, ``destination:`` and ``trust:`` entries):

- ``example.com`` matches ``example.com`` and every name under it (``api.example.com``);
- ``*.example.com`` matches only names under it (not ``example.com`` itself); ``*`` may only
  stand as the whole first label;
- ``*`` or ``any`` matches everything;
- ``first-party`` / ``third-party`` (destinations only) compare the destination with the site.

Names are compared lower-case, without a trailing dot, as IDNA ASCII (``例子.中国`` is stored as
``xn--fsqu00a.xn--fiqs8s``, the form that reaches the proxy).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import tldextract

# suffix_list_urls=() and cache_dir=None: use the snapshot bundled with the package, never the
# network, never a cache directory (the proxy may run with a read-only home).
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# host:port with a single colon (IPv6 literals have several and are left alone).
_PORT_RE = re.compile(r"^([^:]*):\d+$")


def normalize_host(host: str) -> str:
    """Lower-case ``host``, drop a trailing dot and a ``:port``, and convert it to IDNA ASCII.

    Never raises: a name that IDNA cannot encode is returned lower-cased as it is (it then only
    matches ``*``/``any`` patterns and counts as its own site).
    """
    name = host.strip().lower()
    port = _PORT_RE.match(name)
    if port:
        name = port.group(1)
    name = name.rstrip(".")
    if not name.isascii():
        with contextlib.suppress(UnicodeError):
            name = name.encode("idna").decode("ascii")
    return name


@lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """The site of ``host``: its registrable domain, or the host itself when it has none.

    IP addresses, ``localhost`` and bare public suffixes have no registrable domain; they are
    returned unchanged (normalised), so each counts as a site of its own.
    """
    name = normalize_host(host)
    top = _EXTRACT(name).top_domain_under_public_suffix
    return top or name


def is_public_suffix(name: str) -> bool:
    """True when ``name`` (normalised) is itself a public suffix such as ``gov.cn`` or ``com``."""
    result = _EXTRACT(name)
    return bool(result.suffix) and not result.domain and result.suffix == name


def is_third_party(site: str | None, destination: str) -> bool:
    """True when ``destination`` is off ``site``; an unknown site makes everything third party."""
    if site is None:
        return True
    return registrable_domain(destination) != registrable_domain(site)


class PatternKind(IntEnum):
    """Kinds of domain pattern; the value is the pattern's specificity rank (higher wins)."""

    ANY = 0
    PARTY = 1  # first-party / third-party (destinations only)
    WILDCARD = 2
    EXACT = 3


@dataclass(frozen=True, slots=True)
class DomainPattern:
    """One compiled domain pattern.

    ``name`` is the normalised domain (without ``*.``) for EXACT and WILDCARD, ``first-party`` or
    ``third-party`` for PARTY, ``*`` for ANY. ``depth`` (number of labels) ranks two patterns of
    the same kind: ``pay.bank.com`` is more specific than ``bank.com``.
    """

    kind: PatternKind
    name: str
    text: str

    @property
    def depth(self) -> int:
        """Number of labels of the domain (0 for ANY and PARTY)."""
        if self.kind in (PatternKind.EXACT, PatternKind.WILDCARD):
            return self.name.count(".") + 1
        return 0

    def matches_host(self, host: str) -> bool:
        """Whether normalised ``host`` matches (PARTY patterns are decided by the caller)."""
        if self.kind is PatternKind.ANY:
            return True
        if self.kind is PatternKind.EXACT:
            return host == self.name or host.endswith("." + self.name)
        if self.kind is PatternKind.WILDCARD:
            return host.endswith("." + self.name)
        return False


FIRST_PARTY = "first-party"
THIRD_PARTY = "third-party"


def parse_domain_pattern(text: str, *, allow_party: bool) -> DomainPattern:
    """Parse ``text`` into a :class:`DomainPattern`; ``ValueError`` with the reason if invalid."""
    raw = text.strip()
    lowered = raw.lower()
    if lowered in ("*", "any"):
        return DomainPattern(PatternKind.ANY, "*", raw)
    if lowered in (FIRST_PARTY, THIRD_PARTY):
        if not allow_party:
            raise ValueError(f"'{raw}' is only valid as a destination")
        return DomainPattern(PatternKind.PARTY, lowered, raw)
    kind = PatternKind.EXACT
    body = raw
    if raw.startswith("*."):
        kind = PatternKind.WILDCARD
        body = raw[2:]
    if "*" in body:
        raise ValueError(
            f"invalid wildcard '{raw}' ('*' may only be the whole first label, as in '*.gov.cn')"
        )
    name = normalize_host(body) if body else ""
    if not name or not _NAME_RE.fullmatch(name) or len(name) > 253:
        raise ValueError(f"invalid domain '{raw}'")
    return DomainPattern(kind, name, raw)


def parse_site_pattern(text: str) -> DomainPattern:
    """Parse a site pattern: ``*``, a registrable domain, or ``*.`` + a public suffix.

    Sites are registrable domains, so ``www.bank.com`` (never a site) and ``*.bank.com`` (no site
    is under ``bank.com``) are refused with a hint rather than silently never matching.
    """
    pattern = parse_domain_pattern(text, allow_party=False)
    if pattern.kind is PatternKind.EXACT:
        if is_public_suffix(pattern.name):
            raise ValueError(
                f"site '{text}' is a public suffix; "
                f"write '*.{pattern.name}' for every site under it"
            )
        site = registrable_domain(pattern.name)
        if site != pattern.name:
            raise ValueError(
                f"site '{text}' is not a registrable domain (sites are registrable domains: "
                f"write '{site}')"
            )
    elif pattern.kind is PatternKind.WILDCARD:
        probe = "x." + pattern.name
        if registrable_domain(probe) != probe:
            raise ValueError(
                f"no site can match '{text}' ('{pattern.name}' is not a public suffix; "
                f"sites are registrable domains: write '{registrable_domain(pattern.name)}')"
            )
    return pattern
