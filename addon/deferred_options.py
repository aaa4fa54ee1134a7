"""Apply an addon's option values given before it loaded, and report a bad one loudly.

mitmproxy keeps ``--set NAME=VALUE`` (and ``config.yaml`` entries) for options that no addon has
declared yet, such as a script's, and applies them once the script's addons are registered. A
value that does not parse then (``--set formshield_max_body=abc``, or two ``--set`` of a
single-valued option) raises out of the script's loading without being logged, and mitmproxy
runs on without the script's addons (seen with mitmproxy 12): for formshield, a proxy that
inspects nothing, silently.

:func:`apply_deferred` applies an addon's own deferred values from its ``load`` instead. A value
mitmproxy refuses is dropped, so the addon still loads with that option's default, and logged as
an error; mitmdump and mitmweb exit on an error logged during start-up (their ``ErrorCheck``
addon). Either way the proxy does not run unprotected.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import exceptions

__all__ = ["apply_deferred"]

logger = logging.getLogger(__name__)


def apply_deferred(loader: Any, prefix: str = "formshield_") -> list[str]:
    """Apply the deferred values of the options named ``prefix...`` that are declared now (call
    at the end of ``load``); return the names of those refused, which are logged as errors and
    left at their defaults."""
    options = loader.master.options
    deferred: dict[str, Any] = getattr(options, "deferred", {})
    refused = []
    for name in [n for n in deferred if n.startswith(prefix) and n in options]:
        value = deferred.pop(name)
        try:
            strings = getattr(value, "val", None)  # from --set: unparsed strings
            if isinstance(strings, list):
                options.set(*(f"{name}={s}" for s in strings) if strings else (name,))
            else:  # from config.yaml: a parsed value
                options.update(**{name: value})
        except (exceptions.OptionsError, TypeError, ValueError) as exc:
            refused.append(name)
            logger.error("formshield: option %s refused: %s", name, exc)
    return refused
