"""Evaluating a stack of policy files: which rule decides what happens to one finding.

Files are layered in the order given (bundled default first, user files later). Every rule is
compiled once into *entries* (one per site pattern x destination pattern) and sorted by the
combining order of the stack (``combine:``, see :class:`~policies.model.Combine`). Deciding a
finding is then: look up the entries that match the (site, destination) pair (cached), and
return the first one whose entity types, score, method and path also match. Nothing is parsed or
compiled per finding.

Sites: ``site`` is the page's site; it is reduced to its registrable domain
(:func:`~policies.domains.registrable_domain`), so passing a full host is fine. ``site=None``
(unknown page: no Referer/Origin) matches only ``site: "*"`` rules, and the destination then
counts as third party unless a ``sites: {"*": {trust: [...]}}`` entry trusts it: with no page
to compare against, nothing can be first party by default, and a privacy tool assumes the worse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .domains import (
    FIRST_PARTY,
    DomainPattern,
    PatternKind,
    is_third_party,
    normalize_host,
    registrable_domain,
)
from .loader import PolicyFile, Rule, Setting, TrustEntry, load_file
from .model import (
    BUILTIN_FILE,
    Action,
    Combine,
    Decision,
    FailureMode,
    Mode,
    RuleRef,
)

# Used when no file of the stack sets them (documented in docs/policy-format.md).
BUILTIN_COMBINE = Combine.MOST_SPECIFIC
BUILTIN_MODE = Mode.ENFORCE
# A body we could not read may hold anything: block unless a policy says otherwise.
BUILTIN_FAILURE_MODE = FailureMode.CLOSED
# A finding no rule covers is shown to the user, not silently passed nor blocked.
BUILTIN_DEFAULT_ACTION = Action.WARN

_CACHE_LIMIT = 4096

# (site kind, site depth, destination kind, destination depth, entity rank, request rank)
Specificity = tuple[int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One (site pattern, destination pattern) expansion of a rule, ready to evaluate."""

    rule: Rule
    site: DomainPattern
    destination: DomainPattern
    layer: int  # index of the file in the stack: later files are higher
    order: int  # index of the rule in its file
    specificity: Specificity
    failure_mode: FailureMode  # the rule's, else its file's, else the built-in default
    decision: Decision  # prebuilt; copied only when the message has placeholders


@dataclass(frozen=True, slots=True)
class Context:
    """What is known about a (site, destination) pair before looking at findings."""

    site: str | None  # registrable domain, or None when unknown
    destination: str  # normalised host
    first_party: bool
    trusted_by: RuleRef | None  # the `sites:` entry that made a third party first party
    candidates: tuple[Entry, ...]  # entries matching site and destination, in combining order
    # Decisions whose message has placeholders, formatted once per (rule, entity type) here.
    formatted: dict[tuple[RuleRef, str], Decision] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )


def specificity_of(rule: Rule, site: DomainPattern, destination: DomainPattern) -> Specificity:
    """Rank of a rule expansion: site first, then destination, entities, method/path."""
    return (
        int(site.kind),
        site.depth,
        int(destination.kind),
        destination.depth,
        0 if rule.entities is None else 1,
        (rule.methods is not None) + (rule.path is not None),
    )


def strip_query(path: str) -> str:
    """The path without ``?query`` or ``#fragment`` (rules match paths only)."""
    for sep in ("?", "#"):
        cut = path.find(sep)
        if cut >= 0:
            path = path[:cut]
    return path or "/"


class Policy:
    """A layered stack of policy files, compiled for fast evaluation. Immutable once built."""

    def __init__(self, files: Sequence[PolicyFile]) -> None:
        self.files: tuple[PolicyFile, ...] = tuple(files)
        self.combine: Setting[Combine] = _last(
            (f.combine for f in self.files), Setting(BUILTIN_COMBINE, _builtin("combine"))
        )
        self.mode: Setting[Mode] = _last(
            (f.mode for f in self.files), Setting(BUILTIN_MODE, _builtin("mode"))
        )
        self.failure_mode: Setting[FailureMode] = _last(
            (f.failure_mode for f in self.files),
            Setting(BUILTIN_FAILURE_MODE, _builtin("failure_mode")),
        )
        self.default_action: Setting[Action] = _last(
            (f.default_action for f in self.files),
            Setting(BUILTIN_DEFAULT_ACTION, _builtin("default_action")),
        )
        self.simulate = self.mode.value is Mode.SIMULATE
        self.trust: tuple[TrustEntry, ...] = tuple(t for f in self.files for t in f.trust)
        self.default_decision = Decision(
            action=self.default_action.value,
            rule=self.default_action.ref,
            message=None,
            failure_mode=self.failure_mode.value,
            simulate=self.simulate,
        )
        entries = [
            self._entry(
                rule, site=site, dest=dest, layer=layer, order=order, policy_file=policy_file
            )
            for layer, policy_file in enumerate(self.files)
            for order, rule in enumerate(policy_file.rules)
            for site in rule.sites
            for dest in rule.destinations
        ]
        entries.sort(key=self._sort_key, reverse=True)
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._cache: dict[tuple[str | None, str, bool | None], Context] = {}

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> Policy:
        """Load and layer ``paths`` in order; raise the first :class:`PolicyError`."""
        return cls([load_file(path) for path in paths])

    # -- building -------------------------------------------------------------------------

    def _entry(
        self,
        rule: Rule,
        *,
        site: DomainPattern,
        dest: DomainPattern,
        layer: int,
        order: int,
        policy_file: PolicyFile,
    ) -> Entry:
        failure_mode = rule.failure_mode
        if failure_mode is None:
            failure_mode = (
                policy_file.failure_mode.value
                if policy_file.failure_mode is not None
                else BUILTIN_FAILURE_MODE
            )
        decision = Decision(
            action=rule.action,
            rule=rule.ref,
            message=rule.message,
            failure_mode=failure_mode,
            fallback=rule.fallback,
            timeout=rule.timeout,
            simulate=self.simulate,
        )
        return Entry(
            rule=rule,
            site=site,
            destination=dest,
            layer=layer,
            order=order,
            specificity=specificity_of(rule, site, dest),
            failure_mode=failure_mode,
            decision=decision,
        )

    def _sort_key(self, entry: Entry) -> tuple[object, ...]:
        """Combining order, best first after ``reverse=True`` (see :class:`Combine`)."""
        severity = entry.rule.action.severity
        if self.combine.value is Combine.MOST_SEVERE:
            return (severity, entry.specificity, entry.layer, -entry.order)
        return (entry.specificity, entry.layer, severity, -entry.order)

    def _incomplete_key(self, entry: Entry) -> tuple[object, ...]:
        """Like :meth:`_sort_key` for failure modes: entities and scores are unknown, so the
        entity rank is left out and `closed` plays the part of the more severe action."""
        site_kind, site_depth, dest_kind, dest_depth, _, request = entry.specificity
        spec = (site_kind, site_depth, dest_kind, dest_depth, request)
        closed = entry.failure_mode is FailureMode.CLOSED
        if self.combine.value is Combine.MOST_SEVERE:
            return (closed, spec, entry.layer, -entry.order)
        return (spec, entry.layer, closed, -entry.order)

    # -- evaluation -----------------------------------------------------------------------

    def context(
        self, site: str | None, destination: str, third_party: bool | None = None
    ) -> Context:
        """The (cached) :class:`Context` of a site/destination pair.

        ``third_party`` is the caller's verdict (registrable domains differ); ``None`` computes it
        with :func:`~policies.domains.is_third_party`. With ``site=None`` it is ignored.
        """
        key = (site, destination, third_party)
        ctx = self._cache.get(key)
        if ctx is not None:
            return ctx
        ctx = self._build_context(site, destination, third_party)
        if len(self._cache) >= _CACHE_LIMIT:
            # Crude but bounded: a proxy sees a modest set of pairs; start over when full.
            self._cache.clear()
        self._cache[key] = ctx
        return ctx

    def _build_context(
        self, site: str | None, destination: str, third_party: bool | None
    ) -> Context:
        site_n = registrable_domain(site) if site is not None else None
        dest_n = normalize_host(destination)
        if site_n is None:
            first_party = False
        elif third_party is None:
            first_party = not is_third_party(site_n, dest_n)
        else:
            first_party = not third_party
        trusted_by = None
        if not first_party:
            for entry in reversed(self.trust):  # report the latest file's entry
                if _site_matches(entry.site, site_n) and any(
                    d.matches_host(dest_n) for d in entry.destinations
                ):
                    first_party, trusted_by = True, entry.ref
                    break
        candidates = tuple(
            e
            for e in self.entries
            if _site_matches(e.site, site_n) and _dest_matches(e.destination, dest_n, first_party)
        )
        return Context(site_n, dest_n, first_party, trusted_by, candidates)

    def decide(
        self,
        site: str | None,
        destination: str,
        entity_type: str,
        score: float,
        *,
        method: str = "GET",
        path: str = "/",
        third_party: bool | None = None,
    ) -> Decision:
        """The verdict for one finding of ``entity_type`` with ``score`` (0..1).

        ``destination`` is the host the request goes to; ``method``/``path`` are the request's
        (the query string is ignored). Never raises for any string input; an entity type unknown
        to :mod:`policies.entities` only matches ``entities: "*"`` rules.
        """
        ctx = self.context(site, destination, third_party)
        upper_method: str | None = None
        bare_path: str | None = None
        for entry in ctx.candidates:
            rule = entry.rule
            if rule.entities is not None and entity_type not in rule.entities:
                continue
            # `not >=` rather than `<`: a NaN score counts as high (the cautious reading).
            if score < rule.min_score:
                continue
            if rule.methods is not None:
                if upper_method is None:
                    upper_method = method.upper()
                if upper_method not in rule.methods:
                    continue
            if rule.path is not None:
                if bare_path is None:
                    bare_path = strip_query(path)
                if rule.path.fullmatch(bare_path) is None:
                    continue
            if rule.message_has_fields:
                return self._formatted(entry.decision, ctx, entity_type)
            return entry.decision
        return self.default_decision

    def decide_incomplete(
        self,
        site: str | None,
        destination: str,
        *,
        method: str = "GET",
        path: str = "/",
        third_party: bool | None = None,
        reason: str | None = None,
    ) -> Decision:
        """The verdict for a request whose body could not be fully scanned.

        Considers every rule matching site, destination, method and path (entity types and
        scores are unknown), picks one by the stack's combining order with `closed` as the more
        severe, and applies its failure mode: ``closed`` gives ``block``, ``open`` gives
        ``warn`` (pass and tell). Without any matching rule the stack's ``failure_mode`` decides.
        ``reason`` (a ScanIssue kind such as ``too_large``) goes into the message.
        """
        ctx = self.context(site, destination, third_party)
        upper_method = method.upper()
        bare_path = strip_query(path)
        best: Entry | None = None
        best_key: tuple[object, ...] | None = None
        for entry in ctx.candidates:
            rule = entry.rule
            if rule.methods is not None and upper_method not in rule.methods:
                continue
            if rule.path is not None and rule.path.fullmatch(bare_path) is None:
                continue
            key = self._incomplete_key(entry)
            if best_key is None or key > best_key:
                best, best_key = entry, key
        if best is not None:
            mode, ref = best.failure_mode, best.rule.ref
        else:
            mode, ref = self.failure_mode.value, self.failure_mode.ref
        closed = mode is FailureMode.CLOSED
        what = "could not be fully scanned" + (f" ({reason})" if reason else "")
        message = (
            f"request blocked: its body {what} and the policy fails closed"
            if closed
            else f"request passed unchecked: its body {what} and the policy fails open"
        )
        return Decision(
            action=Action.BLOCK if closed else Action.WARN,
            rule=ref,
            message=message,
            failure_mode=mode,
            simulate=self.simulate,
        )

    def _formatted(self, decision: Decision, ctx: Context, entity_type: str) -> Decision:
        key = (decision.rule, entity_type)
        cached = ctx.formatted.get(key)
        if cached is not None:
            return cached
        assert decision.message is not None
        message = decision.message.format(
            entity=entity_type,
            site=ctx.site or "an unknown site",
            destination=ctx.destination,
            action=decision.action.value,
        )
        result = dataclasses.replace(decision, message=message)
        if len(ctx.formatted) < 64:  # entity types are few; bound it against odd callers
            ctx.formatted[key] = result
        return result

    # -- introspection --------------------------------------------------------------------

    def refs(self) -> set[RuleRef]:
        """Every rule and setting reference a decision of this policy can carry."""
        refs = {e.rule.ref for e in self.entries}
        refs |= {self.combine.ref, self.mode.ref, self.failure_mode.ref, self.default_action.ref}
        return refs

    def rules(self) -> list[Rule]:
        """All rules of the stack, file by file, in file order."""
        return [rule for f in self.files for rule in f.rules]


def _site_matches(pattern: DomainPattern, site: str | None) -> bool:
    if pattern.kind is PatternKind.ANY:
        return True
    return site is not None and pattern.matches_host(site)


def _dest_matches(pattern: DomainPattern, destination: str, first_party: bool) -> bool:
    if pattern.kind is PatternKind.PARTY:
        return first_party is (pattern.name == FIRST_PARTY)
    return pattern.matches_host(destination)


def _builtin(key: str) -> RuleRef:
    return RuleRef(BUILTIN_FILE, 0, key)


def _last[T](values: Iterable[Setting[T] | None], default: Setting[T]) -> Setting[T]:
    """The setting of the last file that sets it (later files override earlier ones)."""
    result = default
    for value in values:
        if value is not None:
            result = value
    return result


def why_not(
    entry: Entry,
    ctx: Context,
    entity_type: str,
    score: float,
    *,
    method: str = "GET",
    path: str = "/",
) -> str | None:
    """Why ``entry`` does not match (a sentence without personal data), or ``None`` if it does.

    The slow, explaining twin of :meth:`Policy.decide`'s loop (tests check they agree).
    """
    if not _site_matches(entry.site, ctx.site):
        shown = ctx.site if ctx.site is not None else "unknown"
        return f"site '{entry.site.text}' does not match site {shown}"
    if not _dest_matches(entry.destination, ctx.destination, ctx.first_party):
        if entry.destination.kind is PatternKind.PARTY:
            party = "first party" if ctx.first_party else "third party"
            return f"destination '{entry.destination.text}': {ctx.destination} is {party}"
        return f"destination '{entry.destination.text}' does not match {ctx.destination}"
    rule = entry.rule
    if rule.entities is not None and entity_type not in rule.entities:
        return f"entity {entity_type} is not in [{', '.join(sorted(rule.entities))}]"
    if score < rule.min_score:
        return f"score {score:.2f} is below min_score {rule.min_score:g}"
    if rule.methods is not None and method.upper() not in rule.methods:
        return f"method {method.upper()} is not in [{', '.join(sorted(rule.methods))}]"
    if rule.path is not None and rule.path.fullmatch(strip_query(path)) is None:
        return f"{rule.path_key} '{rule.path_text}' does not match {strip_query(path)}"
    return None
