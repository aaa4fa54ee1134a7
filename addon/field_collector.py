"""Limits, the parse result, and the collector the request and body parsers fill.

Kept apart from :mod:`addon.request_fields` (URL, headers, entry points) and
:mod:`addon.body_fields` (body formats) so both can share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from detectors.model import Field, PathStep, ScanIssue
from detectors.structure import expand_value, json_leaves
from detectors.value_gate import Keep, ValueGate

__all__ = ["DEFAULT_LIMITS", "FieldCollector", "ParseLimits", "ParsedRequest"]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds on the work and memory one request may cost; every cut is reported as an issue.

    ``max_body``: bodies larger than this as received are scanned only up to it;
    ``max_decoded_bytes``: body size after Content-Encoding (also caps plain bodies);
    ``max_file_part``: bytes of one text-like multipart file part that are scanned;
    ``max_fields``: fields per request; ``max_json_depth``: JSON nesting walked field by
    field; ``max_nesting``: layers of structure inside values (JSON in a form field in ...).
    """

    max_body: int = 64 * 1024 * 1024
    max_decoded_bytes: int = 64 * 1024 * 1024
    max_file_part: int = 4 * 1024 * 1024
    max_fields: int = 250_000
    max_json_depth: int = 64
    max_nesting: int = 6


DEFAULT_LIMITS = ParseLimits()


@dataclass(slots=True)
class ParsedRequest:
    """Fields of a request and the issues met while reading it.

    ``body_format`` is how the body was read (``form``, ``json``, ``graphql``, ``ndjson``,
    ``multipart``, ``text``, ``binary``; None without a body), ``body_charset`` the charset it
    was decoded with, ``content_encodings`` the Content-Encodings undone, outermost first.
    """

    fields: list[Field] = field(default_factory=list)
    issues: list[ScanIssue] = field(default_factory=list)
    body_format: str | None = None
    body_charset: str | None = None
    content_encodings: tuple[str, ...] = ()
    header_spans: list[tuple[str, bytes, int, int]] = field(default_factory=list)
    """With a :class:`~addon.clean_headers.CleanHeaders`: ``(name, raw value, start, end)`` of
    each header that was read into ``fields[start:end]`` without an issue. When scanning those
    fields finds nothing, the header goes into the table."""


_STRUCT_START = frozenset("{[ \t\r\n")


class FieldCollector:
    """Accumulates the fields (expanding structured values) and issues of one request.

    Enforces ``limits.max_fields`` (reported once as ``too_many_fields``); JSON leaves a gate
    let :meth:`add_json` skip count towards it (``skipped``) as if they had been added.
    """

    def __init__(self, limits: ParseLimits, gate: ValueGate | None = None) -> None:
        self.limits = limits
        self.gate = gate
        self.result = ParsedRequest()
        self.fields = self.result.fields
        self.issues = self.result.issues
        self.skipped = 0
        self._full = False
        # The gate's test for fields without labels (query and form values).
        self._keep: Keep | None = gate.keeper() if gate is not None else None

    def issue(self, kind: str, location: str, detail: str) -> None:
        self.issues.append(ScanIssue(kind, location, detail))

    @property
    def full(self) -> bool:
        """True once ``max_fields`` was reached: nothing more is added."""
        return self._full

    def skip(self, fields: int = 1) -> bool:
        """Count ``fields`` fields known to hold nothing as added, without making them; False
        (nothing counted) when they would pass ``max_fields``: the caller then adds them,
        so that the cut and its issue fall where they would without the shortcut."""
        if self._full or len(self.fields) + self.skipped + fields > self.limits.max_fields:
            return False
        self.skipped += fields
        return True

    def skip_clean(self, value: str, name: str | None = None) -> bool:
        """With a gate: True when ``value``, in a field called ``name`` (without labels), holds
        nothing for the scanner and was counted by :meth:`skip`. Without one: False."""
        keep = self._keep
        return keep is not None and not keep(value, name) and self.skip()

    def add(self, f: Field) -> None:
        """Add a field, or the fields of the structure inside its value."""
        if self._full:
            return
        v = f.value
        # Cheap gate before expand_value: structure needs "=" or a leading "{" / "[".
        if len(v) < 3 or ("=" not in v and v[0] not in _STRUCT_START):
            self._append(f)
            return
        children = expand_value(
            f,
            max_depth=self.limits.max_nesting,
            max_json_depth=self.limits.max_json_depth,
            issues=self.issues,
        )
        if children:
            for child in children:
                self._append(child)
        else:
            self._append(f)

    def add_json(
        self,
        obj: object,
        source: str,
        prefix: str,
        path: tuple[PathStep, ...] = (),
        *,
        encodings: tuple[str, ...] = (),
    ) -> None:
        """Add the leaves of a parsed JSON document (locations start with ``prefix``).

        With a gate, leaves it says the scanner can skip get no field, only a count. If the
        document then passes ``max_fields`` (skipped leaves included), what it added is taken
        back and it is walked again without the gate, so that the cut (and its
        ``too_many_fields`` issue) falls on the same leaf as without one.
        """
        if self._full:
            return
        walk = partial(
            json_leaves,
            obj,
            source,
            prefix,
            path,
            encodings=encodings,
            max_depth=self.limits.max_json_depth,
            issues=self.issues,
        )
        n_fields, n_issues = len(self.fields), len(self.issues)
        leaves = walk(gate=self.gate)
        self.add_walked(leaves.fields, leaves.structured)
        if not leaves.skipped:
            return
        self.skipped += leaves.skipped
        if self._full or len(self.fields) + self.skipped > self.limits.max_fields:
            del self.fields[n_fields:]
            del self.issues[n_issues:]
            self.skipped -= leaves.skipped
            self._full = False
            leaves = walk(gate=None)
            self.add_walked(leaves.fields, leaves.structured)

    def add_walked(self, fields: list[Field], structured: Sequence[int]) -> None:
        """Add the fields of a JSON walk (:func:`detectors.structure.json_leaves`): only those at
        the ``structured`` indices (ascending) may hold structure; the runs between them are
        appended as they are, in C, which saves a Python step per leaf of a big body."""
        limit = self.limits.max_fields - self.skipped
        start = 0
        for index in (*structured, len(fields)):
            if self._full:
                return
            chunk = fields[start:index]
            if len(self.fields) + len(chunk) > limit:
                self.add_all(fields[start:])  # the limit falls in this run: field by field
                return
            self.fields.extend(chunk)
            if index < len(fields):
                self.add(fields[index])
            start = index + 1

    def add_all(self, fields: Iterable[Field]) -> None:
        """:meth:`add` every field (inlined for plain values: big bodies have ~35k fields)."""
        out = self.fields
        append = out.append
        limit = self.limits.max_fields
        for f in fields:
            if self._full:
                return
            v = f.value
            # self.skipped is read each time: the fields may come from a generator that skips
            # values as it goes (urlencoded_fields' skip_value).
            if len(out) + self.skipped < limit and (
                len(v) < 3 or ("=" not in v and v[0] not in _STRUCT_START)
            ):
                append(f)
            else:
                self.add(f)

    def _append(self, f: Field) -> None:
        if len(self.fields) + self.skipped >= self.limits.max_fields:
            self._full = True
            self.issue(
                "too_many_fields",
                f.location,
                f"request has more than {self.limits.max_fields} fields; the rest is not scanned",
            )
            return
        self.fields.append(f)
