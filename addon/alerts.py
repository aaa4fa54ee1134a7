"""Verdict log lines with a flood limit: each one while they are few, a count when they flood.

Every verdict that warns or blocks is logged (mitmdump's terminal, mitmweb's event log). While
browsing that is a line now and then. A page that sends the phone number on every keystroke, or
a capture replayed through the proxy, makes hundreds per second: a terminal nobody can read,
and in mitmproxy each log record is also dispatched to every addon as an event on the event
loop (about 0.3 ms of the proxy's single event-loop thread on a small machine), time taken
from the requests being served.

So :class:`VerdictLog` logs at most ``per_window`` lines per ``window`` seconds; the rest of
that window are counted and summarised in one line when it ends ("412 more verdicts not logged
in the last 1.0 s: block 205, warn 207"). Nothing is lost: every verdict stays on its flow
(mark and comment) and in the audit store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["VerdictLog"]

DEFAULT_PER_WINDOW = 10
DEFAULT_WINDOW = 1.0


class VerdictLog:
    """Log verdict lines through ``logger``, at most ``per_window`` per ``window`` seconds.

    The summary of a window with suppressed lines is logged when the window ends (scheduled on
    the running event loop), or else at the next line after it, or by :meth:`flush`.
    ``clock`` is for tests.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        per_window: int = DEFAULT_PER_WINDOW,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.per_window = per_window
        self.window = window
        self._clock = clock
        self._window_start = float("-inf")
        self._logged = 0
        self._suppressed: Counter[str] = Counter()
        self._level = logging.INFO
        self._scheduled = False

    def log(self, level: int, kind: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` at ``level``, or count it under ``kind`` (e.g. the action)."""
        now = self._clock()
        if now - self._window_start >= self.window:
            self.flush()
            self._window_start = now
            self._logged = 0
        if self._logged < self.per_window:
            self._logged += 1
            self.logger.log(level, msg, *args)
            return
        self._suppressed[kind] += 1
        self._level = max(self._level, level)
        if not self._scheduled:
            self._schedule(self._window_start + self.window - now)

    def flush(self) -> None:
        """Log the summary of suppressed lines, if any."""
        if not self._suppressed:
            return
        total = sum(self._suppressed.values())
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self._suppressed.items()))
        self.logger.log(
            self._level,
            "formshield: %d more verdicts not logged in the last %.1f s (%s); each one is on "
            "its flow and in the audit store",
            total,
            self.window,
            kinds,
        )
        self._suppressed.clear()
        self._level = logging.INFO

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (direct calls, tests): the next line or flush() summarises
        self._scheduled = True
        loop.call_later(max(0.0, delay), self._window_ended)

    def _window_ended(self) -> None:
        self._scheduled = False
        self.flush()
