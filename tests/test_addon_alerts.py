"""VerdictLog: every verdict line while they are few, a summary line when they flood."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mitmproxy.log import ALERT

from addon.alerts import VerdictLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records]


def test_few_lines_are_all_logged(caplog: pytest.LogCaptureFixture, clock: Clock) -> None:
    caplog.set_level(logging.DEBUG, logger="t")
    log = VerdictLog(logging.getLogger("t"), per_window=3, window=1.0, clock=clock)
    for i in range(3):
        log.log(ALERT, "block", "line %d", i)
        clock.now += 0.1
    log.flush()
    assert lines(caplog) == [(ALERT, "line 0"), (ALERT, "line 1"), (ALERT, "line 2")]


def test_a_flood_is_counted_and_summarised_when_the_window_ends(
    caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    caplog.set_level(logging.DEBUG, logger="t")
    log = VerdictLog(logging.getLogger("t"), per_window=2, window=1.0, clock=clock)
    for i in range(7):
        log.log(ALERT if i % 2 else logging.INFO, "block" if i % 2 else "redact", "line %d", i)
    assert [m for _, m in lines(caplog)] == ["line 0", "line 1"]
    clock.now += 1.0  # next window: the summary comes first, then the new line
    log.log(logging.INFO, "warn", "line 7")
    got = lines(caplog)
    assert got[2] == (
        ALERT,  # the most severe level among the suppressed lines
        "formshield: 5 more verdicts not logged in the last 1.0 s (block 2, redact 3); "
        "each one is on its flow and in the audit store",
    )
    assert got[3] == (logging.INFO, "line 7")
    log.flush()
    assert len(caplog.records) == 4  # nothing left to summarise


def test_the_summary_is_scheduled_on_the_running_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="t")
    log = VerdictLog(logging.getLogger("t"), per_window=1, window=0.05)

    async def flood() -> None:
        for _ in range(4):
            log.log(ALERT, "block", "line")
        await asyncio.sleep(0.2)  # no further line: the loop must emit the summary by itself

    asyncio.run(flood())
    messages = [m for _, m in lines(caplog)]
    assert messages[0] == "line"
    assert messages[1].startswith("formshield: 3 more verdicts not logged")
    assert len(messages) == 2
