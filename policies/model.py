"""Values that policy evaluation hands out: actions, verdicts and the rule behind each verdict.

Nothing here knows about YAML or HTTP. A :class:`Decision` is what the proxy acts on; it always
names the rule (file, line, id) that produced it, so that every block, redaction or warning can be
traced back to one line of one policy file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Action(StrEnum):
    """What to do with one finding. Listed from least to most severe."""

    ALLOW = "allow"  # pass silently
    WARN = "warn"  # pass, tell the user
    REDACT = "redact"  # replace the value by its mask, pass the request
    ASK = "ask"  # ask the user; on timeout apply the rule's fallback
    BLOCK = "block"  # refuse the whole request

    @property
    def severity(self) -> int:
        """Rank used when rules or decisions combine: block > ask > redact > warn > allow."""
        return _SEVERITY[self]


_SEVERITY: dict[Action, int] = {
    Action.ALLOW: 0,
    Action.WARN: 1,
    Action.REDACT: 2,
    Action.ASK: 3,
    Action.BLOCK: 4,
}

# For messages: "one of allow, warn, redact, block, ask" (the order the docs use).
ACTION_NAMES = ("allow", "warn", "redact", "block", "ask")


class FailureMode(StrEnum):
    """What happens when a request body cannot be fully scanned (too large, undecodable, error)."""

    OPEN = "open"  # pass the request and warn
    CLOSED = "closed"  # block the request


class Mode(StrEnum):
    """Whether decisions are applied (``enforce``) or only recorded (``simulate``)."""

    ENFORCE = "enforce"
    SIMULATE = "simulate"


class Combine(StrEnum):
    """How the rules that match one finding combine into one verdict (see docs/policy-format.md).

    ``most-specific-then-most-severe``: keep the most specific matching rules; among them the rule
    from the latest file wins; within that file the most severe action wins; then the first rule.
    ``most-severe``: the most severe action among all matching rules wins (deny overrides);
    ties go to the most specific rule, then the latest file, then the first rule.
    """

    MOST_SPECIFIC = "most-specific-then-most-severe"
    MOST_SEVERE = "most-severe"


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Where a verdict came from: a rule, or a file-level setting such as ``default_action``.

    ``file`` is the path the policy was loaded from (``"<builtin>"`` for the built-in defaults
    used when no file sets them), ``line`` is 1-based (0 for built-ins), ``id`` is the rule's id or
    the setting's key.
    """

    file: str
    line: int
    id: str
    # The rendering, made once: verdicts name their rule on every request of the proxy.
    label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{Path(self.file).name}:{self.line} ({self.id})")

    def __str__(self) -> str:
        return self.label


BUILTIN_FILE = "<builtin>"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one finding (or for a request that could not be fully scanned).

    ``failure_mode`` is the deciding rule's failure mode (what to do if the same request turns out
    not to be fully scannable). ``fallback`` and ``timeout`` are set only when ``action`` is
    ``ask``: the action applied if the user does not answer within ``timeout`` seconds.
    ``simulate`` is True when the policy runs in ``mode: simulate``: record the decision, apply
    nothing.
    """

    action: Action
    rule: RuleRef
    message: str | None = None
    failure_mode: FailureMode = FailureMode.CLOSED
    fallback: Action | None = None
    timeout: float | None = None
    simulate: bool = False

    def __str__(self) -> str:
        text = f"{self.action} by {self.rule}"
        if self.fallback is not None:
            text += f" (fallback {self.fallback} after {self.timeout:g}s)"
        if self.simulate:
            text += " [simulate]"
        return text


def combine_decisions(decisions: Iterable[Decision]) -> Decision:
    """Combine the decisions for the findings of one request: the most severe wins.

    Ties keep the first decision (callers pass findings in request order, so the verdict names the
    first offending field). Raises ``ValueError`` for an empty input: a request without findings
    has no verdict to combine.
    """
    best: Decision | None = None
    for decision in decisions:
        if best is None or decision.action.severity > best.action.severity:
            best = decision
    if best is None:
        raise ValueError("combine_decisions() needs at least one decision")
    return best


class PolicyError(Exception):
    """A policy file that cannot be used: where (file, 1-based line or None) and why.

    ``str()`` reads like a compiler message: ``policy.yaml:12: unknown action 'blok' (...)``.
    Reasons never quote personal data (policy files hold domains and entity types only).
    """

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.reason}"
        return f"{self.path}:{self.line}: {self.reason}"

    def __eq__(self, other: object) -> bool:
        # Value semantics: the same problem found by two loads is the same error.
        if not isinstance(other, PolicyError):
            return NotImplemented
        return (self.path, self.line, self.reason) == (other.path, other.line, other.reason)

    def __hash__(self) -> int:
        return hash((self.path, self.line, self.reason))

    def __reduce__(self) -> tuple[type[PolicyError], tuple[str, int | None, str]]:
        # Keep the three fields when pickled (e.g. across pytest-xdist workers).
        return (PolicyError, (self.path, self.line, self.reason))
