"""The extension API's event stream: subscribers of ``GET /v1/events`` and what they are sent.

Each connected extension is a :class:`Subscriber` with its own bounded queue of ready-made
Server-Sent-Events chunks (``event: <name>\\ndata: <one line of JSON>\\n\\n``). Publishing never
waits: a subscriber whose queue is full (it stopped reading) is cut off rather than allowed to
hold memory or slow the proxy; the extension reconnects and reads ``/v1/held``.

The views built here (:func:`verdict_event`, :func:`findings_view`) hold masked values only:
finding locations and the URL path are scrubbed with :func:`addon.audit_values.scrub` (each
finding's value replaced by its mask, long digit runs masked) exactly as the audit store does,
because a website chooses its field names and paths and may put the value itself in them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from addon.audit_values import sanitize_url, scrub
from detectors.model import Finding
from policies.model import Decision

if TYPE_CHECKING:
    from addon.proxy import Verdict

QUEUE_SIZE = 256
PING = ": ping\n\n"


def format_event(event: str, data: dict[str, Any]) -> str:
    """One SSE message; JSON on one line (json.dumps escapes newlines inside strings)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


@dataclass(eq=False, slots=True)
class Subscriber:
    """One connected event stream; ``site`` filters events (None: all)."""

    site: str | None
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    closed: bool = False

    def wants(self, site: str | None) -> bool:
        """Whether an event about ``site`` goes to this subscriber."""
        return self.site is None or self.site == site

    def close(self) -> None:
        """End the stream: the handler sees None and finishes."""
        if self.closed:
            return
        self.closed = True
        while True:  # make room for the end marker
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


class EventHub:
    """The set of subscribers; runs on the event loop thread only."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, site: str | None = None) -> Subscriber:
        """Register a new stream."""
        sub = Subscriber(site)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a stream (the client went away or the stream ended)."""
        self._subscribers.discard(sub)
        sub.close()

    def has_listener(self, site: str | None) -> bool:
        """True when at least one open stream would receive an event about ``site``."""
        return any(not s.closed and s.wants(site) for s in self._subscribers)

    def publish(self, event: str, data: dict[str, Any], site: str | None) -> int:
        """Queue an event for every stream that wants ``site``; return how many got it."""
        if not self._subscribers:
            return 0
        chunk = format_event(event, data)
        delivered = 0
        for sub in list(self._subscribers):
            if sub.closed or not sub.wants(site):
                continue
            try:
                sub.queue.put_nowait(chunk)
                delivered += 1
            except asyncio.QueueFull:
                # It stopped reading: cut it off instead of buffering without bound.
                self.unsubscribe(sub)
        return delivered

    def close_all(self) -> None:
        """End every stream (shutdown)."""
        for sub in list(self._subscribers):
            self.unsubscribe(sub)


def value_masks(findings: Sequence[Finding]) -> list[tuple[str, str]]:
    """``(value, mask)`` pairs, longest value first, for :func:`addon.audit_values.scrub`."""
    return sorted(((f.value, f.masked) for f in findings), key=lambda p: len(p[0]), reverse=True)


def findings_view(
    findings: Sequence[Finding], decisions: Sequence[Decision]
) -> list[dict[str, Any]]:
    """Masked JSON view of findings and their per-finding decisions."""
    pairs = value_masks(findings)
    return [
        {
            "entity_type": f.entity_type,
            "location": scrub(f.location, pairs),
            "masked": f.masked,
            "score": round(f.score, 3),
            "action": str(d.action),
            "rule": str(d.rule),
        }
        for f, d in zip(findings, decisions, strict=True)
    ]


def safe_url(url: str, findings: Sequence[Finding]) -> str:
    """``scheme://host[:port]/path`` of ``url``, finding values in the path masked."""
    return sanitize_url(url, value_masks(findings))


def verdict_event(flow_id: str, url: str, verdict: Verdict) -> dict[str, Any]:
    """The ``verdict`` event's data for one judged request (see notes/extension-api.md)."""
    return {
        "id": flow_id,
        "ts": time.time(),
        "site": verdict.site,
        "destination": verdict.destination,
        "third_party": verdict.third_party,
        "url": safe_url(url, verdict.findings),
        "action": verdict.action,
        "applied": verdict.applied,
        "rule": verdict.rule,
        "message": verdict.message,
        "simulate": verdict.simulate,
        "findings": findings_view(verdict.findings, verdict.decisions),
        "issues": list(dict.fromkeys(verdict.issues)),  # what could not be scanned (kinds)
    }
