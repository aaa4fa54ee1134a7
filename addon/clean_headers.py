"""Header values the scanner found nothing in, so that the next request need not scan them again.

A browser sends the same Cookie header (often 20-40 cookies: analytics ids, session tokens,
timestamps) and the same Referer on every request of a page, and scanning a Cookie header costs
far more than the rest of a GET: ~300 µs for a 600-byte header of 20 cookies, against ~35 µs for
the whole of a plain GET (measured on the project's machine). Tracker cookies such as
``_ga=GA1.2.1234567890.1732812345`` hold digit runs and base64-like tokens that every recognizer
has to look at.

Whether a header holds anything depends on its name and value only: its fields (the value, or
one per cookie) are built from those two, and the scanner's findings for a field depend on the
field's own name, value and place, never on other fields. So :class:`CleanHeaders` remembers, per
``(name, value)``, that scanning found nothing and how many fields the header made;
:func:`addon.request_fields.parse_request` then counts those fields as skipped instead of making
them (see ``ParsedRequest.header_spans`` for how the entries are learnt).

Only headers in which nothing was found are entered, never one that could not be read fully,
and only values up to :data:`MAX_VALUE_BYTES`, ``max_bytes`` of them in all (4 MB by default).
The entries are the name and raw value themselves: in memory only (like the flows mitmproxy
holds), never written or logged. A keyed digest would keep nothing readable, but computing one
costs more than scanning a short header such as a Referer, on the event loop, on every request.
Bounded: the table is cleared when full, like the other caches of the hot path.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ENTRIES", "MAX_VALUE_BYTES", "CleanHeaders"]

DEFAULT_MAX_ENTRIES = 4096
# Longer values (rare: big Authorization or custom headers) are scanned every time.
MAX_VALUE_BYTES = 16 * 1024
# The values kept add up to at most this (a site sending ever new 16 KB headers pins no more).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class CleanHeaders:
    """``(lower-case header name, raw value)`` pairs found clean, with their field counts.

    Safe to share between the event loop and worker threads (single dict operations).
    """

    __slots__ = ("_bytes", "_entries", "max_bytes", "max_entries")

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_entries = max(1, max_entries)
        self.max_bytes = max(MAX_VALUE_BYTES, max_bytes)
        self._entries: dict[tuple[str, bytes], int] = {}
        self._bytes = 0  # of the values kept

    def fields(self, name: str, value: bytes) -> int | None:
        """How many fields the header made when it was found clean; None when not known."""
        return self._entries.get((name, value))

    def add(self, name: str, value: bytes, fields: int) -> None:
        """Remember that header ``name: value`` made ``fields`` fields and nothing was found."""
        if len(value) > MAX_VALUE_BYTES:
            return
        entries = self._entries
        key = (name, value)
        if key in entries:
            entries[key] = fields
            return
        if len(entries) >= self.max_entries or self._bytes + len(value) > self.max_bytes:
            entries.clear()
            self._bytes = 0
        entries[key] = fields
        self._bytes += len(value)

    def __len__(self) -> int:
        return len(self._entries)
