"""formshield with its request hook timed, for ``scripts/bench_proxy.py --hook-cpu``.

The same addons as ``addon/mitm_script.py``, except that FormShield's ``request`` hook adds the
CPU time it took on the proxy's thread (``time.thread_time``) to a tally per kind of request:
``no body``, ``json``, ``form`` (urlencoded) and ``other body``, with the wall time of each call.
When mitmproxy shuts down, the tally is written as JSON to the file named by the
``FORMSHIELD_HOOK_CPU`` environment variable: ``{kind: {"cpu_s": seconds, "wall_s": [seconds of
each call]}}``; the benchmark reports from it. The wall time is what the hook itself adds to a
request's latency, stalls of the machine included, without the time a request waits for the
event loop.

This is formshield's own cost inside a loaded mitmdump, which a hot loop understates 2-3 times
(there the caches hold formshield's code and data; in the proxy mitmproxy's work between two
requests evicts them). The timing itself costs about 1 µs per request. A hook that waits (an
``ask``, a large body scanned off the event loop) would be charged for whatever else ran on the
thread meanwhile; the benchmark's requests never wait. Only used by the benchmark.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from mitmproxy import http

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.extension_api import ExtensionApi
from addon.header_values import header_values
from addon.proxy import FormShield

OUTPUT_VARIABLE = "FORMSHIELD_HOOK_CPU"


def request_kind(request: http.Request) -> str:
    """``no body``, ``json``, ``form`` or ``other body``, by body and Content-Type."""
    if not request.raw_content:
        return "no body"
    ctype = header_values(request, b"content-type")[0].lower()
    if "json" in ctype:
        return "json"
    if "x-www-form-urlencoded" in ctype:
        return "form"
    return "other body"


class TimedFormShield(FormShield):
    """FormShield whose ``request`` hook is timed per :func:`request_kind`."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: dict[str, float] = {}
        self.walls: dict[str, list[float]] = {}

    async def request(self, flow: http.HTTPFlow) -> None:
        kind = request_kind(flow.request)
        began, began_wall = time.thread_time(), time.perf_counter()
        await super().request(flow)
        wall = time.perf_counter() - began_wall
        self.cpu[kind] = self.cpu.get(kind, 0.0) + time.thread_time() - began
        self.walls.setdefault(kind, []).append(wall)

    def done(self) -> None:
        super().done()
        path = os.environ.get(OUTPUT_VARIABLE)
        if path:
            tally = {
                kind: {"cpu_s": self.cpu[kind], "wall_s": walls}
                for kind, walls in self.walls.items()
            }
            Path(path).write_text(json.dumps(tally), encoding="utf-8")


formshield = TimedFormShield()
addons = [formshield, ExtensionApi(formshield)]
