"""Who sends a request and who receives it: the page's site, the destination, third parties.

A *party* is a registrable domain ("eTLD+1") as defined by the Public Suffix List (PSL): the
public suffix of a host plus one label. ``www.bank.com.cn`` and ``pay.bank.com.cn`` are one party
(``bank.com.cn``); ``a.github.io`` and ``b.github.io`` are two, because ``github.io`` is in the
PSL's private section, which we include (as browsers do for cookies and site isolation).

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

The *site* of a request is the party of the document that made it (for a request from an iframe,
that iframe's document, not the top-level page). :func:`page_site` documents where it is read
from.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import tldextract
    from mitmproxy import http

# Ideographic and full-width full stops that browsers (UTS #46) treat as label separators.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# A host name: non-empty labels without URL delimiters or spaces (IDNA is checked elsewhere).
_PLAIN_HOST = re.compile(r"[^\s/\\@?#:.\[\]]+(?:\.[^\s/\\@?#:.\[\]]+)*")
# "host:port" (never an IPv6 address: those have more than one colon)
_HOST_PORT = re.compile(r"([^:]*):[0-9]{1,5}")

# Sec-Fetch-Site values that tell the request's site is the destination's own site:
# same-origin / same-site by definition (same-site compares registrable domains, as we do), and
# "none" for a user-initiated navigation (typed URL, bookmark): the page being opened is its
# own site. "cross-site" tells only that the site differs; see :func:`request_parties`.
_SAME_SITE_HINTS = frozenset({"same-origin", "same-site", "none"})


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
    if _is_ip(normalized) or not normalized.isascii() or not _PLAIN_HOST.fullmatch(normalized):
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


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _url_host(url: str) -> str | None:
    """Host of an absolute URL as found in Origin/Referer, or None when it has none."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if not parts.scheme or not host:
        return None
    return host


def destination(request: http.Request) -> str:
    """The party the request goes to: the registrable domain of ``request.pretty_host``.

    ``pretty_host`` prefers the Host header / authority over the connection's address, so a
    reverse-proxied or transparently intercepted request is attributed to the name the client
    asked for, as in a regular-proxy capture.
    """
    return registrable_domain(request.pretty_host)


def page_site(request: http.Request) -> str | None:
    """The party of the page that sent ``request``, or None when nothing tells.

    In order:

    1. ``Origin``, unless absent, ``null`` (sandboxed frames, opaque origins, cross-origin
       redirects) or not a URL with a host;
    2. ``Referer`` (even when trimmed to an origin by the referrer policy, its host is enough);
    3. ``Sec-Fetch-Site: same-origin`` or ``same-site``: the destination's party;
    4. ``Sec-Fetch-Site: none`` (a navigation the user started: typed URL, bookmark): the page
       being opened is its own site, so again the destination's party;
    5. otherwise None (non-browser clients, ``Referrer-Policy: no-referrer`` pages).
    """
    origin = request.headers.get("origin", "")
    if origin and origin.strip().lower() != "null":
        host = _url_host(origin)
        if host:
            return registrable_domain(host)
    referer = request.headers.get("referer", "")
    if referer:
        host = _url_host(referer)
        if host:
            return registrable_domain(host)
    if request.headers.get("sec-fetch-site", "").strip().lower() in _SAME_SITE_HINTS:
        return destination(request)
    return None


def is_third_party(site: str | None, dest: str) -> bool:
    """True when a page of party ``site`` sends to another party ``dest``.

    An unknown site (None) gives False: a third party is a claim about the page that sent the
    request, and with no page we cannot make it. Requests without Origin, Referer or fetch
    metadata mostly come from apps and scripts talking to their own service; calling all of them
    third-party would bury the real cases. :func:`request_parties` adds the one hint that is left
    (``Sec-Fetch-Site: cross-site``).
    """
    return site is not None and site != dest


class Parties(NamedTuple):
    """The parties of one request."""

    site: str | None
    destination: str
    third_party: bool


def request_parties(request: http.Request) -> Parties:
    """Site, destination and third-party flag of ``request``.

    ``third_party`` is :func:`is_third_party` of the two, except that a request whose site is
    unknown but whose ``Sec-Fetch-Site`` is ``cross-site`` (the browser knows the page and says it
    is another site, e.g. under ``no-referrer``) is third-party too.
    """
    site = page_site(request)
    dest = destination(request)
    if site is None:
        cross = request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site"
        return Parties(None, dest, cross)
    return Parties(site, dest, is_third_party(site, dest))
