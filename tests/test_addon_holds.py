"""Tests for addon/holds.py: requests held for an answer, on a real asyncio loop."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from addon.holds import (
    ANSWERS,
    MAX_HELD,
    TIMEOUT,
    Held,
    HoldRegistry,
    answer_action,
    new_expiry,
)
from detectors.engine import Scanner

ID = "11010519491231002X"
PHONE = "13912345678"


def make_held(hold_id: str = "f1", site: str | None = "shop.test", timeout: float = 5) -> Held:
    findings = Scanner().scan_text(f"身份证 {ID} 手机 {PHONE}", location="form.x", name="x")
    return Held(
        id=hold_id,
        site=site,
        destination="tracker.example",
        host="c.tracker.example",
        url="http://c.tracker.example/collect",
        rule="default.yaml:1 (r)",
        fallback="block",
        expires_at=new_expiry(timeout),
        findings_view=[{"entity_type": f.entity_type, "masked": f.masked} for f in findings],
        findings=findings,
    )


@pytest.mark.parametrize(
    "answer, action",
    [("send_once", "allow"), ("always_allow", "allow"), ("block", "block"), (None, None)],
)
def test_answer_action(answer: str | None, action: str | None) -> None:
    assert answer_action(answer) == action


def test_the_audit_store_keeps_every_answer_and_timeouts() -> None:
    from addon.audit import ANSWERS as AUDIT_ANSWERS

    assert (*ANSWERS, TIMEOUT) == AUDIT_ANSWERS
    assert TIMEOUT not in ANSWERS  # nobody can answer "timeout"


async def test_answer_releases_the_waiter() -> None:
    reg = HoldRegistry()
    held = make_held()
    waiter = asyncio.create_task(reg.wait(held, 5))
    await asyncio.sleep(0)
    assert reg.get("f1") is held and len(reg) == 1
    assert reg.resolve("f1", "send_once") is held
    assert await waiter == "send_once"
    assert len(reg) == 0
    assert reg.resolve("f1", "block") is None  # answered already: gone


async def test_timeout_returns_none_and_forgets_the_hold() -> None:
    reg = HoldRegistry()
    start = time.monotonic()
    assert await reg.wait(make_held(), 0.05) is None
    assert 0.04 < time.monotonic() - start < 1
    assert reg.get("f1") is None
    assert reg.resolve("f1", "send_once") is None  # late answer: 404 in the API


async def test_holds_are_independent() -> None:
    reg = HoldRegistry()
    a = asyncio.create_task(reg.wait(make_held("a"), 5))
    b = asyncio.create_task(reg.wait(make_held("b", site="other.test"), 5))
    await asyncio.sleep(0)
    assert [h.id for h in reg.pending()] == ["a", "b"]
    assert [h.id for h in reg.pending("other.test")] == ["b"]
    reg.resolve("b", "block")
    assert await b == "block"
    assert not a.done()
    reg.resolve("a", "always_allow")
    assert await a == "always_allow"


async def test_release_all_gives_no_answer_without_cancelling_the_waiter() -> None:
    reg = HoldRegistry()
    waiter = asyncio.create_task(reg.wait(make_held(), 5))
    await asyncio.sleep(0)
    assert [h.id for h in reg.release_all()] == ["f1"]
    assert await waiter is None  # a result: the proxy's request hook is not cancelled
    assert not waiter.cancelled()


async def test_cancelled_waiter_forgets_the_hold() -> None:
    reg = HoldRegistry()
    waiter = asyncio.create_task(reg.wait(make_held(), 5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(reg) == 0


async def test_same_id_twice_is_refused() -> None:
    reg = HoldRegistry()
    first = asyncio.create_task(reg.wait(make_held(), 5))
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="already held"):
        await reg.wait(make_held(), 5)
    reg.resolve("f1", "block")
    assert await first == "block"


async def test_room_is_bounded() -> None:
    reg = HoldRegistry(max_held=2)
    assert HoldRegistry().max_held == MAX_HELD
    tasks = [asyncio.create_task(reg.wait(make_held(str(i)), 5)) for i in range(2)]
    await asyncio.sleep(0)
    assert not reg.has_room()
    reg.resolve("0", "block")
    await tasks[0]
    assert reg.has_room()
    reg.resolve("1", "block")
    await tasks[1]


def test_event_data_is_masked_and_json_safe() -> None:
    held = make_held()
    data = held.event_data()
    text = json.dumps(data, ensure_ascii=False)
    assert ID not in text and PHONE not in text and ID not in repr(held)
    assert set(data) == {
        "id", "site", "destination", "url", "findings", "expires_at", "fallback", "rule",
    }  # fmt: skip
    assert held.entity_types == ["CN_PHONE", "CN_RESIDENT_ID"]
    assert data["expires_at"] == pytest.approx(time.time() + 5, abs=1)
