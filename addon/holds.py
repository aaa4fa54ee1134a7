"""Requests held for a person's answer (the ``ask`` policy action).

The proxy's ``request`` hook for a flow whose verdict is ``ask`` awaits :meth:`HoldRegistry.
wait`; only that flow waits (its own ``asyncio.Future``), every other flow keeps going on the
event loop. The extension API lists the held requests and resolves them with
:meth:`HoldRegistry.resolve`. Whichever comes first wins: the answer, or the rule's timeout
(after which the hold is gone and a late answer finds nothing: 404).

A :class:`Held` carries the findings themselves (values included, ``repr=False``) because an
answer is recorded in the audit store with the values' keyed fingerprints; everything a Held
shows (:meth:`Held.event_data`) holds masked values only.

Everything here runs on the event loop thread (mitmproxy's hooks and tornado's handlers share
it), so there is no locking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from detectors.model import Finding

Answer = Literal["send_once", "always_allow", "block"]
ANSWERS: tuple[Answer, ...] = ("send_once", "always_allow", "block")
TIMEOUT = "timeout"
# More simultaneous questions than a person can read: the rest take their fallback at once
# (and a page cannot pile up unbounded waiting requests in the proxy).
MAX_HELD = 100


def answer_action(answer: str | None) -> str | None:
    """What the proxy does for an answer: ``allow`` or ``block``; None for no answer."""
    if answer is None:
        return None
    return "block" if answer == "block" else "allow"


@dataclass(slots=True, eq=False)
class Held:
    """One request waiting for an answer.

    ``url`` is ``scheme://host[:port]/path`` with finding values masked; ``host`` is the
    request's host (an "always allow" answer allows exactly it); ``findings_view`` is the masked
    JSON view of the findings; ``expires_at`` is Unix time.
    """

    id: str
    site: str | None
    destination: str
    host: str
    url: str
    rule: str
    fallback: str
    expires_at: float
    findings_view: list[dict[str, Any]]
    findings: Sequence[Finding] = field(repr=False, default=())
    # The request's method, path (no query; may hold values, so never shown) and party
    # verdict: an "always allow" answer checks that its new rule decides this very request.
    method: str = "POST"
    path: str = field(repr=False, default="/")
    third_party: bool | None = None
    # Created by HoldRegistry.wait on the running loop; None (released) means "no answer".
    future: asyncio.Future[str | None] | None = field(repr=False, default=None)

    def event_data(self) -> dict[str, Any]:
        """The ``ask`` event of the extension API (masked values only)."""
        return {
            "id": self.id,
            "site": self.site,
            "destination": self.destination,
            "url": self.url,
            "findings": self.findings_view,
            "expires_at": self.expires_at,
            "fallback": self.fallback,
            "rule": self.rule,
        }

    @property
    def entity_types(self) -> list[str]:
        """The entity types the question is about, sorted."""
        return sorted({f.entity_type for f in self.findings})


class HoldRegistry:
    """The requests currently held, by id."""

    def __init__(self, max_held: int = MAX_HELD) -> None:
        self.max_held = max_held
        self._held: dict[str, Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def has_room(self) -> bool:
        """False when :data:`MAX_HELD` requests already wait."""
        return len(self._held) < self.max_held

    def get(self, hold_id: str) -> Held | None:
        """The held request with that id, if it still waits."""
        return self._held.get(hold_id)

    def pending(self, site: str | None = None) -> list[Held]:
        """Waiting requests, oldest first; only ``site``'s when given."""
        return [h for h in self._held.values() if site is None or h.site == site]

    async def wait(self, held: Held, timeout: float) -> str | None:
        """Register ``held`` and wait up to ``timeout`` seconds: the answer, or None.

        The hold is removed whatever happens (answer, timeout, or the waiting flow being
        cancelled because the proxy shuts down or the client went away).
        """
        if held.id in self._held:
            raise ValueError(f"request {held.id} is already held")
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        held.future = future
        self._held[held.id] = held
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._held.pop(held.id, None)
            if not future.done():
                future.cancel()

    def resolve(self, hold_id: str, answer: Answer) -> Held | None:
        """Answer a held request; None when it is unknown, expired or already answered."""
        held = self._held.get(hold_id)
        if held is None or held.future is None or held.future.done():
            return None
        held.future.set_result(answer)
        return held

    def release_all(self) -> list[Held]:
        """Give up on every waiting request (shutdown): their fallbacks apply."""
        released = list(self._held.values())
        for held in released:
            # A result, not cancel(): cancelling would cancel the proxy's request hook too.
            if held.future is not None and not held.future.done():
                held.future.set_result(None)
        return released


def new_expiry(timeout: float) -> float:
    """Unix time at which a hold of ``timeout`` seconds started now expires."""
    return time.time() + timeout
