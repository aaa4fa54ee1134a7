"""End to end: a running proxy whose formshield script fails to reload lets nothing through.

mitmproxy reloads a ``-s`` script when its file changes. If the new file does not load, it
proxies on without the script's addons (``addon/offline_guard.py``): here a real mitmdump runs
formshield from a script of the test's own, which the test breaks and mends while it runs.
mitmproxy looks at the file about once a second, so each step waits, up to a bound, for the
proxy's answers to change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from addon.blockpage import RULE_HEADER
from addon.offline_guard import OFFLINE_RULE
from tests.e2e.harness import ROOT, Mitmdump, Upstream, send

pytestmark = pytest.mark.e2e

ID = "11010519491231002X"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SCRIPT = f"""import sys
sys.path.insert(0, {str(ROOT)!r})
from addon.mitm_script import addons
"""


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


def until(answer: Callable[[], int], wanted: int, what: str) -> None:
    """Ask again until ``answer()`` is ``wanted`` (the proxy has reloaded), within 60 s."""
    deadline = time.monotonic() + 60
    while (got := answer()) != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {got} after 60 s")
        time.sleep(0.3)


def test_a_broken_reload_refuses_everything_until_formshield_loads_again(
    tmp_path: Path, upstream: Upstream
) -> None:
    script = tmp_path / "load_formshield.py"
    script.write_text(SCRIPT)
    (tmp_path / "proxy").mkdir()
    with Mitmdump(upstream.port, tmp_path / "proxy", script=script) as proxy:
        sent = 0

        def clean() -> int:
            nonlocal sent
            sent += 1
            return send(proxy, f"http://tracker.example/c?m=r{sent}", b"ev=1", FORM)[0]

        def leak() -> tuple[int, dict[str, str]]:
            page = {**FORM, "Origin": "http://shop.test"}
            status, headers, _ = send(
                proxy, "http://tracker.example/c?m=leak", f"idNo={ID}".encode(), page
            )
            return status, headers

        assert clean() == 200 and leak()[0] == 403

        script.write_text(SCRIPT + "this is not python(\n")  # an update half written
        until(clean, 503, "after the script broke")
        status, headers = leak()
        assert status == 503 and headers[RULE_HEADER.lower()] == OFFLINE_RULE
        assert upstream.bodies("m=leak") == []
        assert "every request is refused until formshield loads again" in proxy.output()

        script.write_text(SCRIPT)  # mended
        until(clean, 200, "after the script was mended")
        assert leak()[0] == 403
        assert upstream.bodies("m=leak") == []
        assert "running again" in proxy.output()
