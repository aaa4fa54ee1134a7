"""The data that flows between request parsing, the scanner and whoever acts on findings.

A request is turned into :class:`Field` values (a location and a decoded string); the scanner turns
fields into :class:`Finding` records. Raw personal data only ever lives in ``Finding.value`` and
``Field.value``, both excluded from ``repr`` so that logging a finding cannot leak it; anything that
leaves the process (output, audit, logs) uses :attr:`Finding.masked`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A step of a field's path inside its container: a mapping key or a list index.
PathStep = str | int


@dataclass(slots=True, unsafe_hash=True)
class Field:
    """One value of a request, decoded from its container (query, form, JSON, multipart, ...).

    ``location`` is the human-readable place, e.g. ``query.phone``, ``form.idNo``,
    ``json.data.user.idNo``, ``json.items[0].tel``, ``multipart.resume``, ``body``.
    ``source`` names the container kind (``query``, ``form``, ``json``, ``multipart``, ``text``,
    ``graphql``, ``websocket``, ...) and ``path`` the steps inside it, so that a value can be found
    again to be rewritten. ``name`` is the field's own name (the last key), used as context.
    ``labels`` are extra context words (e.g. a multipart part's filename or a form label).
    ``encodings`` are the container-level decodings already applied, outermost first
    (e.g. ``("gzip", "gb18030")``).

    Treat a field as immutable (derive new ones with :func:`dataclasses.replace`); it is hashable
    and compares by value. It is not declared ``frozen`` on purpose: a big request yields tens of
    thousands of fields, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per
    attribute) costs about 4x a plain one (2.4 us instead of 0.6 us per field).
    """

    location: str
    value: str = field(repr=False)
    source: str = "text"
    path: tuple[PathStep, ...] = ()
    name: str | None = None
    labels: tuple[str, ...] = ()
    encodings: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class Finding:
    """A piece of personal data found in a field.

    ``start``/``end`` index the fully decoded text in which it was found (``decoded``, which is the
    field value after the value-level decodings listed in ``value_encodings``). ``encodings`` is the
    whole chain, container then value level, outermost first, e.g.
    ``("form", "percent", "base64")``.

    Treat a finding as immutable (derive new ones with :func:`dataclasses.replace`); it is
    hashable and compares by value. Not declared ``frozen``, like :class:`Field`: a frozen
    dataclass's ``__init__`` costs about 3x (3.4 us instead of 1.2 us with its 13 fields), and
    the proxy makes a few per request, a big body hundreds.
    """

    entity_type: str
    score: float
    location: str
    masked: str
    value: str = field(repr=False)
    start: int = 0
    end: int = 0
    field_name: str | None = None
    encodings: tuple[str, ...] = ()
    value_encodings: tuple[str, ...] = ()
    recognizer: str = ""
    source: str = "text"
    path: tuple[PathStep, ...] = ()


@dataclass(slots=True)
class ScanIssue:
    """Something that kept part of a request from being scanned fully (never raised, reported).

    ``kind`` is a stable identifier (``truncated_body``, ``decompression_error``,
    ``invalid_json``, ``broken_multipart``, ``charset_error``, ``too_large``, ``scan_error``,
    ``depth_limit``, ...); ``detail`` is a human sentence that never contains field values.
    """

    kind: str
    location: str
    detail: str


@dataclass(slots=True)
class ScanResult:
    """Findings of one request plus whatever could not be fully scanned."""

    findings: list[Finding] = field(default_factory=list)
    issues: list[ScanIssue] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every byte of the request was decoded and scanned."""
        return not self.issues
