"""Parsing and validating one policy file into a :class:`PolicyFile` (see docs/policy-format.md).

Everything that can be checked is checked here, once, at load time: keys, types, entity types,
actions, domain patterns, regexes, message placeholders. Evaluation then never meets a bad value.
:func:`validate_file` collects every error of a file (one per rule or setting);
:func:`load_file` raises the first one.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import domains
from .entities import ANY_ENTITY, KNOWN_ENTITIES
from .model import ACTION_NAMES, Action, Combine, FailureMode, Mode, PolicyError, RuleRef
from .yamlnodes import Node, Reader, compose, kind_of, line_of

# The policy the proxy runs with when given no other, and the examples shipped beside it.
BUNDLED_DEFAULT = Path(__file__).parent / "bundled" / "default.yaml"
EXAMPLES_DIR = Path(__file__).parent / "examples"

# Larger files are refused: a policy is hand-written, a huge one is a mistake or an attack.
MAX_FILE_BYTES = 1 << 20

FORMAT_VERSION = 1
# Seconds the proxy waits for the user's answer to `ask` when a rule names no `timeout`.
DEFAULT_ASK_TIMEOUT = 30.0
MAX_ASK_TIMEOUT = 3600.0

TOP_KEYS = (
    "version",
    "description",
    "combine",
    "mode",
    "failure_mode",
    "default_action",
    "sites",
    "rules",
)
RULE_KEYS = (
    "id",
    "description",
    "site",
    "destination",
    "entities",
    "min_score",
    "method",
    "path",
    "path_regex",
    "action",
    "message",
    "fallback",
    "timeout",
    "failure_mode",
)
SITE_KEYS = ("trust",)
MESSAGE_FIELDS = frozenset({"entity", "site", "destination", "action"})

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
# RFC 9110 token characters; methods are compared upper-case.
_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FALLBACK_NAMES = tuple(name for name in ACTION_NAMES if name != Action.ASK)


def policy_stack(files: Iterable[str | Path], *, no_default: bool = False) -> list[Path]:
    """The policy files to layer, in order: the bundled default (unless ``no_default``), then
    ``files`` with "~" expanded, later ones winning (what the proxy, ``formshield run``'s
    banner and ``formshield policy explain`` all load)."""
    return ([] if no_default else [BUNDLED_DEFAULT]) + [Path(p).expanduser() for p in files]


@dataclass(frozen=True, slots=True)
class Setting[T]:
    """A file-level setting and where it was written."""

    value: T
    ref: RuleRef


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule. ``entities``/``methods`` are ``None`` for "any"."""

    ref: RuleRef
    sites: tuple[domains.DomainPattern, ...]
    destinations: tuple[domains.DomainPattern, ...]
    entities: frozenset[str] | None
    min_score: float
    methods: frozenset[str] | None
    path: re.Pattern[str] | None
    path_text: str | None  # as written; ``path_key`` says whether a glob or a regex
    path_key: str | None  # "path" or "path_regex"
    action: Action
    message: str | None
    message_has_fields: bool
    fallback: Action | None
    timeout: float | None
    failure_mode: FailureMode | None
    description: str | None


@dataclass(frozen=True, slots=True)
class TrustEntry:
    """``sites: {<site>: {trust: [...]}}``: destinations that count as first party on a site."""

    site: domains.DomainPattern
    destinations: tuple[domains.DomainPattern, ...]
    ref: RuleRef


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """A validated policy file; settings are ``None`` when the file does not set them."""

    path: str
    description: str | None
    combine: Setting[Combine] | None
    mode: Setting[Mode] | None
    failure_mode: Setting[FailureMode] | None
    default_action: Setting[Action] | None
    trust: tuple[TrustEntry, ...]
    rules: tuple[Rule, ...]


def read_text(path: str | Path) -> str:
    """The file's text (UTF-8, BOM allowed); :class:`PolicyError` when unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(path, None, f"cannot read policy file: {exc.strerror or exc}") from None
    return decode(data, path)


def decode(data: bytes, path: str | Path) -> str:
    """Decode policy file bytes (UTF-8, optional BOM) with size and encoding checks."""
    if len(data) > MAX_FILE_BYTES:
        raise PolicyError(path, None, f"policy file larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(path, line, "policy file is not valid UTF-8") from None


def load_file(path: str | Path) -> PolicyFile:
    """Load and validate one policy file; raise the first :class:`PolicyError`."""
    policy_file, errors = parse_text(read_text(path), path)
    if errors:
        raise errors[0]
    assert policy_file is not None  # no errors means a file
    return policy_file


def validate_file(path: str | Path) -> tuple[PolicyFile | None, list[PolicyError]]:
    """Load ``path`` collecting every error (one per setting, site entry or rule)."""
    try:
        text = read_text(path)
    except PolicyError as exc:
        return None, [exc]
    return parse_text(text, path)


def parse_text(text: str, path: str | Path) -> tuple[PolicyFile | None, list[PolicyError]]:
    """Parse policy ``text`` that came from ``path``; return the file or the errors found."""
    reader = Reader(path)
    errors: list[PolicyError] = []
    try:
        root = compose(text, reader.path)
        if root is None:
            raise reader.error(None, "empty policy file (expected a mapping with 'rules')")
        top = reader.mapping(root, "the policy file", TOP_KEYS)
    except PolicyError as exc:
        return None, [exc]

    def setting[T](key: str, parse: type[T], names: tuple[str, ...]) -> Setting[T] | None:
        if key not in top:
            return None
        key_node, value_node = top[key]
        try:
            value = parse(reader.choice(value_node, key.replace("_", " "), names))  # type: ignore[call-arg]
        except PolicyError as exc:
            errors.append(exc)
            return None
        return Setting(value, RuleRef(reader.path, line_of(key_node), key))

    if "version" in top:
        try:
            version_node = top["version"][1]
            if reader.integer(version_node, "version") != FORMAT_VERSION:
                raise reader.error(
                    version_node,
                    f"unsupported version (this formshield reads version {FORMAT_VERSION})",
                )
        except PolicyError as exc:
            errors.append(exc)
    description = _optional_string(reader, top, "description", errors)
    combine = setting("combine", Combine, tuple(c.value for c in Combine))
    mode = setting("mode", Mode, tuple(m.value for m in Mode))
    failure_mode = setting("failure_mode", FailureMode, tuple(f.value for f in FailureMode))
    default_action = setting("default_action", Action, _FALLBACK_NAMES)

    trust: list[TrustEntry] = []
    if "sites" in top:
        try:
            items = reader.check_map_keys(top["sites"][1], "'sites'")
        except PolicyError as exc:
            errors.append(exc)
            items = []
        for key_node, value_node in items:
            try:
                trust.append(_parse_site_entry(reader, key_node, value_node))
            except PolicyError as exc:
                errors.append(exc)

    rules: list[Rule] = []
    if "rules" in top:
        try:
            rule_nodes = reader.sequence(top["rules"][1], "'rules'")
        except PolicyError as exc:
            errors.append(exc)
            rule_nodes = []
        seen_ids: dict[str, int] = {}
        for node in rule_nodes:
            try:
                rule = _parse_rule(reader, node)
            except PolicyError as exc:
                errors.append(exc)
                continue
            if rule.ref.id in seen_ids:
                errors.append(
                    reader.error(
                        node,
                        f"duplicate rule id '{rule.ref.id}' (first defined at line "
                        f"{seen_ids[rule.ref.id]})",
                    )
                )
                continue
            seen_ids[rule.ref.id] = rule.ref.line
            rules.append(rule)

    if errors:
        errors.sort(key=lambda e: e.line or 0)
        return None, errors
    return (
        PolicyFile(
            path=reader.path,
            description=description,
            combine=combine,
            mode=mode,
            failure_mode=failure_mode,
            default_action=default_action,
            trust=tuple(trust),
            rules=tuple(rules),
        ),
        [],
    )


def _optional_string(
    reader: Reader, items: dict[str, tuple[Node, Node]], key: str, errors: list[PolicyError]
) -> str | None:
    if key not in items:
        return None
    try:
        return reader.string(items[key][1], f"'{key}'")
    except PolicyError as exc:
        errors.append(exc)
        return None


def _site(reader: Reader, node: Node, text: str) -> domains.DomainPattern:
    try:
        return domains.parse_site_pattern(text)
    except ValueError as exc:
        raise reader.error(node, str(exc)) from None


def _destination(
    reader: Reader, node: Node, text: str, *, allow_party: bool
) -> domains.DomainPattern:
    try:
        return domains.parse_domain_pattern(text, allow_party=allow_party)
    except ValueError as exc:
        raise reader.error(node, str(exc)) from None


def _parse_site_entry(reader: Reader, key_node: Node, value_node: Node) -> TrustEntry:
    site = _site(reader, key_node, str(key_node.value))
    items = reader.mapping(value_node, f"site '{key_node.value}'", SITE_KEYS)
    destinations: list[domains.DomainPattern] = []
    if "trust" in items:
        for node, text in reader.strings(items["trust"][1], "'trust'"):
            pattern = _destination(reader, node, text, allow_party=False)
            if pattern.kind is domains.PatternKind.ANY:
                raise reader.error(
                    node, "'trust' cannot be '*' (that would make every destination first party)"
                )
            destinations.append(pattern)
    return TrustEntry(
        site, tuple(destinations), RuleRef(reader.path, line_of(key_node), f"sites.{site.text}")
    )


def _parse_rule(reader: Reader, node: Node) -> Rule:
    if not isinstance(node, yaml.MappingNode):
        raise reader.error(node, f"each rule must be a mapping, got {kind_of(node)}")
    items = reader.mapping(node, "rule", RULE_KEYS)
    for required in ("id", "action"):
        if required not in items:
            raise reader.error(node, f"rule is missing required key '{required}'")
    id_node = items["id"][1]
    rule_id = reader.string(id_node, "rule 'id'")
    if not _ID_RE.fullmatch(rule_id):
        raise reader.error(
            id_node,
            f"invalid rule id '{rule_id}' (letters, digits and _ . : - only, "
            "at most 100 characters)",
        )
    ref = RuleRef(reader.path, line_of(node), rule_id)

    sites: tuple[domains.DomainPattern, ...] = (
        domains.DomainPattern(domains.PatternKind.ANY, "*", "*"),
    )
    if "site" in items:
        sites = tuple(_site(reader, n, t) for n, t in reader.strings(items["site"][1], "'site'"))
    destinations: tuple[domains.DomainPattern, ...] = (
        domains.DomainPattern(domains.PatternKind.ANY, "*", "any"),
    )
    if "destination" in items:
        destinations = tuple(
            _destination(reader, n, t, allow_party=True)
            for n, t in reader.strings(items["destination"][1], "'destination'")
        )

    entities: frozenset[str] | None = None
    if "entities" in items:
        entities = _parse_entities(reader, items["entities"][1])

    min_score = 0.0
    if "min_score" in items:
        score_node = items["min_score"][1]
        min_score = reader.number(score_node, "'min_score'")
        if not 0.0 <= min_score <= 1.0:
            raise reader.error(
                score_node, f"'min_score' must be between 0 and 1, got {min_score:g}"
            )

    methods: frozenset[str] | None = None
    if "method" in items:
        names = set()
        for method_node, text in reader.strings(items["method"][1], "'method'"):
            if text.strip() in ("*", "any"):
                raise reader.error(method_node, "omit 'method' to match every method")
            if not _METHOD_RE.fullmatch(text):
                raise reader.error(method_node, f"invalid HTTP method '{text}'")
            names.add(text.upper())
        methods = frozenset(names)

    path_re, path_text = _parse_path(reader, items)
    path_key = None if path_re is None else ("path_regex" if "path_regex" in items else "path")

    action_node = items["action"][1]
    action = Action(reader.choice(action_node, "action", ACTION_NAMES))

    fallback: Action | None = None
    timeout: float | None = None
    for key in ("fallback", "timeout"):
        if key in items and action is not Action.ASK:
            raise reader.error(items[key][0], f"'{key}' is only valid with action 'ask'")
    if action is Action.ASK:
        # Without an answer the data must not leave by default: a privacy tool fails closed.
        fallback = Action.BLOCK
        if "fallback" in items:
            fallback = Action(
                reader.choice(items["fallback"][1], "fallback action", _FALLBACK_NAMES)
            )
        timeout = DEFAULT_ASK_TIMEOUT
        if "timeout" in items:
            timeout_node = items["timeout"][1]
            timeout = reader.number(timeout_node, "'timeout'")
            if not 0.0 < timeout <= MAX_ASK_TIMEOUT:
                raise reader.error(
                    timeout_node,
                    f"'timeout' must be more than 0 and at most {MAX_ASK_TIMEOUT:g} seconds",
                )

    message: str | None = None
    has_fields = False
    if "message" in items:
        message_node = items["message"][1]
        message = reader.string(message_node, "'message'")
        has_fields = _check_message(reader, message_node, message)

    failure_mode: FailureMode | None = None
    if "failure_mode" in items:
        failure_mode = FailureMode(
            reader.choice(
                items["failure_mode"][1], "failure mode", tuple(f.value for f in FailureMode)
            )
        )

    description: str | None = None
    if "description" in items:
        description = reader.string(items["description"][1], "'description'")

    return Rule(
        ref=ref,
        sites=sites,
        destinations=destinations,
        entities=entities,
        min_score=min_score,
        methods=methods,
        path=path_re,
        path_text=path_text,
        path_key=path_key,
        action=action,
        message=message,
        message_has_fields=has_fields,
        fallback=fallback,
        timeout=timeout,
        failure_mode=failure_mode,
        description=description,
    )


def _parse_entities(reader: Reader, node: Node) -> frozenset[str] | None:
    items = reader.strings(node, "'entities'")
    if (
        len(items) == 1
        and items[0][1].strip() == ANY_ENTITY
        and not isinstance(node, yaml.SequenceNode)
    ):
        return None
    names: set[str] = set()
    for item_node, text in items:
        name = text.strip()
        if name == ANY_ENTITY:
            raise reader.error(
                item_node, "'*' must stand alone: write entities: \"*\" instead of a list"
            )
        if name not in KNOWN_ENTITIES:
            raise reader.error(
                item_node,
                f"unknown entity type '{name}' "
                f"(expected one of {', '.join(sorted(KNOWN_ENTITIES))} or '*')",
            )
        names.add(name)
    return frozenset(names)


def _parse_path(
    reader: Reader, items: dict[str, tuple[Node, Node]]
) -> tuple[re.Pattern[str] | None, str | None]:
    if "path" in items and "path_regex" in items:
        raise reader.error(
            items["path_regex"][0], "use either 'path' (glob) or 'path_regex', not both"
        )
    if "path" in items:
        node = items["path"][1]
        glob = reader.string(node, "'path'")
        if not glob.startswith(("/", "*")):
            raise reader.error(node, f"'path' glob must start with '/' or '*', got '{glob}'")
        # fnmatch semantics: '*' also crosses '/', '?' is one character, [...] a class.
        return re.compile(fnmatch.translate(glob)), glob
    if "path_regex" in items:
        node = items["path_regex"][1]
        pattern = reader.string(node, "'path_regex'")
        try:
            return re.compile(pattern), pattern
        except re.error as exc:
            raise reader.error(node, f"invalid 'path_regex': {exc}") from None
    return None, None


def _check_message(reader: Reader, node: Node, message: str) -> bool:
    """Validate ``{placeholders}`` in a message; return True when it has any."""
    has_fields = False
    try:
        parsed = list(string.Formatter().parse(message))
    except ValueError as exc:
        raise reader.error(
            node, f"invalid 'message' template: {exc} (write '{{{{' for a literal brace)"
        ) from None
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in MESSAGE_FIELDS or spec or conversion:
            raise reader.error(
                node,
                f"unknown placeholder '{{{field_name}}}' in 'message' (expected one of "
                f"{', '.join('{' + f + '}' for f in sorted(MESSAGE_FIELDS))})",
            )
        has_fields = True
    return has_fields
