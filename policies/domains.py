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

Rules of :func:`registrable_domain`, in order:

* The host is normalised: surrounding whitespace, IPv6 brackets, a ``:port`` and trailing dots
  (also the ideographic full stops ``。．｡``) are removed, ASCII is lower-cased.
* IP addresses (v4 dotted-decimal, v6 in any spelling) are their own party, in ``ipaddress``'s
  canonical form (``::1``, no brackets).
* Internationalised names are returned in their ASCII (punycode) form, as they travel in the Host
  header: ``例子.中国`` -> ``xn--fsqu00a.xn--fiqs8s``. Conversion follows UTS #46 non-transitional
  processing (what browsers do, so ``ß`` stays ``ß``), label by label with IDNA 2003 as the
  fallback for labels UTS #46 rejects (emoji); ASCII labels are taken as they are (underscores
  appear in real host names).
* Something that is not a host name (empty labels, spaces, URL delimiters, a label no IDNA
  version converts) is its own party, whole, rather than cut by the suffix list into a party
  it does not belong to.
* The suffix comes from tldextract's snapshot of the PSL bundled in the installed package. The
  extractor is built with ``suffix_list_urls=()`` and ``cache_dir=None``: it never fetches the
  list and never writes a cache file (tested with sockets disabled).
* A host whose last label is not in the PSL (``intranet.corp``, ``app.localhost``) follows the
  PSL algorithm's default rule ``*``: the unknown last label is the suffix, so the party is the
  last two labels (``app.localhost``). A single-label host (``localhost``) is its own party.
* A host that is itself a public suffix (``com.cn``, ``github.io``) is its own party.
* An empty host gives ``""``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import urlsplit

import tldextract

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

# Ideographic and full-width full stops that browsers (UTS #46) treat as label separators.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# A host name: non-empty labels without URL delimiters or spaces (IDNA is checked elsewhere).
_PLAIN_HOST = re.compile(r"[^\s/\\@?#:.\[\]]+(?:\.[^\s/\\@?#:.\[\]]+)*")
# "host:port" (never an IPv6 address: those have more than one colon)
_HOST_PORT = re.compile(r"([^:]*):[0-9]{1,5}")


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    """Build the PSL extractor once, on first use (importing tldextract costs ~0.25 s)."""
    import tldextract

    extractor = tldextract.TLDExtract(
        suffix_list_urls=(),  # never fetch the list over the network...
        cache_dir=None,  # ...nor read or write a cache file: the bundled snapshot only
        fallback_to_snapshot=True,
        include_psl_private_domains=True,  # a.github.io and b.github.io are different parties
    )
    # Load the snapshot now, so that a failure shows here and not in the middle of a scan.
    extractor("example.com")
    return extractor


def _ascii_label(label: str) -> str:
    """One label to ASCII, keeping (lower-cased) what IDNA rejects instead of losing it."""
    if label.isascii():
        return label.lower()
    try:
        return label.encode("idna").decode("ascii").lower()  # IDNA 2003: permissive fallback
    except UnicodeError:
        # Kept as it is (no NFKC: it can turn a label into one with spaces, and the party of
        # a party must be itself).
        return label.lower()


def normalize_host(host: str) -> str:
    """Return ``host`` in the canonical form used for parties (see the module docstring)."""
    # IDNA mapping can expose new leading/trailing junk ("0\r\xad" -> "0\r"): repeat until
    # stable so that normalising a normalised host changes nothing.
    for _ in range(4):
        normalized = _normalize_once(host)
        if normalized == host:
            break
        host = normalized
    return normalized


def _normalize_once(host: str) -> str:
    host = host.strip().translate(_DOTS)
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    elif port := _HOST_PORT.fullmatch(host):
        host = port.group(1)
    host = host.rstrip(".")
    if not host:
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host.isascii():
        return host.lower()
    import idna

    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return ".".join(_ascii_label(label) for label in host.split("."))


@functools.lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """Return the party (registrable domain) of ``host``: ``pay.bank.com.cn`` -> ``bank.com.cn``.

    ``host`` is a bare host name or IP address (no scheme, no port). Never raises.
    """
    normalized = normalize_host(host)
    if not normalized:
        return ""
    if is_ip(normalized) or not normalized.isascii() or not _PLAIN_HOST.fullmatch(normalized):
        # An IP address (already canonical), or not a host name at all (empty labels, spaces,
        # URL delimiters, labels IDNA could not convert): its own party, whole, rather than
        # something a suffix list would cut into a party it does not belong to.
        return normalized
    result = _extractor().extract_str(normalized)
    if result.suffix:
        return f"{result.domain}.{result.suffix}" if result.domain else result.suffix
    # The PSL's default rule "*": an unknown last label is a public suffix of its own.
    labels = normalized.split(".")
    return ".".join(labels[-2:])


def host_of_input(text: str) -> str | None:
    """The normalised host in what a person types for a site or a destination: a host name,
    ``host:port``, ``host/path`` or a URL (``https://pay.shop.com/x`` -> ``pay.shop.com``), as
    pasted from a browser's address bar or an audit export; None when it holds no host name
    or IP address."""
    text = text.strip()
    if "://" in text:
        try:
            host = urlsplit(text).hostname or ""
        except ValueError:  # a malformed IPv6 literal, say
            return None
    else:
        host = text.split("/", 1)[0]
    host = normalize_host(host)
    if not host or not (is_ip(host) or (host.isascii() and _PLAIN_HOST.fullmatch(host))):
        return None
    return host


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_public_suffix(name: str) -> bool:
    """True when ``name`` (normalised) is itself a public suffix such as ``gov.cn`` or ``com``."""
    result = _extractor()(name)
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
