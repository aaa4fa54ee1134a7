"""Pause Python's cyclic garbage collector while a big body is parsed or scanned.

Parsing a 1 MB JSON body creates about 100,000 container objects (fields, path tuples, the
decoded document) that stay alive until the request is done and form no reference cycles.
Each of them moves the collector towards a generation-2 pass, which walks every live object of
the process: in a process holding Presidio and spaCy that is a few hundred thousand objects (in
the proxy, which loads neither, about 100,000), and those passes cost up to half of the time of
a big body (measured with bench_scan: 1 MB in 352 ms with the collector, 181 ms without).
Reference counting still frees everything at once when the request is dropped; cycles made
elsewhere meanwhile are collected after the pause.

The proxy also freezes what is alive once it runs (``FormShield.running`` calls
``gc.freeze()``), which takes mitmproxy and the detection rules' tables out of every later
pass. That does not make this pause redundant: the body's own objects still fill the young
generations many times over and are walked again at each pass until the request is done.

The request parser and the scanner take the pause only for big inputs (small requests
allocate too little to matter); the JSON walker takes it for every document, since a pause
costs under 2 us and a JSON document's size is only known once it is parsed. Pauses
nest, and are thread-safe in the only sense that matters: the collector is re-enabled by the
pause that disabled it, never left disabled by this module.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["paused_gc"]


class _State:
    """Pauses in progress in all threads (the collector is off while ``depth`` > 0) and
    whether this module turned the collector off (and so must turn it back on)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.owned = False


_STATE = _State()


class paused_gc:  # lower case: used like the function it was, ``with paused_gc():``
    """Run the block with the cyclic collector off when ``pause`` is true.

    If the collector was already disabled by someone else it stays as it is, before and after.
    Overlapping pauses (threads, nesting) keep it off until the last one ends.

    A class rather than a ``@contextmanager`` generator: every JSON body is walked inside one,
    and the generator machinery cost a small request ~3 us of its ~40.
    """

    __slots__ = ("_pause",)

    def __init__(self, pause: bool = True) -> None:
        self._pause = pause

    def __enter__(self) -> None:
        if not self._pause:
            return
        state = _STATE
        with state.lock:
            if state.depth == 0:
                state.owned = gc.isenabled()
                if state.owned:
                    gc.disable()
            state.depth += 1

    def __exit__(self, *exc: object) -> None:
        if not self._pause:
            return
        state = _STATE
        with state.lock:
            state.depth -= 1
            if state.depth == 0 and state.owned:
                state.owned = False
                gc.enable()
