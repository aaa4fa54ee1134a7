"""``formshield run``: start mitmdump (or mitmweb) with the formshield addon.

The proxy listens on 127.0.0.1:8080 unless the person's mitmproxy settings say otherwise: the
arguments after ``--`` (``-p``, ``--listen-host``, ``--mode``, ``--set listen_port=...``) or
their mitmproxy ``config.yaml``. Before starting, it prints where the proxy listens,
where the CA certificate is and how to trust it, which policy files are active and where the
audit store is, as those arguments set them (:mod:`addon.run_settings`), so a person knows what
they are running.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from addon.run_settings import RunSettings, read_settings

# Not mitmproxy's default (every interface): an open proxy on the local network would let
# anyone there send traffic out through this machine.
DEFAULT_LISTEN_HOST = "127.0.0.1"
SCRIPT = Path(__file__).with_name("mitm_script.py")


def build_mitmproxy_args(
    policies: Sequence[str],
    audit: str | None,
    extra: Sequence[str],
    *,
    no_default: bool = False,
    simulate: bool = False,
    web: bool = False,
) -> list[str]:
    """The mitmdump/mitmweb command line for these formshield settings.

    formshield's defaults for mitmproxy's own options are ``--set`` values, so that the
    person's settings override them wherever they are made: mitmproxy applies ``config.yaml``
    over every ``--set``, then flags such as ``-p`` and ``--listen-host`` over both. (As flags,
    the defaults would override ``config.yaml``.) A default is left out when ``extra`` sets
    that option itself, since mitmproxy refuses two ``--set`` values for one option. The port
    is left to mitmproxy, whose default is 8080 for a regular proxy and each mode's own for
    others (WireGuard's 51820, DNS's 53).
    """
    defaults = {"listen_host": DEFAULT_LISTEN_HOST}
    if not web:
        # mitmdump prints every flow's URL as it was sent, query strings with phone numbers
        # included; formshield logs its own verdicts, with masked values, instead.
        defaults["flow_detail"] = "0"
    given = options_set(extra)
    args = []
    for name, value in defaults.items():
        if name not in given:
            args += ["--set", f"{name}={value}"]
    args += ["-s", str(SCRIPT)]
    for policy in policies:
        args += ["--set", f"formshield_policy={Path(policy).expanduser().resolve()}"]
    if no_default:
        args += ["--set", "formshield_no_default=true"]
    if audit:
        args += ["--set", f"formshield_audit={audit}"]
    if simulate:
        args += ["--set", "formshield_simulate=true"]
    args += list(extra)
    return args


def options_set(args: Sequence[str]) -> set[str]:
    """The names of the options that ``args``, mitmproxy arguments, set with ``--set NAME=...``
    (or ``--set=NAME=...``), read as mitmproxy's parser reads that flag."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--set", action="append", default=[], dest="setoptions")
    try:
        known, _ = parser.parse_known_args(list(args))
    except argparse.ArgumentError:  # "--set" without a value: mitmproxy says so as it starts
        return set()
    return {value.partition("=")[0] for value in known.setoptions}


def banner(settings: RunSettings, note: str | None = None) -> str:
    """What the person running the proxy needs to know, printed before it starts: the
    addresses, files and CA of ``settings`` (:func:`addon.run_settings.read_settings`)."""
    lines = [
        "formshield: personal-data guard for outgoing requests",
        "  proxy:       " + _column(settings.proxies),
        "  policies:    " + _column([str(p) for p in settings.policies] or ["(none)"]),
        f"  user policy: {settings.user_policy} (the extension's choices, when present)",
        "  audit store: " + (str(settings.audit) if settings.audit else "off"),
        f"  CA cert:     {settings.ca_cert} (created on first start)",
        "  trust it:    browse to http://mitm.it through the proxy, or import the file above",
        "               as a certificate authority in your browser or system (see README).",
    ]
    if settings.api:
        lines.append(f"  extension:   backend on {settings.api}; pair with `formshield pair`")
    else:
        lines.append("  extension:   backend off (formshield_api_port=0)")
    if settings.web:
        # mitmweb asks for a token, which it prints with its own link once it listens.
        lines.append(f"  web UI:      {settings.web} (mitmweb prints its login link below)")
        lines.append("               findings show there as marked, commented flows")
    if note:
        lines.append(f"  note:        {note}")
    return "\n".join(lines)


def startup_banner(args: Sequence[str], ours: Sequence[str], *, web: bool) -> str:
    """The banner for the command line ``args``; if mitmproxy would refuse it, the banner for
    ``ours`` (formshield's part alone) with a note, and mitmproxy says why as it starts."""
    try:
        return banner(read_settings(args, web=web))
    except ValueError as exc:
        note = f"mitmproxy may refuse its settings ({exc}); it says why as it starts"
    try:
        return banner(read_settings(ours, web=web), note)
    except ValueError:  # its config.yaml, say: nothing to show but the note
        return f"formshield: {note}"


def _column(items: Sequence[str]) -> str:
    return "\n               ".join(items)


def run(
    policies: Sequence[str],
    audit: str | None,
    extra: Sequence[str],
    *,
    web: bool = False,
    no_default: bool = False,
    simulate: bool = False,
) -> int:
    """Print the banner and run mitmproxy in this process until it exits; return its status."""
    from mitmproxy.tools import main as mitm_main

    args = build_mitmproxy_args(
        policies, audit, extra, no_default=no_default, simulate=simulate, web=web
    )
    ours = build_mitmproxy_args(policies, audit, [], no_default=no_default, web=web)
    print(startup_banner(args, ours, web=web), file=sys.stderr, flush=True)
    runner = mitm_main.mitmweb if web else mitm_main.mitmdump
    status = runner(args)
    return int(status or 0)
