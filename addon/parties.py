"""Who sends a request and who receives it: the page's site, the destination, third parties.

A *party* is a registrable domain ("eTLD+1") as defined by the Public Suffix List (PSL): the
public suffix of a host plus one label. ``www.bank.com.cn`` and ``pay.bank.com.cn`` are one party
(``bank.com.cn``); ``a.github.io`` and ``b.github.io`` are two, because ``github.io`` is in the
PSL's private section, which we include (as browsers do for cookies and site isolation).

Host normalisation and registrable domains come from :mod:`policies.domains`, so that the
proxy and the policy always agree on who is first party.

The *site* of a request is the party of the document that made it (for a request from an iframe,
that iframe's document, not the top-level page). :func:`page_site` documents where it is read
from.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from mitmproxy.net.http import url as mitmproxy_url

from addon.header_values import header_values
from policies.domains import normalize_host, registrable_domain

__all__ = [
    "Located",
    "Parties",
    "destination",
    "host_and_port",
    "is_third_party",
    "locate",
    "normalize_host",
    "page_site",
    "pretty_url",
    "registrable_domain",
    "request_parties",
]

if TYPE_CHECKING:
    from mitmproxy import http

# Sec-Fetch-Site values that tell the request's site is the destination's own site:
# same-origin / same-site by definition (same-site compares registrable domains, as we do), and
# "none" for a user-initiated navigation (typed URL, bookmark): the page being opened is its
# own site. "cross-site" tells only that the site differs; see :func:`request_parties`.
_SAME_SITE_HINTS = frozenset({"same-origin", "same-site", "none"})
# The headers that tell the page's site, read together (addon.header_values).
_PAGE_HEADERS = (b"origin", b"referer", b"sec-fetch-site")


_AUTHORITY_VERSIONS = frozenset({b"HTTP/2.0", b"HTTP/3"})


def host_and_port(request: http.Request) -> tuple[str, int | None]:
    """``request.pretty_host`` and the port of its Host header / authority (None if it has
    none), the header parsed once per distinct value."""
    return _host_and_port(request, header_values(request, b"host")[0])


def _host_header(request: http.Request, host: str) -> str:
    """``Request.host_header`` (``""`` for None) given the request's Host header value ``host``:
    HTTP/2 and 3 name the host in :authority first, HTTP/1 in Host."""
    if request.data.http_version in _AUTHORITY_VERSIONS:
        return request.authority or host
    return host


def _host_and_port(request: http.Request, host: str) -> tuple[str, int | None]:
    authority = _host_header(request, host)
    if not authority:
        return request.host, None
    return _parse_authority(authority)


# A browser sends to a few hosts over and over; mitmproxy parses and validates the header on
# every pretty_host / pretty_url access.
@functools.lru_cache(maxsize=4096)
def _parse_authority(authority: str) -> tuple[str, int | None]:
    return mitmproxy_url.parse_authority(authority, check=False)


def pretty_url(request: http.Request, host: str, port: int | None) -> str:
    """``request.pretty_url`` from :func:`host_and_port`'s result (without parsing again)."""
    if request.first_line_format == "authority" or not _host_header(
        request, header_values(request, b"host")[0]
    ):
        return request.pretty_url
    scheme = request.scheme
    default = _DEFAULT_PORTS.get(scheme)
    port = port or default or 443
    path = request.path
    # mitmproxy.net.http.url.unparse, inlined: the audit needs this URL for every verdict.
    authority = host if port == default else f"{host}:{port}"
    return f"{scheme}://{authority}{path if path != '*' else ''}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


# An Origin, or a Referer trimmed to one: a page sends many requests with the same one.
_ORIGIN_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\s]*/?")


def _url_host(url: str) -> str | None:
    """Host of an absolute URL as found in Origin/Referer, or None when it has none. Origins
    are parsed once per value; URLs with a path or query are not cached: values there have no
    business in a cache."""
    if _ORIGIN_LIKE.fullmatch(url):
        return _origin_host(url)
    return _parse_url_host(url)


def _parse_url_host(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if not parts.scheme or not host:
        return None
    return host


_origin_host = functools.lru_cache(maxsize=4096)(_parse_url_host)


def destination(request: http.Request) -> str:
    """The party the request goes to: the registrable domain of ``request.pretty_host``.

    ``pretty_host`` prefers the Host header / authority over the connection's address, so a
    reverse-proxied or transparently intercepted request is attributed to the name the client
    asked for, as in a regular-proxy capture.
    """
    return registrable_domain(request.pretty_host)


def page_site(request: http.Request, dest: str | None = None) -> str | None:
    """The party of the page that sent ``request``, or None when nothing tells.

    ``dest`` is the request's destination party when the caller has it already.

    In order:

    1. ``Origin``, unless absent, ``null`` (sandboxed frames, opaque origins, cross-origin
       redirects) or not a URL with a host;
    2. ``Referer`` (even when trimmed to an origin by the referrer policy, its host is enough);
    3. ``Sec-Fetch-Site: same-origin`` or ``same-site``: the destination's party;
    4. ``Sec-Fetch-Site: none`` (a navigation the user started: typed URL, bookmark): the page
       being opened is its own site, so again the destination's party;
    5. otherwise None (non-browser clients, ``Referrer-Policy: no-referrer`` pages).
    """
    origin, referer, fetch_site = header_values(request, *_PAGE_HEADERS)
    return _page_site(request, origin, referer, fetch_site, dest)


def _page_site(
    request: http.Request, origin: str, referer: str, fetch_site: str, dest: str | None
) -> str | None:
    if origin and origin.strip().lower() != "null":
        host = _url_host(origin)
        if host:
            return registrable_domain(host)
    if referer:
        host = _url_host(referer)
        if host:
            return registrable_domain(host)
    if fetch_site.strip().lower() in _SAME_SITE_HINTS:
        return dest if dest is not None else destination(request)
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


class Located(NamedTuple):
    """Where a request goes (:func:`host_and_port`) and who sends it (:func:`request_parties`)."""

    host: str
    port: int | None
    parties: Parties


def locate(request: http.Request) -> Located:
    """:func:`host_and_port` and :func:`request_parties` of ``request``, from one pass over its
    headers (the proxy needs both for every request)."""
    host_header, origin, referer, fetch_site = header_values(request, b"host", *_PAGE_HEADERS)
    host, port = _host_and_port(request, host_header)
    return Located(host, port, _parties(request, host, origin, referer, fetch_site))


def request_parties(request: http.Request, host: str | None = None) -> Parties:
    """Site, destination and third-party flag of ``request``.

    ``host`` is ``request.pretty_host`` when the caller has computed it already (mitmproxy
    parses and validates the authority on every access; the proxy needs it more than once).

    ``third_party`` is :func:`is_third_party` of the two, except that a request whose site is
    unknown but whose ``Sec-Fetch-Site`` is ``cross-site`` (the browser knows the page and says it
    is another site, e.g. under ``no-referrer``) is third-party too.
    """
    origin, referer, fetch_site = header_values(request, *_PAGE_HEADERS)
    return _parties(
        request, host if host is not None else request.pretty_host, origin, referer, fetch_site
    )


def _parties(
    request: http.Request, host: str, origin: str, referer: str, fetch_site: str
) -> Parties:
    dest = registrable_domain(host)
    site = _page_site(request, origin, referer, fetch_site, dest)
    if site is None:
        return Parties(None, dest, fetch_site.strip().lower() == "cross-site")
    return Parties(site, dest, is_third_party(site, dest))
