"""Structured data inside requests and inside values: JSON documents, urlencoded pairs, URLs.

Turns parsed containers into :class:`~detectors.model.Field` values with precise locations and
paths, and recognises structured strings *inside* a value (a form field holding JSON, a JSON string
holding ``a=1&b=2``, a URL with a query string) so their parts are scanned with their own names as
context.

Path convention (what a later redaction step walks to find a value again):

* a ``str`` step is a mapping key or a form/query name, an ``int`` step a list index or, right
  after a form/query name, the occurrence of that name (``("idNo", 0)`` is the first ``idNo``);
* a marker step (a string starting with NUL, which never occurs in real keys) says that the value
  reached so far is itself a container, and the following steps go inside it:
  :data:`JSON_IN_VALUE` (a JSON document), :data:`FORM_IN_VALUE` (``a=1&b=2``),
  :data:`URL_QUERY` (the query string of a URL) and :data:`URL_BASE` (a URL without its query,
  a leaf);
* a final :data:`KEY` step means the field's value is the *name* at the preceding steps, not
  the value: names that could hold personal data (``{"13812345678": ...}``, ``?a@b.cn``) are
  scanned as well, and never shown in locations (they appear as ``<key>``).

Locations are for people and logs: ``json.data.user.idNo``, ``json.items[0].tel``,
``form.payload.user.idNo``, ``header.referer.query.phone``; a repeated form name is shown as
``form.tel[1]``. They never contain values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from detectors.decoders import (
    PERCENT_BYTE,
    PLUS_BYTE,
    percent_decode_bytes,
    unescape_numeric_refs,
)
from detectors.gc_pause import paused_gc
from detectors.model import Field, PathStep, ScanIssue

if TYPE_CHECKING:
    from detectors.value_gate import Keep, Keepers, ValueGate

__all__ = [
    "FORM_IN_VALUE",
    "JSON_IN_VALUE",
    "KEY",
    "URL_BASE",
    "URL_QUERY",
    "DecodedPairs",
    "JsonLeaves",
    "decode_pairs",
    "decode_urlencoded",
    "expand_value",
    "form_plus_is_space",
    "json_fields",
    "json_leaves",
    "key_is_safe",
    "key_label",
    "may_hold_structure",
    "safe_key_label",
    "split_urlencoded",
    "urlencoded_fields",
]

JSON_IN_VALUE = "\x00json"
FORM_IN_VALUE = "\x00form"
URL_QUERY = "\x00query"
URL_BASE = "\x00urlbase"
KEY = "\x00key"
_MARKERS = frozenset({JSON_IN_VALUE, FORM_IN_VALUE, URL_QUERY})

# Default bounds: JSON nesting walked field by field, and layers of structure inside values.
MAX_JSON_DEPTH = 64
MAX_NESTING = 6
# Hard bound on the JSON walk's recursion (Python's default limit is 1000 frames).
MAX_WALK_DEPTH = 200
# First characters of a value that may be JSON (after whitespace).
_STRUCT_START = frozenset("{[ \t\r\n")

# A name that may hold personal data: a run of 5+ digits (phone, ID, card, passport), an "@",
# or a long text. Such names are scanned as values and hidden in locations.
_UNSAFE_KEY_RE = re.compile(r"\d{5}|@")
_MAX_SAFE_KEY_LEN = 64
# application/x-www-form-urlencoded inside a value: names of URL-safe characters, values
# without whitespace.
_FORM_VALUE_RE = re.compile(
    r"[\w.\-\[\]%$:*~!]+=[^&\s]*(?:&+[\w.\-\[\]%$:*~!]+(?:=[^&\s]*)?)*&*", re.ASCII
)
_IDENT_RE = re.compile(r"[A-Za-z_$][\w.\-\[\]$]*", re.ASCII)
_URL_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//[^\s?#]*\?([^\s#]*)(?:#\S*)?")


def key_is_safe(key: str) -> bool:
    """True when a key/name cannot carry personal data and may be shown in a location."""
    return len(key) <= _MAX_SAFE_KEY_LEN and not _UNSAFE_KEY_RE.search(key)


# Location labels of safe keys met before: names repeat across requests ("page", "ts", "idNo"),
# so each is checked once. Only safe names are kept (one that may hold personal data never is);
# cleared when full.
_SAFE_LABELS: dict[str, str] = {}
_SAFE_LABELS_MAX = 8192


def safe_key_label(key: str) -> str | None:
    """:func:`key_label` of a safe key (see :func:`key_is_safe`), None for an unsafe one."""
    label = _SAFE_LABELS.get(key)
    if label is not None:
        return label
    if not key_is_safe(key):
        return None
    if len(_SAFE_LABELS) >= _SAFE_LABELS_MAX:
        _SAFE_LABELS.clear()
    label = _SAFE_LABELS[key] = key or '""'
    return label


def key_label(key: str) -> str:
    """How a key appears in a location: itself, ``""`` when empty, ``<key>`` when unsafe."""
    label = safe_key_label(key)
    return "<key>" if label is None else label


def _key_field(
    key: str,
    location: str,
    *,
    source: str,
    path: tuple[PathStep, ...],
    labels: tuple[str, ...],
    encodings: tuple[str, ...],
) -> Field:
    """A field for an unsafe key itself (path ends with :data:`KEY`)."""
    return Field(
        location=location,
        value=key,
        source=source,
        path=(*path, KEY),
        name=None,
        labels=labels,
        encodings=encodings,
    )


def json_fields(
    obj: object,
    source: str = "json",
    prefix: str = "json",
    path: tuple[PathStep, ...] = (),
    *,
    labels: tuple[str, ...] = (),
    encodings: tuple[str, ...] = (),
    max_depth: int = MAX_JSON_DEPTH,
    issues: list[ScanIssue] | None = None,
) -> Iterator[Field]:
    """Yield a field for every string and number leaf of a parsed JSON value, in document order.

    ``prefix`` starts the locations (``json`` -> ``json.data.user.idNo``, ``json.items[0].tel``)
    and ``path`` the paths (``("data", "user", "idNo")``). Booleans and nulls hold no text and
    are skipped; numbers are yielded as their JSON text (phones are often sent as numbers).
    Unsafe keys are yielded too (path ending with :data:`KEY`). Below ``max_depth`` (at most
    :data:`MAX_WALK_DEPTH`) a subtree is yielded as one field holding its JSON text and a
    ``depth_limit`` issue is added to ``issues``. Linear in the document size (the cyclic
    garbage collector is paused during the walk).
    """
    return iter(json_leaves(obj, source, prefix, path, labels=labels, encodings=encodings,
                            max_depth=max_depth, issues=issues).fields)  # fmt: skip


class JsonLeaves(NamedTuple):
    """What :func:`json_leaves` walked: the fields, the indices in ``fields`` of the string
    leaves that may hold structure (see :func:`may_hold_structure`), and how many leaves a
    ``gate`` let it skip."""

    fields: list[Field]
    structured: list[int]
    skipped: int


def json_leaves(
    obj: object,
    source: str = "json",
    prefix: str = "json",
    path: tuple[PathStep, ...] = (),
    *,
    labels: tuple[str, ...] = (),
    encodings: tuple[str, ...] = (),
    max_depth: int = MAX_JSON_DEPTH,
    issues: list[ScanIssue] | None = None,
    gate: ValueGate | None = None,
) -> JsonLeaves:
    """:func:`json_fields` as a list, plus the indices of the string leaves that may hold
    structure (an ``=``, or a leading ``{``/``[``): a caller expanding structure in values looks
    at those only, not at every leaf of a big body.

    With a ``gate`` (:mod:`detectors.value_gate`), leaves whose value it says the scanner can
    skip get no field at all (nor a location or path), only a count in ``skipped``: most leaves
    of a big body are such values. Unsafe keys and subtrees beyond ``max_depth`` are always kept.
    """
    walker = _JsonWalker(
        source, labels, encodings, min(max_depth, MAX_WALK_DEPTH), issues,
        gate.keepers(labels) if gate is not None else None,
        gate.small_ints if gate is not None else 0,
        gate.min_number_text if gate is not None else 0,
    )  # fmt: skip
    # The walk makes a field and a path tuple per kept leaf, all alive until the caller is
    # done: without the pause, the cyclic collector's passes over every live object of the
    # process grow with the document (detectors.gc_pause).
    with paused_gc():
        walker.walk(obj, prefix, path, None, 0)
    return JsonLeaves(walker.out, walker.structured, walker.skipped)


def may_hold_structure(value: str) -> bool:
    """Cheap necessary condition for :func:`expand_value` to find structure in ``value``."""
    return len(value) >= 3 and ("=" in value or value[0] in _STRUCT_START)


def _keep_all(value: str, name: str | None = None, /) -> bool:
    return True


class _JsonWalker:
    """Recursive walk appending to one list (about 3x faster than a generator with a stack).

    Recursion depth is bounded by ``max_depth`` (<= MAX_WALK_DEPTH), far below Python's limit.
    """

    __slots__ = (
        "_labels",
        "encodings",
        "issues",
        "keep",
        "keep_digits",
        "labels",
        "max_depth",
        "min_float_text",
        "out",
        "skipped",
        "small_ints",
        "source",
        "structured",
    )

    def __init__(  # noqa: PLR0917 - private, called once from json_leaves
        self,
        source: str,
        labels: tuple[str, ...],
        encodings: tuple[str, ...],
        max_depth: int,
        issues: list[ScanIssue] | None,
        keepers: Keepers | None,
        small_ints: int,
        min_float_text: int,
    ) -> None:
        self.source = source
        self.labels = labels
        self.encodings = encodings
        self.max_depth = max_depth
        self.issues = issues
        self.keep: Keep = keepers.keep if keepers is not None else _keep_all
        self.keep_digits: Keep = keepers.keep_digits if keepers is not None else _keep_all
        # Integers in [0, small_ints) are skipped without making their text (the gate would
        # skip it: too few digits for any recognizer), floats whose text is shorter than
        # min_float_text without the gate's search.
        self.small_ints = small_ints
        self.min_float_text = min_float_text
        self.skipped = 0
        self.out: list[Field] = []
        # Indices in out of string leaves that may hold structure (may_hold_structure).
        self.structured: list[int] = []
        # Key -> location label, or None for an unsafe key; keys repeat across list items.
        self._labels: dict[str, str | None] = {}

    def walk(
        self,
        value: object,
        loc: str,
        vpath: tuple[PathStep, ...],
        name: str | None,
        depth: int,
    ) -> None:
        # Leaves (most of the document) are handled inline in the loops: a call per leaf costs
        # as much as the rest of the walk. addon/quick_clean.py applies the same leaf tests to
        # small flat objects; a change here belongs there too (its property test checks).
        # ``type(x) is str`` is exact for json.loads output and faster than isinstance;
        # subclasses and other types take the general path below.
        # A leaf the gate skips costs its type test and the gate's search, nothing else.
        out = self.out
        append = out.append
        keep, keep_digits = self.keep, self.keep_digits
        small_ints, min_float_text = self.small_ints, self.min_float_text
        source, labels, encodings = self.source, self.labels, self.encodings
        if isinstance(value, dict):
            if depth >= self.max_depth:
                self._too_deep(value, loc, vpath, name)
                return
            known = self._labels
            structured = self.structured
            dot = loc + "."
            skipped = 0
            for key, child in value.items():
                k = key if type(key) is str else str(key)
                try:
                    label = known[k]
                except KeyError:
                    label = known[k] = safe_key_label(k)
                if label is None:
                    self._add(
                        _key_field(
                            k,
                            dot + "<key>",
                            source=source,
                            path=vpath + (k,),  # noqa: RUF005
                            labels=labels,
                            encodings=encodings,
                        )
                    )
                kind = type(child)
                if kind is str:
                    if not keep(child, k):
                        skipped += 1
                        continue
                    text: str = child
                elif kind is int:
                    if 0 <= child < small_ints:
                        skipped += 1
                        continue
                    text = str(child)
                    if not (keep_digits(text, k) if child > 0 else keep(text, k)):
                        skipped += 1
                        continue
                elif kind is float:
                    text = _float_text(child)
                    if len(text) < min_float_text or not keep(text, k):
                        skipped += 1
                        continue
                elif kind is bool or child is None:
                    continue
                else:
                    self.walk(
                        child,
                        dot + ("<key>" if label is None else label),
                        vpath + (k,),  # noqa: RUF005 - faster than (*vpath, k) in this hot loop
                        k,
                        depth + 1,
                    )
                    continue
                append(
                    Field(
                        dot + ("<key>" if label is None else label),
                        text,
                        source,
                        vpath + (k,),  # noqa: RUF005
                        k,
                        labels,
                        encodings,
                    )
                )
                if kind is str and ("=" in text or text[:1] in _STRUCT_START):
                    structured.append(len(out) - 1)
            self.skipped += skipped
        elif isinstance(value, list):
            if depth >= self.max_depth:
                self._too_deep(value, loc, vpath, name)
                return
            skipped = 0
            for i, child in enumerate(value):
                kind = type(child)
                if kind is str:
                    if not keep(child, name):
                        skipped += 1
                        continue
                    text = child
                elif kind is int:
                    if 0 <= child < small_ints:
                        skipped += 1
                        continue
                    text = str(child)
                    if not (keep_digits(text, name) if child > 0 else keep(text, name)):
                        skipped += 1
                        continue
                elif kind is float:
                    text = _float_text(child)
                    if len(text) < min_float_text or not keep(text, name):
                        skipped += 1
                        continue
                elif kind is bool or child is None:
                    continue
                else:
                    self.walk(child, f"{loc}[{i}]", vpath + (i,), name, depth + 1)  # noqa: RUF005
                    continue
                append(Field(f"{loc}[{i}]", text, source, vpath + (i,), name, labels, encodings))  # noqa: RUF005
                if kind is str and ("=" in text or text[:1] in _STRUCT_START):
                    self.structured.append(len(out) - 1)
            self.skipped += skipped
        elif isinstance(value, str):
            self._leaf(value, loc, vpath, name)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int):
            self._leaf(str(value), loc, vpath, name)
        elif isinstance(value, float):
            self._leaf(_float_text(value), loc, vpath, name)

    def _leaf(self, text: str, loc: str, vpath: tuple[PathStep, ...], name: str | None) -> None:
        """A leaf outside the inline loops (a top-level scalar, subclasses of str/int/float)."""
        if not self.keep(text, name):
            self.skipped += 1
            return
        self._add(Field(loc, text, self.source, vpath, name, self.labels, self.encodings))

    def _too_deep(
        self, value: object, loc: str, vpath: tuple[PathStep, ...], name: str | None
    ) -> None:
        if self.issues is not None:
            self.issues.append(
                ScanIssue(
                    "depth_limit",
                    loc,
                    f"JSON nested deeper than {self.max_depth} levels; the deeper part is "
                    "scanned as one text value",
                )
            )
        self._add(
            Field(
                loc,
                _dump(value),
                self.source,
                vpath,
                name,
                self.labels,
                (*self.encodings, "json_subtree"),
            )
        )

    def _add(self, field: Field) -> None:
        """Append a field of the rare kinds (keys, subtrees), flagging possible structure."""
        self.out.append(field)
        if may_hold_structure(field.value):
            self.structured.append(len(self.out) - 1)


def _float_text(value: float) -> str:
    """A float as JSON writes it (``repr`` for finite values, ~10x cheaper than json.dumps)."""
    return repr(value) if math.isfinite(value) else json.dumps(value)


def _dump(value: object) -> str:
    """JSON text of a subtree; a repr-free fallback if it is too deep even for json.dumps."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        return ""


# --- application/x-www-form-urlencoded --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedPairs:
    """Name/value pairs decoded with one charset; ``value`` is None for a name without ``=``.

    ``lossy`` is True when some bytes did not decode in ``charset`` and were replaced (U+FFFD).
    """

    pairs: list[tuple[str, str | None]]
    charset: str
    lossy: bool


def form_plus_is_space(data: str | bytes) -> bool:
    """Is ``+`` a space (the form rule) in the urlencoded ``data``? Only in data an encoder
    produced: encoders (browsers, URLSearchParams, urlencode) percent-encode every non-ASCII
    byte, so urlencoded-looking data that holds raw non-ASCII characters was written by hand,
    and its ``+`` is a plus (``手机号：+86-10-...``). Redaction reads pairs by the same rule."""
    return data.isascii()


def split_urlencoded(
    data: bytes, *, plus_is_space: bool | None = None
) -> list[tuple[bytes, bytes | None]]:
    """Split ``a=1&b=%E5%BC%A0&flag`` into percent-decoded byte pairs.

    Empty items (``a=1&&b=2``) are dropped; an item without ``=`` gives ``(name, None)``.
    ``+`` is a space where ``plus_is_space`` says so; by default (None) as the data itself
    tells (:func:`form_plus_is_space`).
    """
    plus = form_plus_is_space(data) if plus_is_space is None else plus_is_space
    out: list[tuple[bytes, bytes | None]] = []
    append = out.append
    for item in data.split(b"&"):
        if not item:
            continue
        name, eq, value = item.partition(b"=")
        # Most names and many values hold neither "%" nor "+": skip the decoding call (byte
        # values as needles, see detectors.decoders.PERCENT_BYTE).
        if PERCENT_BYTE in name or (plus and PLUS_BYTE in name):
            name = percent_decode_bytes(name, plus_is_space=plus)
        if not eq:
            append((name, None))
            continue
        if PERCENT_BYTE in value or (plus and PLUS_BYTE in value):
            value = percent_decode_bytes(value, plus_is_space=plus)
        append((name, value))
    return out


def decode_pairs(raw: list[tuple[bytes, bytes | None]], charset: str | None = None) -> DecodedPairs:
    """Decode byte pairs with ONE charset for all of them (cn-pii.md "Encodings").

    An explicit ``charset`` wins; otherwise strict UTF-8 if every name and value decodes, else
    GB18030 (never GB18030 first: UTF-8 bytes also decode as GB18030). Deciding per value would
    be wrong, since some GBK names are valid UTF-8. Undecodable bytes become U+FFFD and set
    ``lossy``.
    """
    if charset is None:
        # Strict UTF-8 for all, decoded once (the usual answer); at the first failure, GB18030.
        decoded: list[tuple[str, str | None]] = []
        append = decoded.append
        try:
            for name, value in raw:
                append((name.decode("utf-8"), None if value is None else value.decode("utf-8")))
        except UnicodeDecodeError:
            charset = "gb18030"
        else:
            return DecodedPairs(decoded, "utf-8", False)
    lossy = False
    pairs: list[tuple[str, str | None]] = []
    for name, value in raw:
        n = name.decode(charset, "replace")
        v = value.decode(charset, "replace") if value is not None else None
        if "\ufffd" in n or (v is not None and "\ufffd" in v):
            lossy = lossy or not (
                _strict_ok(name, charset) and (value is None or _strict_ok(value, charset))
            )
        pairs.append((n, v))
    return DecodedPairs(pairs, charset, lossy)


def decode_urlencoded(data: bytes) -> DecodedPairs:
    """``decode_pairs(split_urlencoded(data))``: the pairs of ``a=1&b=%E5%BC%A0&flag`` decoded
    with one charset.

    Most queries and forms are plain ASCII without ``%`` or ``+``: nothing to percent-decode,
    and ASCII is valid UTF-8, so such data is split once as text (~3 µs less for a 3-pair
    query than splitting bytes, testing each item and decoding it).
    """
    if data.isascii() and PERCENT_BYTE not in data and PLUS_BYTE not in data:
        pairs: list[tuple[str, str | None]] = []
        append = pairs.append
        for item in data.decode("ascii").split("&"):
            if item:
                name, eq, value = item.partition("=")
                append((name, value if eq else None))
        return DecodedPairs(pairs, "utf-8", False)
    return decode_pairs(split_urlencoded(data))


def _strict_ok(data: bytes, charset: str) -> bool:
    try:
        data.decode(charset)
    except UnicodeDecodeError:
        return False
    return True


def urlencoded_fields(
    pairs: Iterable[tuple[str, str | None]],
    source: str,
    prefix: str,
    path: tuple[PathStep, ...] = (),
    *,
    labels: tuple[str, ...] = (),
    encodings: tuple[str, ...] = (),
    ncr: bool = False,
    skip_value: Callable[[str, str], bool] | None = None,
) -> Iterator[Field]:
    """Fields for decoded name/value pairs: location ``prefix.name``, path ``(name, occurrence)``.

    A repeated name is located as ``prefix.name[1]``. Unsafe names (and names without ``=``,
    which are data themselves, e.g. ``?13812345678``) are emitted as :data:`KEY` fields when
    unsafe. ``ncr`` unescapes ``&#NNNNN;`` references, which browsers send for characters the
    page charset cannot encode; such fields get ``"ncr"`` appended to their encodings. Lazy, so
    a caller that stops at a field limit does not pay for the rest.

    ``skip_value(value, name)``, when given, is asked about the value of each safe name: True
    means the scanner would find nothing there (a :class:`~detectors.value_gate.ValueGate`
    keeper for ``labels`` says so) and it was counted as a field; no field is made for it.
    """
    seen: dict[str, int] = {}
    ncr_encodings = (*encodings, "ncr")
    for name, raw_value in pairs:
        occ = seen.get(name, 0)
        seen[name] = occ + 1
        label = safe_key_label(name)
        if (
            skip_value is not None
            and label is not None
            and raw_value is not None
            and skip_value(raw_value, name)  # "&#..." is kept: "&" is one of the gate's characters
        ):
            continue
        shown = "<key>" if label is None else label
        loc = f"{prefix}.{shown}[{occ}]" if occ else f"{prefix}.{shown}"
        fpath = (*path, name, occ)
        if label is None:
            key = unescape_numeric_refs(name) if ncr else name
            yield _key_field(
                key, loc, source=source, path=fpath, labels=labels, encodings=encodings
            )
        if raw_value is None:
            continue
        if ncr and "&#" in raw_value:
            unescaped = unescape_numeric_refs(raw_value)
            if unescaped != raw_value:
                yield Field(loc, unescaped, source, fpath, name, labels, ncr_encodings)
                continue
        yield Field(loc, raw_value, source, fpath, name, labels, encodings)


# --- structure inside a value ------------------------------------------------------------------


def _nesting(path: tuple[PathStep, ...]) -> int:
    return sum(1 for step in path if step in _MARKERS)


def expand_value(
    field: Field,
    *,
    max_depth: int = MAX_NESTING,
    max_json_depth: int = MAX_JSON_DEPTH,
    issues: list[ScanIssue] | None = None,
) -> list[Field]:
    """Child fields of a value that is itself structured, or ``[]`` when it is not.

    Recognised: a JSON object/array (``{"user": {"idNo": ...}}`` in ``form.payload`` gives
    ``form.payload.user.idNo``, path ``(..., JSON_IN_VALUE, "user", "idNo")``); urlencoded pairs
    (``a=1&b=2``, path ``(..., FORM_IN_VALUE, "a", 0)``); a URL with a query string (its query as
    ``<location>.query.name`` plus the URL without its query as ``<location>.url``). Children are
    expanded recursively; the children together cover every piece of the value's text, so a
    caller replaces the field by them. Beyond ``max_depth`` nested layers a ``depth_limit`` issue
    is reported and the value is left as it is.
    """
    value = field.value
    if len(value) < 3:
        return []
    first = value[0] if not value[0].isspace() else value.lstrip()[:1]
    if first and first in "{[":
        kind = "json"
    elif "=" in value:
        kind = "form"
    else:
        return []
    if _nesting(field.path) >= max_depth:
        if issues is not None:
            issues.append(
                ScanIssue(
                    "depth_limit",
                    field.location,
                    f"structured data nested more than {max_depth} layers deep inside a value "
                    "is scanned as plain text",
                )
            )
        return []
    children = (
        _json_children(field, max_json_depth, issues) if kind == "json" else _form_children(field)
    )
    if not children:
        return []
    out: list[Field] = []
    for child in children:
        grandchildren = expand_value(
            child, max_depth=max_depth, max_json_depth=max_json_depth, issues=issues
        )
        out.extend(grandchildren or (child,))
    return out


def _child_labels(field: Field) -> tuple[str, ...]:
    """Labels of children: the parent's labels plus the parent's name (context)."""
    if field.name and field.name not in field.labels:
        return (*field.labels, field.name)
    return field.labels


def _json_children(
    field: Field, max_json_depth: int, issues: list[ScanIssue] | None
) -> list[Field]:
    text = field.value.strip()
    if text[-1:] not in "}]" or len(text) < 2:
        return []
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if not isinstance(obj, dict | list) or not obj:
        return []
    return list(
        json_fields(
            obj,
            field.source,
            field.location,
            (*field.path, JSON_IN_VALUE),
            labels=_child_labels(field),
            encodings=(*field.encodings, "json"),
            max_depth=max_json_depth,
            issues=issues,
        )
    )


def _form_children(field: Field) -> list[Field]:
    value = field.value
    url = _URL_RE.fullmatch(value)
    if url is not None:
        query = url.group(1)
        qstart = url.start(1)
        labels = _child_labels(field)
        base = Field(
            f"{field.location}.url",
            value[: qstart - 1],
            field.source,
            (*field.path, URL_BASE),
            field.name,
            labels,
            field.encodings,
        )
        pairs = decode_urlencoded(query.encode("utf-8", "surrogatepass"))
        return [
            base,
            *urlencoded_fields(
                pairs.pairs,
                field.source,
                f"{field.location}.query",
                (*field.path, URL_QUERY),
                labels=labels,
                encodings=(*field.encodings, "urlencoded"),
            ),
        ]
    if not _FORM_VALUE_RE.fullmatch(value):
        return []
    if "&" not in value:
        # A single "name=value" is only taken as a form when it cannot be base64 padding or an
        # expression: identifier name, non-empty value without another "=".
        name, _, rest = value.partition("=")
        if not rest or "=" in rest or not _IDENT_RE.fullmatch(name):
            return []
    pairs = decode_urlencoded(value.encode("utf-8", "surrogatepass"))
    return list(
        urlencoded_fields(
            pairs.pairs,
            field.source,
            field.location,
            (*field.path, FORM_IN_VALUE),
            labels=_child_labels(field),
            encodings=(*field.encodings, "urlencoded"),
        )
    )
