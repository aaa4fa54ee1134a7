"""The user policy file: per-site choices made in the browser extension, kept as a policy file.

The extension's backend (``addon/extension_api.py``) writes ``<data dir>/user-policy.yaml``; the
proxy layers it **last**, over the bundled default and any ``formshield_policy`` files, so that
at equal specificity its rules win (docs/policy-format.md, "Layering"). It is an ordinary policy
file in a restricted shape, so ``formshield policy check`` and ``explain`` work on it::

    version: 1
    sites:
      shop.test:
        trust: [pay.example.com]          # destinations that count as first party on shop.test
    rules:
      - id: user:shop.test:CN_PHONE:third-party
        site: shop.test                   # one site (a registrable domain) per rule
        destination: third-party          # first-party, third-party or one domain pattern
        entities: [CN_PHONE]              # one entity type, or "*"
        action: allow                     # [fallback, timeout: only with ask]
        # [method: [GET, HEAD, ...every standard method], path: "*"]: an "outranking" rule

:class:`UserPolicy` is that shape as a value: a trust list per site and one rule per
``(site, entity, party)`` key, so that setting an action for a key replaces the earlier choice.
An "always allow" answer that would lose to a rule naming a method and path is written as an
*outranking* rule (:data:`OUTRANK_METHODS`, :data:`OUTRANK_PATH`): it matches every request
as before but ranks as specific as such a rule, and the later file (this one) wins the tie.
:func:`apply_change` makes the changes the API offers; :func:`render` writes the YAML;
:class:`UserPolicyFile` validates the rendered text with :func:`policies.loader.parse_text`
before it atomically replaces the file (temporary file + ``os.replace``), so a bad change never
reaches the disk. Hand edits are read back as long as they keep this shape (lists of sites,
destinations or entity types are split into one rule each, which the engine treats the same);
anything else (a ``path``, a ``message``, ``mode: simulate``) is refused with the line that has
it, rather than dropped on the next write.

No mitmproxy and no detectors here (the ``policies`` package imports neither).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import domains
from .entities import ANY_ENTITY, KNOWN_ENTITIES
from .loader import DEFAULT_ASK_TIMEOUT, FORMAT_VERSION, PolicyFile, decode, parse_text
from .model import Action, PolicyError

USER_POLICY_FILE = "user-policy.yaml"
FIRST_PARTY = domains.FIRST_PARTY
THIRD_PARTY = domains.THIRD_PARTY
# The policy format's default fallback for `ask` (a privacy tool fails closed).
DEFAULT_ASK_FALLBACK = Action.BLOCK
FILE_MODE = 0o600

# (site, entity type or "*", party: first-party / third-party / domain pattern)
RuleKey = tuple[str, str, str]

# An "outranking" rule names every standard method and the path glob "*": it matches what a rule
# without method and path matches, but ranks as specific as a rule naming both (see
# docs/policy-format.md, "Combining"), so it beats such rules of other files at equal site,
# destination and entity specificity (ties go to the file loaded last: this one).
OUTRANK_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
OUTRANK_PATH = "*"

_HEADER = """\
# formshield user policy: the choices you made in the browser extension.
# formshield's extension API writes this file; the proxy layers it last, over the bundled
# default and your formshield_policy files, and reloads it when it changes.
# Hand edits are kept as long as they keep this shape: one site, one destination and one
# entity type (or "*") per rule. Rules of any other shape belong in a policy file of your own.
# Check it with: formshield policy check {name}
"""

_ID_CHARS_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")
_MAX_ID = 100


class UserPolicyError(ValueError):
    """A change or a user policy file that cannot be used; ``str()`` says why (no values)."""


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRule:
    """What to do with one entity type (or ``*``) sent from ``site`` to ``party``.

    ``party`` is ``first-party``, ``third-party`` or a destination pattern in canonical form
    (``pay.example.com``, ``*.example.com``). ``fallback`` and ``timeout`` are only for ``ask``;
    ``None`` means the format's defaults (``block`` after 30 s). ``outrank`` writes the rule with
    :data:`OUTRANK_METHODS` and :data:`OUTRANK_PATH` (used when an "always allow" answer would
    otherwise lose to a rule that names a method and path).
    """

    site: str
    entity: str
    party: str
    action: Action
    fallback: Action | None = None
    timeout: float | None = None
    outrank: bool = False

    @property
    def key(self) -> RuleKey:
        """The rule's identity: a later choice for the same key replaces it."""
        return (self.site, self.entity, self.party)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe view (for the extension API)."""
        out: dict[str, Any] = {
            "site": self.site,
            "entity": self.entity,
            "party": self.party,
            "action": str(self.action),
        }
        if self.action is Action.ASK:
            out["fallback"] = str(self.fallback or DEFAULT_ASK_FALLBACK)
            out["timeout"] = self.timeout if self.timeout is not None else DEFAULT_ASK_TIMEOUT
        if self.outrank:
            out["outrank"] = True
        return out


@dataclass(frozen=True, slots=True)
class UserPolicy:
    """The content of the user policy file. Immutable: changes return a new value."""

    trust: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: Mapping[RuleKey, UserRule] = field(default_factory=dict)

    def trusted(self, site: str) -> tuple[str, ...]:
        """Destinations the user file trusts on ``site`` (sorted)."""
        return self.trust.get(site, ())

    def site_rules(self, site: str) -> list[UserRule]:
        """The user rules of ``site``, in file order."""
        return [rule for key, rule in sorted(self.rules.items()) if key[0] == site]

    def sites(self) -> list[str]:
        """Every site the file says something about."""
        return sorted({*self.trust, *(key[0] for key in self.rules)})


# --- changes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trust:
    """``{"trust": "pay.example.com"}``: the destination counts as first party on the site."""

    destination: str


@dataclass(frozen=True, slots=True)
class Untrust:
    """``{"untrust": "pay.example.com"}``: undo a :class:`Trust`."""

    destination: str


@dataclass(frozen=True, slots=True)
class SetRule:
    """``{"entity": E, "party": P, "action": A}``; ``action`` None (``"inherit"``) removes the
    user rule for that key, so the other policy files decide again."""

    entity: str
    party: str
    action: Action | None


@dataclass(frozen=True, slots=True)
class Reset:
    """``{"reset": true}``: forget every user rule and trust entry of the site."""


Change = Trust | Untrust | SetRule | Reset

INHERIT = "inherit"
_CHANGE_KEYS = (
    frozenset({"trust"}),
    frozenset({"untrust"}),
    frozenset({"entity", "party", "action"}),
    frozenset({"reset"}),
)


def parse_change(data: object) -> Change:
    """Validate one change as sent by the extension (see the module docstring).

    Raises :class:`UserPolicyError` with a reason for anything else (wrong keys, types, unknown
    entity types, actions or domains). Values are domains and names, never personal data, so
    they may appear in the reason.
    """
    if not isinstance(data, dict):
        raise UserPolicyError("a change must be a JSON object")
    keys = frozenset(data)
    if keys not in _CHANGE_KEYS:
        raise UserPolicyError(
            'a change is one of {"trust": domain}, {"untrust": domain}, '
            '{"entity", "party", "action"} or {"reset": true}; got keys '
            + (", ".join(sorted(str(k) for k in keys)) or "none")
        )
    if "reset" in keys:
        if data["reset"] is not True:
            raise UserPolicyError("'reset' must be true")
        return Reset()
    if "trust" in keys or "untrust" in keys:
        key = "trust" if "trust" in keys else "untrust"
        destination = trust_destination(_text(data[key], key))
        return Trust(destination) if key == "trust" else Untrust(destination)
    entity = _text(data["entity"], "entity").strip()
    if entity != ANY_ENTITY and entity not in KNOWN_ENTITIES:
        raise UserPolicyError(
            f"unknown entity type '{entity}' "
            f"(expected one of {', '.join(sorted(KNOWN_ENTITIES))} or '*')"
        )
    party = rule_party(_text(data["party"], "party"))
    action_text = _text(data["action"], "action").strip()
    if action_text == INHERIT:
        return SetRule(entity, party, None)
    try:
        action = Action(action_text)
    except ValueError:
        names = ", ".join([*(a.value for a in Action), INHERIT])
        raise UserPolicyError(f"unknown action '{action_text}' (expected one of {names})") from None
    return SetRule(entity, party, action)


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserPolicyError(f"'{key}' must be a non-empty string")
    if len(value) > 300:
        raise UserPolicyError(f"'{key}' is too long")
    return value


def canonical_pattern(pattern: domains.DomainPattern) -> str:
    """The canonical text of a domain pattern (lower-case IDNA, ``*.`` kept for wildcards)."""
    if pattern.kind is domains.PatternKind.WILDCARD:
        return "*." + pattern.name
    if pattern.kind is domains.PatternKind.ANY:
        return "*"
    return pattern.name


def site_key(text: str) -> str:
    """A site as the user file names it: a registrable domain (``UserPolicyError`` otherwise)."""
    try:
        pattern = domains.parse_site_pattern(text)
    except ValueError as exc:
        raise UserPolicyError(str(exc)) from None
    if pattern.kind is not domains.PatternKind.EXACT:
        raise UserPolicyError(f"'{text}' is not a site (a registrable domain such as shop.com)")
    return pattern.name


def trust_destination(text: str) -> str:
    """A destination that may be trusted: a domain or ``*.`` wildcard, never ``*`` or a party."""
    try:
        pattern = domains.parse_domain_pattern(text, allow_party=False)
    except ValueError as exc:
        raise UserPolicyError(str(exc)) from None
    if pattern.kind is domains.PatternKind.ANY:
        raise UserPolicyError("cannot trust '*' (that would make every destination first party)")
    return canonical_pattern(pattern)


def rule_party(text: str) -> str:
    """``first-party``, ``third-party`` or one destination domain pattern (not ``*``)."""
    try:
        pattern = domains.parse_domain_pattern(text, allow_party=True)
    except ValueError as exc:
        raise UserPolicyError(str(exc)) from None
    if pattern.kind is domains.PatternKind.ANY:
        raise UserPolicyError(
            "'party' must be first-party, third-party or a destination domain, not '*'"
        )
    return canonical_pattern(pattern)


def apply_change(policy: UserPolicy, site: str, change: Change) -> UserPolicy:
    """``policy`` with ``change`` made for ``site`` (a :func:`site_key`); pure.

    Raises :class:`UserPolicyError` when ``untrust`` names a destination the file does not
    trust (it may be trusted by another policy file, which this one cannot undo).
    """
    trust = dict(policy.trust)
    rules = dict(policy.rules)
    if isinstance(change, Reset):
        trust.pop(site, None)
        rules = {k: r for k, r in rules.items() if k[0] != site}
    elif isinstance(change, Trust):
        trust[site] = tuple(sorted({*trust.get(site, ()), change.destination}))
    elif isinstance(change, Untrust):
        current = trust.get(site, ())
        if change.destination not in current:
            raise UserPolicyError(
                f"'{change.destination}' is not trusted on {site} by the user policy"
            )
        remaining = tuple(d for d in current if d != change.destination)
        if remaining:
            trust[site] = remaining
        else:
            del trust[site]
    else:
        key = (site, change.entity, change.party)
        if change.action is None:
            rules.pop(key, None)
        else:
            rules[key] = UserRule(site, change.entity, change.party, change.action)
    return UserPolicy(trust, rules)


def allow_always(
    policy: UserPolicy,
    site: str,
    destination: str,
    entities: Iterable[str],
    *,
    outrank: bool = False,
) -> UserPolicy:
    """``policy`` plus rules allowing ``entities`` from ``site`` to the ``destination`` host.

    Used for the answer "always allow" to an ``ask``; ``outrank`` makes the rules
    :attr:`UserRule.outrank`. Entity types unknown to the policy format raise
    :class:`UserPolicyError` (widening them to ``*`` would allow more than was asked).
    """
    party = rule_party(destination)
    rules = dict(policy.rules)
    for entity in sorted(set(entities)):
        if entity not in KNOWN_ENTITIES:
            raise UserPolicyError(f"entity type '{entity}' cannot be named in a policy file")
        rule = UserRule(site, entity, party, Action.ALLOW, outrank=outrank)
        rules[rule.key] = rule
    return UserPolicy(policy.trust, rules)


# --- YAML ----------------------------------------------------------------------------------


def rule_ids(policy: UserPolicy) -> dict[RuleKey, str]:
    """Stable, unique, readable rule ids (``user:<site>:<entity>:<party>``) in file order."""
    ids: dict[RuleKey, str] = {}
    used: set[str] = set()
    for key in sorted(policy.rules):
        site, entity, party = key
        parts = [
            "user",
            "all" if site == "*" else site.replace("*", "all"),
            "any" if entity == ANY_ENTITY else entity,
            party.replace("*", "all"),
        ]
        rule_id = ":".join(parts)
        digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()
        if len(rule_id) > _MAX_ID or not set(rule_id) <= _ID_CHARS_OK:
            rule_id = f"user:{digest[:16]}"
        if rule_id in used:
            rule_id = f"{rule_id[: _MAX_ID - 9]}:{digest[:8]}"
        used.add(rule_id)
        ids[key] = rule_id
    return ids


def render(policy: UserPolicy, name: str = USER_POLICY_FILE) -> str:
    """The YAML text of ``policy`` (deterministic: sites and rules sorted)."""
    doc: dict[str, Any] = {"version": FORMAT_VERSION}
    if policy.trust:
        doc["sites"] = {site: {"trust": list(policy.trust[site])} for site in sorted(policy.trust)}
    ids = rule_ids(policy)
    rules: list[dict[str, Any]] = []
    for key in sorted(policy.rules):
        rule = policy.rules[key]
        item: dict[str, Any] = {
            "id": ids[key],
            "site": rule.site,
            "destination": rule.party,
            "entities": ANY_ENTITY if rule.entity == ANY_ENTITY else [rule.entity],
            "action": str(rule.action),
        }
        if rule.action is Action.ASK:
            if rule.fallback is not None:
                item["fallback"] = str(rule.fallback)
            if rule.timeout is not None:
                item["timeout"] = rule.timeout
        if rule.outrank:
            item["method"] = list(OUTRANK_METHODS)
            item["path"] = OUTRANK_PATH
        rules.append(item)
    doc["rules"] = rules
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, default_flow_style=False)
    return _HEADER.format(name=name) + body


def from_policy_file(policy_file: PolicyFile) -> UserPolicy:
    """Read a validated policy file back into a :class:`UserPolicy`.

    Raises :class:`UserPolicyError` naming the file and line of the first thing the user file's
    shape cannot hold; writing the file again would otherwise lose it.
    """
    path = policy_file.path
    for setting in (
        policy_file.combine,
        policy_file.mode,
        policy_file.failure_mode,
        policy_file.default_action,
    ):
        if setting is not None:
            raise UserPolicyError(
                f"{path}:{setting.ref.line}: '{setting.ref.id}' cannot be kept in the user policy "
                "file; set it in a policy file of your own"
            )
    trust: dict[str, set[str]] = {}
    for entry in policy_file.trust:
        site = canonical_pattern(entry.site)
        trust.setdefault(site, set()).update(canonical_pattern(d) for d in entry.destinations)
    rules: dict[RuleKey, UserRule] = {}
    for rule in policy_file.rules:
        outrank = (
            rule.methods == frozenset(OUTRANK_METHODS)
            and rule.path_key == "path"
            and rule.path_text == OUTRANK_PATH
        )
        unsupported = [
            name
            for name, present in (
                ("description", rule.description is not None),
                ("min_score", rule.min_score != 0.0),
                ("method", rule.methods is not None and not outrank),
                (rule.path_key or "path", rule.path is not None and not outrank),
                ("message", rule.message is not None),
                ("failure_mode", rule.failure_mode is not None),
            )
            if present
        ]
        if unsupported:
            raise UserPolicyError(
                f"{path}:{rule.ref.line}: rule '{rule.ref.id}' uses {', '.join(unsupported)}, "
                "which the user policy file cannot keep; move the rule to a policy file of "
                "your own"
            )
        entities = sorted(rule.entities) if rule.entities is not None else [ANY_ENTITY]
        fallback = rule.fallback if rule.fallback is not DEFAULT_ASK_FALLBACK else None
        timeout = rule.timeout if rule.timeout != DEFAULT_ASK_TIMEOUT else None
        for site_pattern in rule.sites:
            for dest in rule.destinations:
                if dest.kind is domains.PatternKind.ANY:
                    raise UserPolicyError(
                        f"{path}:{rule.ref.line}: rule '{rule.ref.id}' has destination "
                        f"'{dest.text}', which the user policy file cannot keep; name "
                        "first-party, third-party or a domain"
                    )
                for entity in entities:
                    new = UserRule(
                        canonical_pattern(site_pattern),
                        entity,
                        canonical_pattern(dest),
                        rule.action,
                        fallback if rule.action is Action.ASK else None,
                        timeout if rule.action is Action.ASK else None,
                        outrank,
                    )
                    old = rules.get(new.key)
                    # Equal keys have equal specificity in one file: the engine lets the most
                    # severe action win, so keeping that one preserves the file's meaning.
                    if old is None or new.action.severity > old.action.severity:
                        rules[new.key] = new
    return UserPolicy({s: tuple(sorted(d)) for s, d in trust.items()}, rules)


# --- the file --------------------------------------------------------------------------------


class UserPolicyFile:
    """``<data dir>/user-policy.yaml``: read, validate and atomically replace it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> UserPolicy:
        """The file's content; an empty policy when the file does not exist yet.

        Raises :class:`UserPolicyError` when it is unreadable, invalid or of another shape.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return UserPolicy()
        except OSError as exc:
            raise UserPolicyError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            policy_file, errors = parse_text(decode(data, self.path), self.path)
        except PolicyError as exc:
            raise UserPolicyError(str(exc)) from None
        if errors:
            raise UserPolicyError(str(errors[0]))
        assert policy_file is not None
        return from_policy_file(policy_file)

    def write(self, policy: UserPolicy) -> str:
        """Validate the rendered ``policy`` and atomically replace the file; return the text.

        Raises :class:`UserPolicyError` (file untouched) when the text does not validate, and
        ``OSError`` when the directory cannot be written.
        """
        text = render(policy, self.path.name)
        _, errors = parse_text(text, self.path)
        if errors:
            raise UserPolicyError(str(errors[0]))
        atomic_write(self.path, text.encode("utf-8"))
        return text

    def apply(self, site: str, change: Change) -> UserPolicy:
        """Read, change and write back; return the new policy (file untouched on error)."""
        policy = apply_change(self.read(), site, change)
        self.write(policy)
        return policy

    def update(self, policy: UserPolicy) -> UserPolicy:
        """Write ``policy`` (a value derived from :meth:`read`) and return it."""
        self.write(policy)
        return policy


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a reader sees the old or the new file whole.

    The temporary file is created next to the target (same file system, so ``os.replace`` is a
    rename) with mode ``0600`` and ``O_EXCL``, synced before the rename; the directory is synced
    after it so the rename survives a crash.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)  # os.replace: atomic on POSIX and Windows
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if os.name == "posix":
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
