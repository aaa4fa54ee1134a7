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

Nothing readable is kept: an entry is a keyed BLAKE2b-128 digest of the name and value (the key
is random per process), and a header in which anything was found, or that could not be read
fully, is never entered. Bounded: the table is cleared when full, like the other caches of the
hot path.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["CleanHeaders"]

DEFAULT_MAX_ENTRIES = 4096


class CleanHeaders:
    """Digests of ``(header name, value)`` pairs found clean, with their field counts.

    Safe to share between the event loop and worker threads (single dict operations).
    """

    __slots__ = ("_entries", "_key", "max_entries")

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max(1, max_entries)
        self._key = os.urandom(16)
        self._entries: dict[bytes, int] = {}

    def digest(self, name: bytes, value: bytes) -> bytes:
        """The entry key of a header as sent: ``name`` lower-cased, ``value`` raw."""
        h = hashlib.blake2b(name, digest_size=16, key=self._key)
        h.update(b"\x00")
        h.update(value)
        return h.digest()

    def fields(self, digest: bytes) -> int | None:
        """How many fields the header made when it was found clean; None when not known."""
        return self._entries.get(digest)

    def add(self, digest: bytes, fields: int) -> None:
        """Remember that the header of ``digest`` made ``fields`` fields and nothing was found."""
        entries = self._entries
        if len(entries) >= self.max_entries and digest not in entries:
            entries.clear()
        entries[digest] = fields

    def __len__(self) -> int:
        return len(self._entries)
