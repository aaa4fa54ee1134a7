"""``GET /v1/sites/<site>/policy``: the effective decisions of the live policy for one site.

For every entity type the policy format knows, the view asks the running policy stack (all
files, the user file included) what it decides for a confident finding (score 1.0) sent in a
``POST`` to ``/`` of

* the site itself (``first_party``), and
* a destination no rule names (``third_party``; probed as ``third-party.invalid``, a reserved
  name, so only ``third-party`` / ``any`` rules and defaults apply).

With ``destination`` given, a third column shows the decisions for that host. Rules with a
``min_score`` above a finding's score, or naming methods and paths, can decide differently for
a real request; the ``rule`` of each cell says which rule decided, and every verdict names its
own rule anyway.
"""

from __future__ import annotations

from typing import Any

from addon.parties import is_third_party, registrable_domain
from policies.domains import PatternKind
from policies.engine import Policy
from policies.entities import KNOWN_ENTITIES
from policies.model import Decision
from policies.user_policy import UserPolicy, canonical_pattern, rule_ids

# RFC 2606 reserves .invalid: no real destination has this name, so no domain rule matches it.
THIRD_PARTY_PROBE = "third-party.invalid"


def decision_view(decision: Decision) -> dict[str, Any]:
    """``{"action", "rule"}`` (+ fallback and timeout for ``ask``)."""
    out: dict[str, Any] = {"action": str(decision.action), "rule": str(decision.rule)}
    if decision.fallback is not None:
        out["fallback"] = str(decision.fallback)
        out["timeout"] = decision.timeout
    return out


def trusted_destinations(policy: Policy, site: str) -> list[str]:
    """Destinations any file of the stack trusts on ``site`` (first party there), in order."""
    found: list[str] = []
    for entry in policy.trust:
        if entry.site.kind is PatternKind.ANY or entry.site.matches_host(site):
            for dest in entry.destinations:
                text = canonical_pattern(dest)
                if text not in found:
                    found.append(text)
    return found


def site_policy_view(
    policy: Policy, site: str, user: UserPolicy, destination: str | None = None
) -> dict[str, Any]:
    """The JSON answer of ``GET /v1/sites/<site>/policy`` (see the module docstring)."""
    entities: dict[str, dict[str, Any]] = {}
    dest_third = (
        is_third_party(site, registrable_domain(destination)) if destination is not None else False
    )
    for entity in sorted(KNOWN_ENTITIES):
        first = policy.decide(site, site, entity, 1.0, method="POST", third_party=False)
        third = policy.decide(site, THIRD_PARTY_PROBE, entity, 1.0, method="POST", third_party=True)
        cell = {"first_party": decision_view(first), "third_party": decision_view(third)}
        if destination is not None:
            cell["destination"] = decision_view(
                policy.decide(site, destination, entity, 1.0, method="POST", third_party=dest_third)
            )
        entities[entity] = cell
    ids = rule_ids(user)
    view: dict[str, Any] = {
        "site": site,
        "trusted": trusted_destinations(policy, site),
        "user_trusted": list(user.trusted(site)),
        "entities": entities,
        "user_rules": [{"id": ids[r.key], **r.as_dict()} for r in user.site_rules(site)],
    }
    if destination is not None:
        view["destination"] = destination
    return view
