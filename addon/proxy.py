"""The formshield mitmproxy addon: scan every outgoing request, decide by policy, act, audit.

Load it with ``formshield run`` or with plain ``mitmdump -s addon/mitm_script.py``. Options (all
``--set NAME=VALUE``):

``formshield_policy``          policy files layered on top of the bundled default (repeatable)
``formshield_no_default``      do not load the bundled default policy underneath
``formshield_audit``           path of the SQLite audit store (default: the data directory;
                               ``off`` keeps no audit trail)
``formshield_retention_days``  audit records older than this are deleted (0: keep forever)
``formshield_max_body``        bodies are scanned up to this many (decoded) bytes; for larger
                               ones the deciding rule's failure mode applies (open: pass and
                               warn, closed: block)
``formshield_offload``         bodies of at least this many bytes are scanned in a worker thread
                               so that other connections keep flowing
``formshield_reload``          seconds between checks of the policy files for edits (0: never);
                               checked on a timer, with or without traffic
``formshield_simulate``        apply no action whatever the policy says; record what would happen

Per request (HTTP/1, HTTP/2) the ``request`` hook parses the request into fields, scans them,
asks the policy for a decision per finding, combines them (most severe wins) and applies it;
WebSocket messages sent by the client go through the same steps in ``websocket_message``.
The verdict is kept in ``flow.metadata["formshield"]`` and, when it is not a silent allow,
shown in mitmweb as a marker and comment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mitmproxy import ctx, exceptions, http
from mitmproxy.log import ALERT
from mitmproxy.websocket import WebSocketMessage

from addon.alerts import VerdictLog
from addon.audit import AuditStore, AuditStoreError, FindingOutcome
from addon.blockpage import BlockedItem, block_response
from addon.clean_headers import CleanHeaders
from addon.deferred_options import apply_deferred
from addon.offline_guard import ERROR_RULE, install_guard, refusal_response, remove_guard
from addon.parties import Located, locate, pretty_url
from addon.quick_clean import clean_at_a_glance
from addon.redact import redact_request, redact_websocket_message
from addon.request_fields import ParseLimits
from addon.scan import log_failure, scan_request, scan_websocket_message
from detectors.engine import Scanner
from detectors.model import Finding, ScanIssue, ScanResult
from detectors.value_gate import ValueGate
from policies.loader import policy_stack
from policies.model import Action, Decision, combine_decisions
from policies.store import PolicyStore

logger = logging.getLogger(__name__)

METADATA_KEY = "formshield"
MARKERS = {"warn": ":warning:", "redact": ":pencil2:", "block": ":no_entry:", "ask": ":question:"}
DEFAULT_MAX_BODY = 32 * 1024 * 1024
DEFAULT_OFFLOAD = 64 * 1024
# While formshield_reload is 0 (no checks), how often the watcher looks whether it still is.
_RELOAD_OFF_RECHECK = 5.0
DEFAULT_RETENTION_DAYS = 180
# mitmproxy options under which some traffic passes without formshield seeing it, and what to
# tell the person running the proxy when one is set.
UNSEEN_TRAFFIC_OPTIONS = {
    "ignore_hosts": "connections to matching hosts pass through uninspected",
    "allow_hosts": "only matching hosts are intercepted; connections to all others pass "
    "through uninspected",
    "tcp_hosts": "connections to matching hosts are relayed as raw TCP, uninspected",
    "udp_hosts": "traffic to matching hosts is relayed as raw UDP, uninspected",
}
# Why an unconfigured FormShield refuses requests (see addon.offline_guard).
NOT_CONFIGURED = "formshield is loaded, but its configuration failed"


@dataclass(slots=True)
class Verdict:
    """What formshield decided for one request or message (kept in ``flow.metadata``).

    ``where`` is :func:`addon.parties.locate` of the request: its host and port as mitmproxy's
    ``pretty_host``/``pretty_url`` read them, and its parties (site, destination, third party),
    also readable as attributes of the verdict. A verdict with nothing found and nothing to
    report holds the request instead and locates it when first asked: most requests are such,
    nothing of formshield reads their parties, and locating one costs more than the rest of
    its verdict. Their parties are then those of the request as it is at that moment.
    """

    action: str
    rule: str
    message: str | None
    simulate: bool
    where: Located | http.Request = field(repr=False)
    findings: list[Finding] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    applied: str = "allow"  # what was actually done (differs in simulate mode, failed redaction)
    fallback: str | None = None  # for `ask`: the action applied when nobody answers
    timeout: float | None = None  # for `ask`: seconds to wait for an answer
    answer: str | None = None  # for `ask`: the action a person chose (None: nobody answered)

    def located(self) -> Located:
        """``where``, located now if it was left for later."""
        where = self.where
        if isinstance(where, http.Request):
            where = self.where = locate(where)
        return where

    @property
    def site(self) -> str | None:
        return self.located().parties.site

    @property
    def destination(self) -> str:
        return self.located().parties.destination

    @property
    def third_party(self) -> bool:
        return self.located().parties.third_party

    @property
    def host(self) -> str:
        """The request's host as ``pretty_host`` reads it (kept for the audit URL)."""
        return self.located().host

    @property
    def port(self) -> int | None:
        """The Host header's port, as ``pretty_url`` reads it (None: the connection's)."""
        return self.located().port

    def summary(self) -> dict[str, Any]:
        """A JSON-safe view with masked values only (for metadata, logs and the extension)."""
        return {
            "action": self.action,
            "applied": self.applied,
            "rule": self.rule,
            "message": self.message,
            "simulate": self.simulate,
            "site": self.site,
            "destination": self.destination,
            "third_party": self.third_party,
            "issues": self.issues,
            "findings": [
                {
                    "entity_type": f.entity_type,
                    "location": f.location,
                    "masked": f.masked,
                    "score": round(f.score, 3),
                    "encodings": list(f.encodings),
                    "action": str(d.action),
                    "rule": str(d.rule),
                }
                for f, d in zip(self.findings, self.decisions, strict=True)
            ],
        }


class Asker(Protocol):
    """Whoever can put an ``ask`` verdict to a person (the browser extension's backend)."""

    def can_ask(self, verdict: Verdict) -> bool:
        """True when someone is there to answer (an extension is connected)."""

    async def ask(self, flow: http.HTTPFlow, verdict: Verdict, timeout: float) -> str | None:
        """Hold until answered: the action to apply (``allow`` or ``block``), None on timeout."""


VerdictObserver = Callable[[http.HTTPFlow, Verdict], None]


class FormShield:
    """mitmproxy addon that keeps personal data from leaking (see the module docstring)."""

    def __init__(self) -> None:
        self.scanner: Scanner | None = None
        self.policies: PolicyStore | None = None
        self.audit: AuditStore | None = None
        self.limits = ParseLimits()
        # Checks the policy files for edits while the proxy runs (started by `running`).
        self._policy_watch: asyncio.Task[None] | None = None
        # Option values read per request, copied here by configure(): mitmproxy's option
        # access deep-copies the value each time, a measurable cost on the hot path.
        self._offload = DEFAULT_OFFLOAD
        self._reload_interval = 2
        self._simulate = False
        # Set by the extension backend (addon.extension_api): asks people, watches verdicts.
        self.asker: Asker | None = None
        self.observers: list[VerdictObserver] = []
        # Headers a browser repeats on every request (Cookie, Referer) are scanned once while
        # they stay the same (addon.clean_headers).
        self.clean_headers = CleanHeaders()
        # The scanner's value gate, for clean_at_a_glance (None: the scanner has none, and
        # every request is scanned in full).
        self._gate: ValueGate | None = None
        # One line per verdict while they are few; a count when they flood (addon.alerts).
        self.verdict_log = VerdictLog(logger)

    # --- configuration ---------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "formshield_policy",
            Sequence[str],
            [],
            "Policy files (YAML) layered on top of the bundled default, later files winning.",
        )
        loader.add_option(
            "formshield_no_default",
            bool,
            False,
            "Do not load the bundled default policy underneath formshield_policy.",
        )
        loader.add_option(
            "formshield_audit",
            str,
            "",
            "Path of the SQLite audit store; empty: audit.sqlite3 in the formshield data "
            "directory; 'off': keep no audit trail.",
        )
        loader.add_option(
            "formshield_retention_days",
            int,
            DEFAULT_RETENTION_DAYS,
            "Delete audit records older than this many days (0 keeps them forever).",
        )
        loader.add_option(
            "formshield_max_body",
            int,
            DEFAULT_MAX_BODY,
            "Bodies larger than this many bytes are not scanned; the policy's failure mode "
            "(open: pass and warn, closed: block) decides.",
        )
        loader.add_option(
            "formshield_offload",
            int,
            DEFAULT_OFFLOAD,
            "Scan bodies of at least this many bytes in a worker thread.",
        )
        loader.add_option(
            "formshield_reload",
            int,
            2,
            "Seconds between checks of the policy files for edits (0: never reload).",
        )
        loader.add_option(
            "formshield_simulate",
            bool,
            False,
            "Apply no action whatever the policy says; only record what would have happened.",
        )
        # Values given before this script loaded: a bad one must not unload formshield unseen.
        apply_deferred(loader)

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "formshield_max_body" in updated and opts.formshield_max_body <= 0:
            raise exceptions.OptionsError("formshield_max_body must be a positive number of bytes")
        if "formshield_offload" in updated and opts.formshield_offload < 0:
            raise exceptions.OptionsError("formshield_offload must be zero or positive")
        if "formshield_reload" in updated and opts.formshield_reload < 0:
            raise exceptions.OptionsError("formshield_reload must be zero or positive")
        if "formshield_retention_days" in updated and opts.formshield_retention_days < 0:
            raise exceptions.OptionsError("formshield_retention_days must be zero or positive")
        if "formshield_max_body" in updated:
            self.limits = ParseLimits(max_decoded_bytes=opts.formshield_max_body)
            self.clean_headers = CleanHeaders()  # its field counts were made under the old limits
        self._offload = opts.formshield_offload
        self._reload_interval = opts.formshield_reload
        self._simulate = bool(opts.formshield_simulate)
        if updated & {"formshield_policy", "formshield_no_default"} or self.policies is None:
            self.policies = self._load_policies(opts.formshield_policy, opts.formshield_no_default)
        if updated & {"formshield_audit", "formshield_retention_days"} or (
            self.audit is None and opts.formshield_audit != "off"
        ):
            self._open_audit(opts.formshield_audit, opts.formshield_retention_days)
        if self.scanner is None:
            # Building the recognizers costs a fraction of a second; do it once, up front,
            # rather than on the first request.
            self.scanner = Scanner()
            self._gate = self.scanner.value_gate
        master = getattr(ctx, "master", None)
        if master is not None:
            remove_guard(master)  # configured: formshield inspects requests again
        if "stream_large_bodies" in updated and getattr(opts, "stream_large_bodies", None):
            logger.log(
                ALERT,
                "formshield: stream_large_bodies is set; request bodies larger than %s are "
                "streamed and cannot be scanned. The policy's failure mode applies to them.",
                opts.stream_large_bodies,
            )
        for option in UNSEEN_TRAFFIC_OPTIONS.keys() & updated:
            if getattr(opts, option, None):
                # mitmproxy relays this traffic without parsing it: no hook of ours ever runs.
                logger.log(
                    ALERT,
                    "formshield: %s is set (%s): %s",
                    option,
                    ", ".join(getattr(opts, option)),
                    UNSEEN_TRAFFIC_OPTIONS[option],
                )

    def policy_files(self) -> list[Path]:
        """The active policy files, in layering order."""
        return list(self.policies.paths) if self.policies else []

    @staticmethod
    def _load_policies(paths: Sequence[str], no_default: bool) -> PolicyStore:
        files = policy_stack(paths, no_default=no_default)
        if not files:
            raise exceptions.OptionsError(
                "formshield_no_default is set but no formshield_policy file is given"
            )
        from policies.model import PolicyError

        try:
            return PolicyStore(files)
        except PolicyError as exc:
            # Refuse to start on a broken policy: running with no policy would let data leak.
            raise exceptions.OptionsError(f"formshield: {exc}") from exc

    def _open_audit(self, path: str, retention_days: int) -> None:
        if self.audit is not None:
            self.audit.close()
            self.audit = None
        if path == "off":
            return
        try:
            self.audit = AuditStore(
                Path(path).expanduser() if path else None,
                retention_days=retention_days or None,
            )
        except (AuditStoreError, OSError, ValueError) as exc:
            raise exceptions.OptionsError(
                f"formshield: cannot open the audit store: {exc}"
            ) from exc

    def running(self) -> None:
        # Everything alive now (mitmproxy, the detection rules' tables, the policy) lives
        # as long as the proxy. Freezing it takes it out of the cyclic collector's sight: a
        # full collection otherwise walks ~100k objects, ~20 ms during which every connection
        # stalls (measured on the project's machine; twice that while the proxy still loaded
        # Presidio); frozen, well under a millisecond.
        gc.collect()
        gc.freeze()
        self._start_policy_watch()

    def done(self) -> None:
        if self._policy_watch is not None:
            self._policy_watch.cancel()
            self._policy_watch = None
        self.verdict_log.flush()
        if self.audit is not None:
            self.audit.close()
            self.audit = None
        master = getattr(ctx, "master", None)
        if master is not None and _removed_while_running(master, self):
            # A script reload (or removal): if the new script fails to load, mitmproxy would
            # proxy on without formshield. Until one is configured again, nothing passes.
            install_guard(master, "its script was unloaded, or failed to load again")

    def _start_policy_watch(self) -> None:
        """Check the policy files on a timer of their own, not on the requests' path: an edit
        (or a broken one) is reported while the browser is idle, and requests do not pay for
        the check (~3 µs each inside the proxy, measured on the project's machine)."""
        if self._policy_watch is not None and not self._policy_watch.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside mitmproxy's loop (a test calling hooks directly)
        self._policy_watch = loop.create_task(self._watch_policy_files())

    async def _watch_policy_files(self) -> None:
        while True:
            # formshield_reload may change while we sleep; 0 turns checking off until it does.
            await asyncio.sleep(self._reload_interval or _RELOAD_OFF_RECHECK)
            if self._reload_interval:
                try:
                    self.check_policy_files()
                except Exception as exc:  # keep watching: the next edit may fix it
                    logger.error(
                        "formshield: checking the policy files failed: %s", type(exc).__name__
                    )

    def check_policy_files(self) -> None:
        """Reload the policy files if one changed on disk; log what happened.

        A broken edit keeps the last good policy and says why (``PolicyStore.reload_if_changed``).
        Runs every ``formshield_reload`` seconds while the proxy runs."""
        if self.policies is None:
            return
        result = self.policies.reload_if_changed()
        if result.error is not None and result.changed_files:
            logger.log(ALERT, "formshield: %s", result)
        elif result.changed_files:
            logger.info("formshield: %s", result)

    # --- HTTP ------------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        if self.scanner is None or self.policies is None:
            # Loaded, but its configuration failed (a broken policy file as the script
            # reloaded: mitmproxy logs the error and proxies on). Fail closed.
            flow.response = refusal_response(NOT_CONFIGURED)
            return
        request = flow.request
        if request.stream:
            # The body streams straight to the server; we never see it. Say so loudly, then let
            # the failure mode decide (a closed rule blocks before the first byte leaves).
            logger.log(
                ALERT,
                "formshield: %s %s streams its body (stream_large_bodies): not scanned",
                request.method,
                request.pretty_host,
            )
            result = ScanResult(
                issues=[
                    ScanIssue(
                        "streamed", "body", "the body was streamed (stream_large_bodies) unseen"
                    )
                ]
            )
        elif self._gate is not None and clean_at_a_glance(
            request, self._gate, self.clean_headers, self.limits
        ):
            # Nothing to find (addon.quick_clean): the verdict _decide gives a request without
            # findings or issues, with what _apply_http and _record do for it (mark nothing,
            # record nothing), without their layers, which cost more than the glance itself.
            simulate = self._simulate or self.policies.policy.simulate
            verdict = Verdict("allow", "", None, simulate, request)
            flow.metadata[METADATA_KEY] = verdict
            self._notify(flow, verdict)
            return
        else:
            size = len(request.raw_content or b"")
            clean = self.clean_headers
            if size >= self._offload:
                result = await asyncio.to_thread(
                    scan_request, request, self.scanner, self.limits, clean=clean
                )
            else:
                result = scan_request(request, self.scanner, self.limits, clean=clean)
        try:
            verdict = self._decide(request, result)
            if verdict.action == "ask" and not verdict.simulate:
                await self._ask(flow, verdict)
            await self._apply_http(flow, verdict)
            self._record(flow.id, request, verdict)
            self._notify(flow, verdict)
        except Exception as exc:
            # mitmproxy would log the error and send the request on, unexamined: refuse it.
            log_failure(exc, f"deciding on {request.method} {request.pretty_host}")
            flow.response = refusal_response("formshield failed on it", ERROR_RULE)

    async def _ask(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        """Hold the flow while a person decides; only this flow waits, others keep flowing."""
        if self.asker is None or not self.asker.can_ask(verdict):
            return  # nobody to ask: _apply_http applies the fallback at once
        try:
            verdict.answer = await self.asker.ask(flow, verdict, verdict.timeout or 30.0)
        except Exception as exc:  # a broken backend must not decide for the person
            logger.error(
                "formshield: asking failed (%s); applying the fallback", type(exc).__name__
            )
            verdict.answer = None

    def _notify(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        for observer in self.observers:
            try:
                observer(flow, verdict)
            except Exception as exc:
                logger.error("formshield: verdict observer failed: %s", type(exc).__name__)

    # --- WebSocket -------------------------------------------------------------------------

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        if not message.from_client or message.dropped:
            return
        if self.scanner is None or self.policies is None:
            message.drop()  # not configured: fail closed, as for requests
            return
        content = message.content
        if len(content) >= self._offload:
            result = await asyncio.to_thread(
                scan_websocket_message, content, message.is_text, self.scanner, self.limits
            )
        else:
            result = scan_websocket_message(content, message.is_text, self.scanner, self.limits)
        try:
            self._act_on_message(flow, message, result)
        except Exception as exc:
            # mitmproxy would log the error and send the message on, unexamined: drop it.
            log_failure(exc, f"deciding on a WebSocket message to {flow.request.pretty_host}")
            message.drop()

    def _act_on_message(
        self, flow: http.HTTPFlow, message: WebSocketMessage, result: ScanResult
    ) -> None:
        """Decide on a client's WebSocket ``message`` and act: pass, redact or drop it."""
        content = message.content
        verdict = self._decide(flow.request, result)
        # A WebSocket message is not held for a person: `ask` takes its fallback at once.
        action = (verdict.fallback or "block") if verdict.action == "ask" else verdict.action
        if action == "allow" or verdict.simulate:
            verdict.applied = "allow"
        elif action == "warn":
            verdict.applied = "warn"
        elif action == "redact":
            new = redact_websocket_message(content, message.is_text, verdict.findings)
            if new is None:
                message.drop()
                verdict.applied = "block"
            else:
                message.content = new if isinstance(new, bytes) else new.encode()
                verdict.applied = "redact"
        else:
            message.drop()
            verdict.applied = "block"
        if verdict.action != "allow":
            self._mark(flow, verdict)
        self._record(flow.id, flow.request, verdict, method="WS")
        self._notify(flow, verdict)

    # --- deciding --------------------------------------------------------------------------

    def _decide(self, request: http.Request, result: ScanResult) -> Verdict:
        assert self.policies is not None
        policy = self.policies.policy
        simulate = self._simulate or policy.simulate
        if not result.findings and not result.issues:
            # Nothing for the policy to decide: allow, locating the request only if asked.
            return Verdict("allow", "", None, simulate, request)
        where = locate(request)
        host, _, (site, _, third_party) = where
        decisions = [
            policy.decide(
                site,
                host,
                f.entity_type,
                f.score,
                method=request.method,
                path=request.path,
                third_party=third_party,
            )
            for f in result.findings
        ]
        issues = [i.kind for i in result.issues]
        all_decisions = list(decisions)
        if result.issues:
            all_decisions.append(
                policy.decide_incomplete(
                    site,
                    host,
                    method=request.method,
                    path=request.path,
                    third_party=third_party,
                    reason=", ".join(dict.fromkeys(issues)),
                )
            )
        final = combine_decisions(all_decisions)  # one per finding, and one for the issues
        return Verdict(
            action=str(final.action),
            rule=str(final.rule),
            message=final.message,
            simulate=simulate or final.simulate,
            where=where,
            findings=list(result.findings),
            decisions=decisions,
            issues=issues,
            fallback=str(final.fallback) if final.fallback is not None else None,
            timeout=final.timeout,
        )

    # --- acting ----------------------------------------------------------------------------

    async def _apply_http(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        flow.metadata[METADATA_KEY] = verdict
        action = verdict.action
        if action == "allow":
            verdict.applied = "allow"
            return
        if action == "ask":
            # The person's answer, else the rule's declared fallback for "no answer", else
            # block: the request waited for a decision that never came.
            action = verdict.answer or verdict.fallback or "block"
        if verdict.simulate or action == "allow":
            verdict.applied = "allow"
        elif action == "warn":
            verdict.applied = "warn"
        elif action == "redact":
            verdict.applied = await self._redact(flow, verdict)
        else:
            verdict.applied = "block"
        if verdict.applied == "block":
            self._block(flow, verdict)
        self._mark(flow, verdict)

    async def _redact(self, flow: http.HTTPFlow, verdict: Verdict) -> str:
        targets = [
            f
            for f, d in zip(verdict.findings, verdict.decisions, strict=True)
            if d.action in (Action.REDACT, Action.BLOCK, Action.ASK)
        ]
        if len(flow.request.raw_content or b"") >= self._offload:
            # Rewriting re-parses the body: as costly as scanning it, so off the loop likewise.
            outcome = await asyncio.to_thread(redact_request, flow.request, targets)
        else:
            outcome = redact_request(flow.request, targets)
        if not outcome.complete:
            # A value we could not rewrite would leave in clear: fail closed.
            logger.warning(
                "formshield: could not redact %d value(s) in %s %s; blocking instead",
                len(outcome.failed),
                flow.request.method,
                flow.request.pretty_host,
            )
            return "block"
        # No header says the request was redacted: it goes on to the destination (often a
        # tracker), which must not learn that this person runs formshield. The verdict is on the
        # flow (mark, comment, metadata) and in the audit store.
        return "redact"

    def _block(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        items = [
            BlockedItem(f.entity_type, f.location, f.masked)
            for f, d in zip(verdict.findings, verdict.decisions, strict=True)
            if d.action is not Action.ALLOW
        ]
        flow.response = block_response(
            flow.request,
            destination=verdict.destination,
            rule=verdict.rule,
            items=items,
            message=verdict.message,
            reason="personal data" if items else "a request that could not be checked",
        )

    def _mark(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        flow.marked = MARKERS.get(
            verdict.applied if not verdict.simulate else verdict.action, ":warning:"
        )
        found = ", ".join(f"{f.entity_type} {f.masked} in {f.location}" for f in verdict.findings)
        prefix = "formshield (simulate) would " if verdict.simulate else "formshield: "
        text = f"{prefix}{verdict.action} ({verdict.rule})"
        if found:
            text += f": {found}"
        if verdict.issues:
            text += f"; not fully scanned: {', '.join(dict.fromkeys(verdict.issues))}"
        flow.comment = text
        level = ALERT if verdict.applied in ("block", "warn") or verdict.simulate else logging.INFO
        kind = f"would {verdict.action}" if verdict.simulate else verdict.applied
        self.verdict_log.log(level, kind, "%s -> %s", text, verdict.destination)

    def _record(
        self, flow_id: str, request: http.Request, verdict: Verdict, method: str | None = None
    ) -> None:
        if self.audit is None or (verdict.action == "allow" and not verdict.findings):
            return
        outcomes = [
            FindingOutcome(f, str(d.action), str(d.rule))
            for f, d in zip(verdict.findings, verdict.decisions, strict=True)
        ]
        try:
            self.audit.record_verdict(
                flow_id=flow_id,
                method=method or request.method,
                url=pretty_url(request, verdict.host, verdict.port)
                if verdict.host
                else request.pretty_url,
                destination=verdict.destination,
                action=verdict.applied if not verdict.simulate else verdict.action,
                rule=verdict.rule,
                mode="simulate" if verdict.simulate else "enforce",
                site=verdict.site,
                third_party=verdict.third_party,
                findings=outcomes,
                issues=verdict.issues,
            )
        except AuditStoreError as exc:
            logger.error("formshield: audit record lost: %s", exc)


def _removed_while_running(master: Any, addon: object) -> bool:
    """Is ``addon`` (in its ``done``) being taken out of a proxy that runs on? mitmproxy drops an
    addon it removes from its lookup before calling ``done``; at shutdown the addon is still
    there, and ``should_exit`` is set."""
    name = getattr(addon, "name", type(addon).__name__.lower())
    should_exit = getattr(master, "should_exit", None)
    exiting = should_exit is not None and should_exit.is_set()
    return not exiting and master.addons.get(name) is not addon
