"""What the extension API's endpoints do, apart from HTTP (notes/extension-api.md).

:class:`ApiBackend` works on the running proxy addon's parts (:class:`Shield`: its scanner,
policy store and audit store), the user policy file, the held requests and the event hub. The
tornado handlers in :mod:`addon.api_server` only parse HTTP and serialise what these methods
return; errors are :class:`ApiError` (HTTP status + a reason without personal data).

Policy changes go to the user policy file (validated, atomically replaced) and the proxy's
policy store reloads at once, so the very next request is judged by the new policy. If the
rest of the stack cannot reload (another policy file was broken by a hand edit), the change is
saved but not in force: that is a 409 saying why, not a silent success.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from addon.api_check import CheckError, judge_check, parse_check, scan_check
from addon.api_events import EventHub
from addon.api_site_policy import site_policy_view
from addon.audit import Answer, AuditStore, AuditStoreError
from addon.audit_queries import FindingRow
from addon.holds import ANSWERS, Held, HoldRegistry
from detectors.engine import Scanner
from policies.domains import registrable_domain
from policies.model import Action
from policies.store import PolicyStore
from policies.user_policy import (
    UserPolicyError,
    UserPolicyFile,
    allow_always,
    apply_change,
    parse_change,
    site_key,
)

logger = logging.getLogger(__name__)

MAX_PAGE = 500
DEFAULT_PAGE = 50


def formshield_version() -> str:
    """The installed formshield version, or ``0+unknown`` when run from a bare checkout."""
    try:
        return importlib.metadata.version("formshield")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


class Shield(Protocol):
    """The parts of the proxy addon (:class:`addon.proxy.FormShield`) the API uses."""

    scanner: Scanner | None
    policies: PolicyStore | None
    audit: AuditStore | None


class ApiError(Exception):
    """An endpoint's refusal: ``status`` (4xx/5xx) and ``reason`` (never personal data)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ApiBackend:
    """The endpoints' logic (see the module docstring)."""

    def __init__(
        self,
        shield: Shield,
        user_file: UserPolicyFile,
        holds: HoldRegistry,
        hub: EventHub,
        *,
        version: str | None = None,
    ) -> None:
        self.shield = shield
        self.user_file = user_file
        self.holds = holds
        self.hub = hub
        self.version = version or formshield_version()

    # --- helpers ---------------------------------------------------------------------------

    def _store(self) -> PolicyStore:
        store = self.shield.policies
        if store is None:
            raise ApiError(503, "the proxy has no policy loaded yet")
        return store

    def _reload(self) -> None:
        """Put a just-written user file in force; 409 when the stack cannot reload."""
        store = self._store()
        if self.user_file.path not in store.paths:
            raise ApiError(
                409,
                f"saved, but {self.user_file.path} is not part of the running policy stack",
            )
        result = store.reload()
        if result.error is not None:
            raise ApiError(409, f"saved, but the policy did not reload: {result.error}")

    @staticmethod
    def site_of(text: str) -> str:
        """The site named in a URL path: a host is reduced to its registrable domain."""
        host = text.strip().lower()
        site = registrable_domain(host) if host else ""
        if not site:
            raise ApiError(400, "missing site")
        try:
            return site_key(site)
        except UserPolicyError as exc:
            raise ApiError(400, str(exc)) from None

    # --- endpoints -------------------------------------------------------------------------

    def status(self, listeners: int) -> dict[str, Any]:
        """``GET /v1/status``."""
        store = self.shield.policies
        return {
            "version": self.version,
            "api": "formshield",
            "policy_files": [str(p) for p in store.paths] if store else [],
            "policy_error": str(store.last_error) if store and store.last_error else None,
            "user_policy_file": str(self.user_file.path),
            "held": len(self.holds),
            "listeners": listeners,
            "audit": self.shield.audit is not None,
        }

    async def findings(self, args: Mapping[str, str]) -> dict[str, Any]:
        """``GET /v1/findings``: newest findings from the audit store (masked values only)."""
        limit = _int_arg(args, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        offset = _int_arg(args, "offset", 0, 0, 10**9)
        site, destination, entity, action = (
            args.get(key) or None for key in ("site", "destination", "entity", "action")
        )
        audit = self.shield.audit
        if audit is None:
            return {"findings": [], "limit": limit, "offset": offset, "audit": False}

        def read() -> list[FindingRow]:
            # The writer commits in batches (addon.audit): commit what is queued first, so the
            # page shows every request judged so far.
            audit.flush(timeout=5.0)
            return audit.recent_findings(
                limit, offset, site=site, destination=destination, entity=entity, action=action
            )

        try:
            # SQLite reads are quick (indexed) but still disk I/O: keep them off the proxy's loop.
            rows = await asyncio.to_thread(read)
        except AuditStoreError as exc:
            raise ApiError(503, f"audit store unavailable: {exc}") from None
        return {
            "findings": [
                {
                    "id": r.id,
                    "ts": r.ts,
                    "flow_id": r.flow_id,
                    "method": r.method,
                    "url": r.url,
                    "site": r.site,
                    "destination": r.destination,
                    "third_party": r.third_party,
                    "mode": r.mode,
                    "verdict_action": r.verdict_action,
                    "location": r.location,
                    "entity_type": r.entity_type,
                    "score": r.score,
                    "masked": r.masked,
                    "action": r.action,
                    "rule": r.rule,
                }
                for r in rows
            ],
            "limit": limit,
            "offset": offset,
            "audit": True,
        }

    def site_policy(self, site_text: str, destination: str | None = None) -> dict[str, Any]:
        """``GET /v1/sites/<site>/policy``."""
        site = self.site_of(site_text)
        if destination is not None:
            destination = destination.strip().lower()
            if not destination:
                raise ApiError(400, "'destination' must be a host name")
        try:
            user = self.user_file.read()
        except UserPolicyError as exc:
            raise ApiError(409, str(exc)) from None
        return site_policy_view(self._store().policy, site, user, destination)

    def change_site_policy(self, site_text: str, body: object) -> dict[str, Any]:
        """``POST /v1/sites/<site>/policy``: one change, written to the user file, in force."""
        site = self.site_of(site_text)
        try:
            change = parse_change(body)
            current = self.user_file.read()
        except UserPolicyError as exc:
            raise ApiError(400, str(exc)) from None
        try:
            new = apply_change(current, site, change)
            self.user_file.write(new)
        except UserPolicyError as exc:
            raise ApiError(400, str(exc)) from None
        except OSError as exc:
            raise ApiError(500, f"cannot write the user policy file: {exc.strerror}") from None
        self._reload()
        return site_policy_view(self._store().policy, site, new)

    async def check(self, body: object) -> dict[str, Any]:
        """``POST /v1/check``: scan form values, decide, answer with masks only."""
        scanner = self.shield.scanner
        if scanner is None:
            raise ApiError(503, "the proxy's scanner is not ready yet")
        try:
            request = parse_check(body)
        except CheckError as exc:
            raise ApiError(400, str(exc)) from None
        try:
            found = await asyncio.to_thread(scan_check, scanner, request)
        except Exception as exc:
            # The exception's message may quote a value (int('1101...')): log the type only.
            logger.error("formshield api: /v1/check scan failed with %s", type(exc).__name__)
            raise ApiError(500, f"scan failed: {type(exc).__name__}") from None
        return judge_check(self._store().policy, request, found)

    def held(self, site: str | None = None) -> dict[str, Any]:
        """``GET /v1/held``."""
        return {"held": [h.event_data() for h in self.holds.pending(site or None)]}

    def answer(self, hold_id: str, body: object) -> dict[str, Any]:
        """``POST /v1/held/<id>``: release (send once, always allow) or kill (block)."""
        if not isinstance(body, dict) or set(body) != {"answer"}:
            raise ApiError(400, 'the body must be {"answer": "send_once"|"always_allow"|"block"}')
        answer = body["answer"]
        if answer not in ANSWERS:
            raise ApiError(400, f"'answer' must be one of {', '.join(ANSWERS)}")
        held = self.holds.get(hold_id)
        if held is None:
            raise ApiError(404, "no such held request (answered or expired)")
        if answer == "always_allow":
            self._remember_allow(held)
        if self.holds.resolve(hold_id, answer) is None:
            raise ApiError(404, "no such held request (answered or expired)")
        self.record(held, answer)
        self.hub.publish("resolved", {"id": held.id, "outcome": answer}, held.site)
        return {"id": held.id, "outcome": answer}

    def _remember_allow(self, held: Held) -> None:
        """Write rules allowing the held request's entity types from its site to its host.

        The rules must decide this very request: if another file has a more specific rule (one
        naming a method and path), they are written again as outranking rules; if even those
        lose (``combine: most-severe`` lets ``ask`` beat ``allow``), the user file is restored
        and the answer refused (409), so that "always" never silently means "once".
        """
        site = held.site
        if site is None:
            raise ApiError(
                400, "the page's site is unknown, so 'always' cannot be remembered; send once"
            )
        try:
            before = self.user_file.read()
            for outrank in (False, True):
                policy = allow_always(before, site, held.host, held.entity_types, outrank=outrank)
                self.user_file.write(policy)
                self._reload()
                losing = self._not_allowed(held)
                if losing is None:
                    return
            self.user_file.write(before)
            self._reload()
        except UserPolicyError as exc:
            raise ApiError(400, f"cannot remember this answer: {exc}") from None
        except OSError as exc:
            raise ApiError(500, f"cannot write the user policy file: {exc.strerror}") from None
        raise ApiError(
            409,
            f"'always allow' cannot override {losing} (the policy's combine mode lets the more "
            "severe action win); answer send_once, or change that rule",
        )

    def _not_allowed(self, held: Held) -> str | None:
        """The rule that still keeps one of the held request's findings from being allowed."""
        policy = self._store().policy
        for finding in held.findings:
            decision = policy.decide(
                held.site,
                held.host,
                finding.entity_type,
                finding.score,
                method=held.method,
                path=held.path,
                third_party=held.third_party,
            )
            if decision.action is not Action.ALLOW:
                return str(decision.rule)
        return None

    def record(self, held: Held, answer: Answer) -> None:
        """A person's answer (or ``timeout``: none in time) to the audit store (fingerprints
        of the values, never values)."""
        audit = self.shield.audit
        if audit is None:
            return
        try:
            audit.record_decision(
                destination=held.destination,
                answer=answer,
                findings=held.findings,
                flow_id=held.id,
                site=held.site,
                rule=held.rule,
            )
        except (AuditStoreError, ValueError) as exc:
            logger.error("formshield api: answer not recorded: %s", type(exc).__name__)


def _int_arg(args: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    text = args.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"'{key}' must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"'{key}' must be between {low} and {high}")
    return value
