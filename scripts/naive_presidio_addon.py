"""The anchor of the proxy benchmark: a straightforward addon calling Presidio per request.

What a first attempt at formshield would be: hand URL and body, as text, to Presidio's
``AnalyzerEngine`` (all predefined recognizers, offline blank NLP engine, see
:mod:`scripts.vanilla_presidio`) in the request hook and block when anything scores >= 0.5.
Only used by ``scripts/bench_proxy.py``; never shipped as part of the proxy.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mitmproxy import http

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.vanilla_presidio import VanillaPresidio


class NaivePresidio:
    def __init__(self) -> None:
        self.engine = VanillaPresidio(score_threshold=0.5)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        if self.engine.scan_request(flow.request).findings:
            flow.response = http.Response.make(403, b"blocked", {"Content-Type": "text/plain"})


addons = [NaivePresidio()]
