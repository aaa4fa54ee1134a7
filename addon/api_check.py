"""``POST /v1/check``: what formshield would do with a form's values before the page sends them.

Request body (JSON)::

    {"page": "https://shop.test/checkout",            # the page the form is on (http/https)
     "action": "https://tracker.example/c",           # where it would go; default: the page;
                                                      # relative URLs are resolved against page
     "fields": [{"name": "idNo", "label": "身份证号", "value": "...",
                 "id": "...", "placeholder": "...", "autocomplete": "..."}]}   # last 3 optional

Each field is scanned as a form field called ``name``, with ``label``, ``id``, ``placeholder``
and ``autocomplete`` as context words (a field labelled 身份证号 makes an 18-character value an
ID), by the proxy's own :class:`~detectors.engine.Scanner`; each finding is then decided by the
live policy as a ``POST`` from the page's site to the action's host, and the decisions combine
as in the proxy (most severe wins).

The values are only held in memory for the scan: they are not stored, not logged, and the
answer shows masks. Limits (a page cannot make the proxy scan without bound): at most
:data:`MAX_FIELDS` fields, :data:`MAX_VALUE_CHARS` characters per value and
:data:`MAX_TOTAL_CHARS` in all; more is a 400, not a partial answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from addon.parties import is_third_party, registrable_domain
from detectors.engine import Scanner
from detectors.model import Field, Finding
from policies.engine import Policy
from policies.model import Decision, combine_decisions

MAX_FIELDS = 500
MAX_VALUE_CHARS = 100_000
MAX_TOTAL_CHARS = 1_000_000
MAX_TEXT_CHARS = 500  # names, labels and the other context strings
FIELD_KEYS = frozenset({"name", "label", "value", "id", "placeholder", "autocomplete"})
_CONTEXT_KEYS = ("label", "id", "placeholder", "autocomplete")


class CheckError(ValueError):
    """A request body /v1/check cannot use; the message never quotes a value."""


@dataclass(frozen=True, slots=True)
class CheckField:
    """One form field to check."""

    index: int
    name: str
    labels: tuple[str, ...]
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A validated /v1/check body."""

    page_host: str
    action_host: str
    action_path: str
    fields: tuple[CheckField, ...]


def _http_url(text: object, key: str) -> tuple[str, str]:
    """(host, path) of an absolute http(s) URL; CheckError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise CheckError(f"'{key}' must be a non-empty URL string")
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname
    except ValueError:
        raise CheckError(f"'{key}' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise CheckError(f"'{key}' must be an absolute http or https URL")
    return host, parts.path or "/"


def _optional_text(item: dict[str, Any], key: str, index: int) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CheckError(f"fields[{index}].{key} must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise CheckError(f"fields[{index}].{key} is longer than {MAX_TEXT_CHARS} characters")
    return value


def parse_check(body: object) -> CheckRequest:
    """Validate a /v1/check body (see the module docstring); raise :class:`CheckError`."""
    if not isinstance(body, dict):
        raise CheckError("the body must be a JSON object")
    unknown = set(body) - {"page", "action", "fields"}
    if unknown:
        raise CheckError(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if "page" not in body:
        raise CheckError("'page' is required")
    page_host, page_path = _http_url(body["page"], "page")
    action = body.get("action")
    if action is None:
        action_host, action_path = page_host, page_path
    else:
        if not isinstance(action, str):
            raise CheckError("'action' must be a URL string")
        action_host, action_path = _http_url(urljoin(str(body["page"]).strip(), action), "action")
    items = body.get("fields")
    if not isinstance(items, list):
        raise CheckError("'fields' must be a list")
    if len(items) > MAX_FIELDS:
        raise CheckError(f"at most {MAX_FIELDS} fields per check")
    fields: list[CheckField] = []
    total = 0
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise CheckError(f"fields[{index}] must be an object")
        extra = set(item) - FIELD_KEYS
        if extra:
            raise CheckError(
                f"fields[{index}] has unknown keys: {', '.join(sorted(map(str, extra)))} "
                f"(expected {', '.join(sorted(FIELD_KEYS))})"
            )
        value = item.get("value")
        if not isinstance(value, str):
            raise CheckError(f"fields[{index}].value must be a string")
        if len(value) > MAX_VALUE_CHARS:
            raise CheckError(f"fields[{index}].value is longer than {MAX_VALUE_CHARS} characters")
        total += len(value)
        if total > MAX_TOTAL_CHARS:
            raise CheckError(f"the values add up to more than {MAX_TOTAL_CHARS} characters")
        name = _optional_text(item, "name", index)
        labels = tuple(text for key in _CONTEXT_KEYS if (text := _optional_text(item, key, index)))
        fields.append(CheckField(index, name, labels, value))
    return CheckRequest(page_host, action_host, action_path, tuple(fields))


def scan_check(scanner: Scanner, request: CheckRequest) -> list[tuple[CheckField, Finding]]:
    """Scan every field (CPU work: the API runs this in a worker thread)."""
    found: list[tuple[CheckField, Finding]] = []
    for item in request.fields:
        if not item.value:
            continue
        name = item.name or None
        location = f"form.{item.name}" if item.name else f"form[{item.index}]"
        scanned = Field(
            location=location,
            value=item.value,
            source="form",
            path=(item.name,) if item.name else (),
            name=name,
            labels=item.labels,
        )
        found.extend((item, finding) for finding in scanner.scan_fields([scanned]))
    return found


def judge_check(
    policy: Policy, request: CheckRequest, found: list[tuple[CheckField, Finding]]
) -> dict[str, Any]:
    """Decide every finding as a POST from the page's site to the action's host."""
    site = registrable_domain(request.page_host) or None
    destination = registrable_domain(request.action_host)
    third_party = is_third_party(site, destination)
    decisions: list[Decision] = [
        policy.decide(
            site,
            request.action_host,
            finding.entity_type,
            finding.score,
            method="POST",
            path=request.action_path,
            third_party=third_party,
        )
        for _, finding in found
    ]
    if decisions:
        final = combine_decisions(decisions)
        verdict: dict[str, Any] = {
            "action": str(final.action),
            "rule": str(final.rule),
            "message": final.message,
        }
        if final.fallback is not None:
            verdict["fallback"] = str(final.fallback)
            verdict["timeout"] = final.timeout
    else:
        verdict = {"action": "allow", "rule": "", "message": None}
    return {
        "findings": [
            {
                "field": item.name,
                "index": item.index,
                "entity_type": finding.entity_type,
                "masked": finding.masked,
                "score": round(finding.score, 3),
                "action": str(decision.action),
                "rule": str(decision.rule),
            }
            for (item, finding), decision in zip(found, decisions, strict=True)
        ],
        "verdict": verdict,
        "site": site,
        "destination": destination,
        "third_party": third_party,
    }
