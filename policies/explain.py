"""What ``formshield policy check`` and ``formshield policy explain`` compute and print.

Plain functions returning data (:func:`check_files`, :func:`explain`) plus text renderings
(:func:`render_check`, :func:`render_explanation`); the CLI in ``addon/cli.py`` only parses
arguments, calls these, prints, and exits non-zero when ``CheckReport.ok`` is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .engine import Entry, Policy, why_not
from .entities import KNOWN_ENTITIES
from .loader import BUNDLED_DEFAULT, EXAMPLES_DIR, PolicyFile, Setting, validate_file
from .model import Action, Combine, Decision, PolicyError, RuleRef

# -- check ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The result of validating one file: its errors, or a summary of what it holds."""

    path: str
    errors: tuple[PolicyError, ...]
    rules: int = 0
    trusted_sites: int = 0
    settings: tuple[str, ...] = ()  # e.g. ("combine=most-severe", "mode=simulate")

    @property
    def ok(self) -> bool:
        """True when the file loaded without error."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Validation of several files, and the settings of their stack when all are valid."""

    files: tuple[FileCheck, ...]
    stack: tuple[str, ...] = ()  # effective settings, "combine: ... (default.yaml:29)"

    @property
    def ok(self) -> bool:
        """True when every file is valid."""
        return all(f.ok for f in self.files)

    @property
    def errors(self) -> list[PolicyError]:
        """Every error of every file, in file order."""
        return [e for f in self.files for e in f.errors]


def check_files(paths: Sequence[str | Path]) -> CheckReport:
    """Validate each of ``paths`` (every error of each, not just the first) and their stack."""
    checks: list[FileCheck] = []
    loaded: list[PolicyFile] = []
    for path in paths:
        policy_file, errors = validate_file(path)
        if policy_file is None:
            checks.append(FileCheck(str(path), tuple(errors)))
            continue
        loaded.append(policy_file)
        settings = tuple(
            f"{name}={setting.value}"
            for name, setting in (
                ("combine", policy_file.combine),
                ("mode", policy_file.mode),
                ("failure_mode", policy_file.failure_mode),
                ("default_action", policy_file.default_action),
            )
            if setting is not None
        )
        checks.append(
            FileCheck(
                str(path),
                (),
                rules=len(policy_file.rules),
                trusted_sites=len(policy_file.trust),
                settings=settings,
            )
        )
    stack: tuple[str, ...] = ()
    if len(loaded) == len(checks):
        policy = Policy(loaded)
        stack = tuple(
            _setting_line(name, setting)
            for name, setting in (
                ("combine", policy.combine),
                ("mode", policy.mode),
                ("failure_mode", policy.failure_mode),
                ("default_action", policy.default_action),
            )
        )
    return CheckReport(tuple(checks), stack)


def _setting_line(name: str, setting: Setting[object]) -> str:
    return f"{name}: {setting.value} ({setting.ref.file}:{setting.ref.line})"


def render_check(report: CheckReport) -> str:
    """Compiler-style text: one ``file:line: reason`` per error, ``file: OK (...)`` otherwise."""
    lines: list[str] = []
    for check in report.files:
        if check.ok:
            extra = f", sets {', '.join(check.settings)}" if check.settings else ""
            counts = f"{check.rules} rules, {check.trusted_sites} trusted sites"
            lines.append(f"{check.path}: OK ({counts}{extra})")
        else:
            lines.extend(str(e) for e in check.errors)
    if report.stack:
        lines.append("in effect when layered in this order:")
        lines.extend(f"  {item}" for item in report.stack)
    errors = len(report.errors)
    lines.append(
        f"{len(report.files)} file(s) checked, "
        + ("no errors" if errors == 0 else f"{errors} error(s)")
    )
    return "\n".join(lines)


# -- explain ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's part in a verdict: whether it matched, and why it did not or why it lost."""

    rule: RuleRef
    action: Action
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The verdict for one (site, destination, entity, score, request) and the reasons for it."""

    site: str | None  # as given
    site_domain: str | None  # registrable domain used for matching
    destination: str  # normalised
    first_party: bool
    party_reason: str
    entity: str
    score: float
    method: str
    path: str
    combine: Setting[Combine]
    decision: Decision
    winner: RuleOutcome | None  # None when no rule matched (default_action decided)
    lost: tuple[RuleOutcome, ...]  # matched, but lost to the winner
    unmatched: tuple[RuleOutcome, ...]
    notes: tuple[str, ...] = field(default=())


def explain(
    site: str | None,
    destination: str,
    entity: str,
    *,
    score: float = 1.0,
    policy_files: Sequence[str | Path] | None = None,
    method: str = "GET",
    path: str = "/",
    third_party: bool | None = None,
) -> Explanation:
    """Load ``policy_files`` (default: the bundled default policy) and explain one decision.

    Raises :class:`PolicyError` when a file does not load (run :func:`check_files` for all
    errors).
    """
    paths = list(policy_files) if policy_files else [BUNDLED_DEFAULT]
    return explain_policy(
        Policy.load(paths),
        site,
        destination,
        entity,
        score=score,
        method=method,
        path=path,
        third_party=third_party,
    )


def explain_policy(
    policy: Policy,
    site: str | None,
    destination: str,
    entity: str,
    *,
    score: float = 1.0,
    method: str = "GET",
    path: str = "/",
    third_party: bool | None = None,
) -> Explanation:
    """Explain :meth:`Policy.decide` for these arguments against an already loaded policy."""
    decision = policy.decide(
        site, destination, entity, score, method=method, path=path, third_party=third_party
    )
    ctx = policy.context(site, destination, third_party)

    # Each rule's best expansion (policy.entries is in combining order, best first).
    best: dict[RuleRef, Entry] = {}
    failures: dict[RuleRef, str] = {}
    for entry in policy.entries:
        ref = entry.rule.ref
        if ref in best:
            continue
        reason = why_not(entry, ctx, entity, score, method=method, path=path)
        if reason is None:
            best[ref] = entry
            failures.pop(ref, None)
        else:
            failures.setdefault(ref, reason)

    winner_entry = best.get(decision.rule)
    winner = None
    if winner_entry is not None:
        winner = RuleOutcome(decision.rule, decision.action, True, "decides")
    lost: list[RuleOutcome] = []
    unmatched: list[RuleOutcome] = []
    for rule in policy.rules():
        ref = rule.ref
        if ref == decision.rule:
            continue
        if ref in best:
            reason = (
                _why_lost(policy, best[ref], winner_entry)
                if winner_entry is not None
                else "matched"
            )
            lost.append(RuleOutcome(ref, rule.action, True, reason))
        else:
            unmatched.append(RuleOutcome(ref, rule.action, False, failures[ref]))

    notes: list[str] = []
    if entity not in KNOWN_ENTITIES:
        notes.append(f'entity type {entity} is not known: only entities "*" rules can match it')
    if winner_entry is None:
        notes.append(f"no rule matched: default_action of {decision.rule} decides")
    if policy.simulate:
        notes.append("mode is simulate: this decision would be recorded, not applied")

    return Explanation(
        site=site,
        site_domain=ctx.site,
        destination=ctx.destination,
        first_party=ctx.first_party,
        party_reason=_party_reason(ctx.site, ctx.first_party, ctx.trusted_by, third_party),
        entity=entity,
        score=score,
        method=method.upper(),
        path=path,
        combine=policy.combine,
        decision=decision,
        winner=winner,
        lost=tuple(lost),
        unmatched=tuple(unmatched),
        notes=tuple(notes),
    )


def _party_reason(
    site: str | None, first_party: bool, trusted_by: RuleRef | None, third_party: bool | None
) -> str:
    if site is None:
        if trusted_by is not None:
            return f"unknown site, but trusted everywhere by {trusted_by}"
        return "unknown site: every destination counts as third party"
    if trusted_by is not None:
        return f"trusted on this site by {trusted_by}"
    if third_party is not None:
        return "as the caller said"
    return "same registrable domain" if first_party else "different registrable domain"


_DIMENSIONS = ("site", "site", "destination", "destination", "entities", "method/path")


def _describe(entry: Entry, dimension: int) -> str:
    rule = entry.rule
    if dimension in (0, 1):
        return f"site '{entry.site.text}'"
    if dimension in (2, 3):
        return f"destination '{entry.destination.text}'"
    if dimension == 4:
        return "entities '*'" if rule.entities is None else "a list of entities"
    parts = [p for p in ("method" if rule.methods else "", rule.path_key or "") if p]
    return " and ".join(parts) if parts else "no method or path"


def _why_lost(policy: Policy, entry: Entry, winner: Entry) -> str:
    """Why ``entry`` (which matched) lost to ``winner`` under the stack's combining rule."""
    more_specific = _specificity_reason(entry, winner)
    severity = entry.rule.action.severity, winner.rule.action.severity
    less_severe = f"{entry.rule.action} is less severe than {winner.rule.action}"
    if policy.combine.value is Combine.MOST_SEVERE and severity[0] != severity[1]:
        return less_severe
    if more_specific:
        return more_specific
    if entry.layer != winner.layer:
        return f"as specific, but {Path(entry.rule.ref.file).name} is layered below " + (
            Path(winner.rule.ref.file).name
        )
    if severity[0] != severity[1]:
        return f"as specific, same file, but {less_severe}"
    return f"as specific and as severe, but written after {winner.rule.ref.id}"


def _specificity_reason(entry: Entry, winner: Entry) -> str | None:
    for dimension, (mine, theirs) in enumerate(
        zip(entry.specificity, winner.specificity, strict=True)
    ):
        if mine != theirs:
            if dimension in (1, 3):  # same kind, fewer labels
                return (
                    f"less specific: {_describe(entry, dimension)} has fewer labels than "
                    f"{_describe(winner, dimension)}"
                )
            return (
                f"less specific: {_describe(entry, dimension)} vs "
                f"{_describe(winner, dimension)} of {winner.rule.ref.id}"
            )
    return None


def render_explanation(exp: Explanation) -> str:
    """Human text for an :class:`Explanation` (no personal data: domains and types only)."""
    d = exp.decision
    lines = [f"verdict: {d}"]
    if d.message:
        lines.append(f"  message: {d.message}")
    lines.append(f"  failure mode: {d.failure_mode}")
    site = exp.site_domain or "unknown"
    if exp.site is not None and exp.site_domain not in (None, exp.site):
        site += f" (from {exp.site})"
    party = "first party" if exp.first_party else "third party"
    lines.append(f"site: {site}")
    lines.append(f"destination: {exp.destination} ({party}: {exp.party_reason})")
    lines.append(f"finding: {exp.entity} score {exp.score:.2f}, request {exp.method} {exp.path}")
    lines.append(f"combine: {exp.combine.value} ({exp.combine.ref})")
    lines.extend(f"note: {note}" for note in exp.notes)
    if exp.lost:
        lines.append("matched but lost:")
        lines.extend(f"  {o.rule}  {o.action}: {o.reason}" for o in exp.lost)
    if exp.unmatched:
        lines.append("did not match:")
        lines.extend(f"  {o.rule}  {o.action}: {o.reason}" for o in exp.unmatched)
    return "\n".join(lines)


__all__ = [
    "BUNDLED_DEFAULT",
    "EXAMPLES_DIR",
    "CheckReport",
    "Explanation",
    "FileCheck",
    "RuleOutcome",
    "check_files",
    "explain",
    "explain_policy",
    "render_check",
    "render_explanation",
]
