"""``formshield run``: start mitmdump (or mitmweb) with the formshield addon.

The proxy listens on 127.0.0.1:8080 unless the mitmproxy arguments after ``--`` say otherwise
(``-p``, ``--listen-host``, ``--mode``). Before starting, it prints where the CA certificate is
and how to trust it, which policy files are active and where the audit store is, so a person
knows what they are running.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from addon.audit import default_db_path

DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8080
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

    Our defaults come first so that anything in ``extra`` (given after ``--``) overrides them:
    mitmproxy lets a later ``--set`` or ``-p`` win.
    """
    args = [
        "--listen-host",
        DEFAULT_LISTEN_HOST,
        "--listen-port",
        str(DEFAULT_LISTEN_PORT),
        "-s",
        str(SCRIPT),
    ]
    if not web:
        # mitmdump prints every flow's URL as it was sent, query strings with phone numbers
        # included; formshield logs its own verdicts, with masked values, instead.
        args += ["--set", "flow_detail=0"]
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


def banner(policies: Sequence[str], audit: str | None, *, no_default: bool, web: bool) -> str:
    """What the person running the proxy needs to know, printed before it starts."""
    from addon.proxy import bundled_policy_path

    confdir = Path("~/.mitmproxy").expanduser()
    active = ([] if no_default else [str(bundled_policy_path())]) + [
        str(Path(p).expanduser().resolve()) for p in policies
    ]
    audit_path = audit if audit and audit != "off" else str(default_db_path())
    lines = [
        "formshield: personal-data guard for outgoing requests",
        f"  proxy:       http://{DEFAULT_LISTEN_HOST}:{DEFAULT_LISTEN_PORT} (unless overridden "
        "after --)",
        "  policies:    " + ("\n               ".join(active) if active else "(none)"),
        "  audit store: " + ("off" if audit == "off" else audit_path),
        f"  CA cert:     {confdir / 'mitmproxy-ca-cert.pem'} (created on first start)",
        "  trust it:    browse to http://mitm.it through the proxy, or import the file above",
        "               as a certificate authority in your browser or system (see README).",
    ]
    lines.append(
        "  extension:   backend on http://127.0.0.1:8765 (formshield_api_port); "
        "pair with `formshield pair`"
    )
    if web:
        lines.append("  web UI:      http://127.0.0.1:8081 (mitmweb; findings are marked flows)")
    return "\n".join(lines)


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
    print(banner(policies, audit, no_default=no_default, web=web), file=sys.stderr, flush=True)
    runner = mitm_main.mitmweb if web else mitm_main.mitmdump
    status = runner(args)
    return int(status or 0)
