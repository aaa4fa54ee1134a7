"""The browser extension's backend, served by the running proxy (a mitmproxy addon).

:class:`ExtensionApi` sits next to :class:`addon.proxy.FormShield` (``addon/mitm_script.py``
lists both) and

* serves the HTTP API of notes/extension-api.md on ``127.0.0.1:<formshield_api_port>`` with
  tornado on mitmproxy's own asyncio loop (:mod:`addon.api_server`; security checks in
  :mod:`addon.api_security`, endpoint logic in :mod:`addon.api_backend`);
* is FormShield's ``asker``: a request whose verdict is ``ask`` is held
  (:mod:`addon.holds`) while at least one extension listens on ``/v1/events`` for its site,
  until a person answers or the rule's timeout passes; with nobody listening, FormShield
  applies the rule's fallback at once;
* is one of FormShield's ``observers``: every verdict that is not a silent allow goes to the
  event stream, masked;
* layers the user policy file ``<data dir>/user-policy.yaml`` (:mod:`policies.user_policy`)
  **last** over FormShield's policy stack: whenever FormShield (re)builds its ``PolicyStore``
  from its options, this addon replaces it with a store over the same files plus the user file
  (optional: missing is fine). FormShield's reload timer then also picks up hand edits.

Options (``--set NAME=VALUE``):

``formshield_api_port``      TCP port on 127.0.0.1 (default 8765; 0 disables the API). A port
                             that is taken is reported loudly and the proxy runs without API.
``formshield_extension_id``  only this extension may call (a Chrome id, a Firefox
                             moz-extension UUID or a full extension origin); default "": any
                             chrome-extension:// or moz-extension:// origin (the token is still
                             needed).

Fail-closed choices: a user policy file that does not load stops the proxy from starting (as any
broken policy does; the message names the file and line); once running, a policy option change
is refused while it is broken (the policy in force stays, as a broken edit is on reload); a
request held when the proxy shuts down gets its fallback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitmproxy import ctx, exceptions
from mitmproxy.log import ALERT

from addon.api_backend import ApiBackend
from addon.api_events import EventHub, findings_view, safe_url, verdict_event
from addon.api_security import OriginPolicy
from addon.api_server import LISTEN_ADDRESS, ApiContext, ApiServer
from addon.api_token import TokenError, load_or_create_token, token_path
from addon.deferred_options import apply_deferred
from addon.holds import TIMEOUT, Held, HoldRegistry, answer_action, new_expiry
from addon.secrets import data_dir as formshield_data_dir
from policies.domains import normalize_host
from policies.engine import strip_query
from policies.model import PolicyError
from policies.store import PolicyStore
from policies.user_policy import USER_POLICY_FILE, UserPolicyFile

if TYPE_CHECKING:
    from mitmproxy import http

    from addon.proxy import FormShield, Verdict

logger = logging.getLogger(__name__)

DEFAULT_API_PORT = 8765
FORMSHIELD_ADDON_NAME = "formshield"  # mitmproxy names addons by their lower-cased class name


def user_policy_path(directory: str | Path | None = None, *, create: bool = True) -> Path:
    """``<data dir>/user-policy.yaml`` (``create``: make the data directory if it is missing)."""
    return formshield_data_dir(directory, create=create) / USER_POLICY_FILE


class ExtensionApi:
    """mitmproxy addon: the extension's HTTP API and the ``ask`` action (module docstring)."""

    def __init__(self, formshield: FormShield | None = None) -> None:
        self._shield = formshield
        self.hub = EventHub()
        self.holds = HoldRegistry()
        self.origins = OriginPolicy()
        self.server: ApiServer | None = None
        self.backend: ApiBackend | None = None
        self._layered: PolicyStore | None = None
        self._running = False
        self._warned_missing = False

    # --- mitmproxy hooks -------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "formshield_api_port",
            int,
            DEFAULT_API_PORT,
            "Port of the browser extension's API on 127.0.0.1 (0 disables it).",
        )
        loader.add_option(
            "formshield_extension_id",
            str,
            "",
            "Only this browser extension may use the API (Chrome id, Firefox moz-extension "
            "UUID or extension origin); empty: any extension with the token.",
        )
        apply_deferred(loader)  # as FormShield.load does

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "formshield_api_port" in updated and not 0 <= opts.formshield_api_port <= 65535:
            raise exceptions.OptionsError(
                f"formshield_api_port must be 0 (off) or a TCP port, got {opts.formshield_api_port}"
            )
        if "formshield_extension_id" in updated:
            try:
                self.origins = OriginPolicy(opts.formshield_extension_id)
            except ValueError as exc:
                raise exceptions.OptionsError(f"formshield_extension_id: {exc}") from None
            if self.server is not None:
                self.server.ctx.origins = self.origins
        shield = self._find_shield()
        if shield is not None:
            self._attach(shield)
            self._layer_user_policy(shield)
        if self._running and "formshield_api_port" in updated:
            self._stop_server()
            self._start_server()

    def running(self) -> None:
        # Sync on purpose: mitmproxy calls `running` synchronously when a script is reloaded.
        self._running = True
        self._start_server()

    def done(self) -> None:
        self._running = False
        self._stop_server()
        for held in self.holds.release_all():
            logger.info("formshield: shutting down; held request %s gets its fallback", held.id)
        shield = self._shield
        if shield is not None:
            if shield.asker is self:
                shield.asker = None
            if self._observe in shield.observers:
                shield.observers.remove(self._observe)

    # --- wiring ----------------------------------------------------------------------------

    def _find_shield(self) -> FormShield | None:
        if self._shield is None:
            found = ctx.master.addons.get(FORMSHIELD_ADDON_NAME)
            if found is None:
                if not self._warned_missing:
                    logger.error("formshield: the extension API needs the formshield addon")
                    self._warned_missing = True
                return None
            self._shield = found
        return self._shield

    def _attach(self, shield: FormShield) -> None:
        shield.asker = self
        if self._observe not in shield.observers:
            shield.observers.append(self._observe)

    def _layer_user_policy(self, shield: FormShield) -> None:
        """Replace FormShield's fresh policy store with one that has the user file last."""
        store = shield.policies
        if store is None or store is self._layered:
            return
        user = user_policy_path()
        others = [p for p in store.paths if p.expanduser().resolve() != user.resolve()]
        paths = (*others, user)
        try:
            layered = PolicyStore(paths, optional={user})
        except PolicyError as exc:
            previous = self._layered
            if previous is not None:
                # Running already: the layered store in force stays (it holds the last good
                # user file). When FormShield rebuilt the very same stack (mitmproxy rolling
                # back the option change refused below), nothing changes: no second error.
                shield.policies = previous
                if previous.paths == paths:
                    return
            # Like any broken policy: refuse it rather than run without the user's choices.
            raise exceptions.OptionsError(
                f"formshield: {exc} (the user policy file is written by the browser "
                f"extension; fix it or delete {user} to start over)"
            ) from exc
        shield.policies = self._layered = layered

    def _start_server(self) -> None:
        port = ctx.options.formshield_api_port
        shield = self._shield
        if port == 0 or shield is None or self.server is not None:
            return
        try:
            token = load_or_create_token()
        except (TokenError, OSError) as exc:
            logger.log(ALERT, "formshield: extension API off: %s", exc)
            return
        self.backend = ApiBackend(shield, UserPolicyFile(user_policy_path()), self.holds, self.hub)
        server = ApiServer(ApiContext(self.backend, token=token, origins=self.origins, port=port))
        try:
            server.start()
        except OSError as exc:
            # The proxy itself must keep protecting traffic: run without the API, loudly.
            logger.log(
                ALERT,
                "formshield: extension API off: cannot listen on %s:%d (%s)",
                LISTEN_ADDRESS,
                port,
                exc.strerror or exc,
            )
            return
        self.server = server
        logger.info("formshield: extension API on http://%s:%d", LISTEN_ADDRESS, server.ctx.port)

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.hub.close_all()

    # --- FormShield's Asker and observer -----------------------------------------------------

    def can_ask(self, verdict: Verdict) -> bool:
        """Someone listens for this site's events, and not too many requests wait already."""
        return (
            self.server is not None
            and self.hub.has_listener(verdict.site)
            and self.holds.has_room()
        )

    async def ask(self, flow: http.HTTPFlow, verdict: Verdict, timeout: float) -> str | None:
        """Hold ``flow`` until answered: ``allow``, ``block``, or None (timeout: fallback)."""
        held = Held(
            id=flow.id,
            site=verdict.site,
            destination=verdict.destination,
            host=normalize_host(flow.request.pretty_host),
            url=safe_url(flow.request.pretty_url, verdict.findings),
            rule=verdict.rule,
            fallback=verdict.fallback or "block",
            expires_at=new_expiry(timeout),
            findings_view=findings_view(verdict.findings, verdict.decisions),
            findings=verdict.findings,
            method=flow.request.method,
            path=strip_query(flow.request.path),
            third_party=verdict.third_party,
        )
        self.hub.publish("ask", held.event_data(), held.site)
        answer = await self.holds.wait(held, timeout)
        if answer is None:
            # Recorded as a "timeout" decision; the verdict record carries the fallback applied.
            if self.backend is not None:
                self.backend.record(held, "timeout")
            self.hub.publish("resolved", {"id": held.id, "outcome": TIMEOUT}, held.site)
            logger.info(
                "formshield: no answer for %s within %gs; applying %s",
                held.destination,
                timeout,
                held.fallback,
            )
        return answer_action(answer)

    def _observe(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        if verdict.action == "allow" and not verdict.findings:
            return  # silent allows are most traffic: not news
        if not self.hub.has_listener(verdict.site):
            return
        data = verdict_event(flow.id, flow.request.pretty_url, verdict)
        self.hub.publish("verdict", data, verdict.site)


def pair_info(data_dir: str | Path | None = None, port: int = DEFAULT_API_PORT) -> str:
    """What ``formshield pair`` prints: the API's URL and token (creating the token if missing).

    ``data_dir`` overrides the data directory (default: :func:`addon.secrets.data_dir`). The
    short form ``http://127.0.0.1:<port>/#token=<token>`` can be pasted whole into the
    extension's options page; the fragment never leaves the browser.
    """
    token = load_or_create_token(data_dir)
    url = f"http://{LISTEN_ADDRESS}:{port}"
    return "\n".join(
        [
            "formshield browser extension pairing",
            f"  backend URL: {url}",
            f"  token:       {token}",
            f"  short form:  {url}/#token={token}",
            "Paste the URL and token (or the short form) into the extension's options page.",
            f"The token is kept in {token_path(data_dir)} (readable by you only); delete that "
            "file and pair again to replace it.",
        ]
    )
