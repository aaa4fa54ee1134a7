"""What a ``formshield run`` command line sets up, read as mitmproxy will read it.

``formshield run`` passes the arguments after ``--`` to mitmproxy unchanged, and they may move
what its banner shows: ``-p``, ``--listen-host`` or ``--mode`` the proxy's addresses, ``--set
confdir=DIR`` the CA certificate a person must trust, ``--set formshield_audit=FILE`` the
audit store, and so on; so may mitmproxy's ``config.yaml``. :func:`read_settings` parses the
whole command line with mitmproxy's own parser (``mitmdump``'s or ``mitmweb``'s), its
``config.yaml`` and the options of mitmproxy's addons and of formshield declared, without
starting anything, so the banner states what will run rather than the defaults.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["RunSettings", "read_settings"]


@dataclass(frozen=True)
class RunSettings:
    """The addresses and files a ``formshield run`` command line sets up."""

    proxies: list[str]  # ``http://127.0.0.1:8080`` (regular mode), ``MODE on HOST, port N`` else
    confdir: Path  # mitmproxy's directory, where its CA certificate is
    policies: list[Path]  # the policy files the addon layers, in order
    user_policy: Path  # the extension's file, layered last when it exists
    audit: Path | None  # None: off
    api: str | None  # the extension API's URL; None: off
    web: str | None  # mitmweb's URL; None: mitmdump

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"


def read_settings(args: Sequence[str], *, web: bool) -> RunSettings:
    """The settings of ``mitmdump ARGS`` (``mitmweb ARGS`` with ``web``).

    Raises ValueError with mitmproxy's reason when it would refuse the arguments or an option
    value, which it then reports itself on start.
    """
    from mitmproxy import exceptions

    opts = _declared_options(web)
    with contextlib.redirect_stderr(io.StringIO()) as errors:
        try:
            _apply(opts, args, web)
            return _settings(opts, web)
        except SystemExit:  # argparse's way of refusing (what it printed is the reason)
            lines = errors.getvalue().strip().splitlines()
            reason = lines[-1].partition("error: ")[2] if lines else ""
            raise ValueError(reason or "mitmproxy refuses the arguments") from None
        except (exceptions.OptionsError, ValueError) as exc:  # a bad value or --mode
            raise ValueError(str(exc)) from None


def _declared_options(web: bool) -> Any:
    """mitmproxy's options with those of the addons its tool and formshield add, declared
    (as ``load`` declares them) but not configured: no addon runs."""
    from mitmproxy import addonmanager, addons, options
    from mitmproxy.addons import dumper

    from addon.extension_api import ExtensionApi
    from addon.proxy import FormShield

    opts = options.Options()
    # Loader only needs the master's options (and commands, for addons that add some).
    master = SimpleNamespace(options=opts, commands=SimpleNamespace(add=lambda *_: None))
    loader = addonmanager.Loader(master)
    # Not TermLog, nor ErrorCheck: making one installs a log handler for the whole process.
    declared: list[Any] = [*addons.default_addons(), dumper.Dumper()]
    if web:
        from mitmproxy.tools.web import webaddons

        declared += [webaddons.WebAddon(), webaddons.WebAuth()]
    shield = FormShield()
    declared += [shield, ExtensionApi(shield)]
    for addon in declared:
        load = getattr(addon, "load", None)
        if load is not None:
            load(loader)
    return opts


def _apply(opts: Any, args: Sequence[str], web: bool) -> None:
    """Set ``opts`` from ``args`` as ``mitmproxy.tools.main.run`` does before starting."""
    from mitmproxy import optmanager
    from mitmproxy.tools import cmdline
    from mitmproxy.tools.main import process_options

    parser = cmdline.mitmweb(opts) if web else cmdline.mitmdump(opts)
    parsed = parser.parse_args(list(args))
    opts.set(*parsed.setoptions, defer=True)
    confdir = Path(opts.confdir)  # load_paths expands "~"
    optmanager.load_paths(opts, str(confdir / "config.yaml"), str(confdir / "config.yml"))
    process_options(parser, opts, parsed)


def _settings(opts: Any, web: bool) -> RunSettings:
    from addon.audit import default_db_path
    from addon.extension_api import user_policy_path
    from policies import policy_stack

    files = policy_stack(opts.formshield_policy, no_default=opts.formshield_no_default)
    audit = opts.formshield_audit  # "": the default file; "off": none
    # Not creating the data directory: the proxy does that when it starts.
    audit_path = Path(audit).expanduser().resolve() if audit else default_db_path(create=False)
    return RunSettings(
        proxies=[_address(spec, opts.listen_host, opts.listen_port) for spec in opts.mode],
        confdir=Path(opts.confdir).expanduser(),
        policies=[path.resolve() for path in files],
        user_policy=user_policy_path(create=False),
        audit=None if audit == "off" else audit_path,
        api=f"http://127.0.0.1:{opts.formshield_api_port}" if opts.formshield_api_port else None,
        web=f"http://{opts.web_host}:{opts.web_port}" if web else None,
    )


def _address(spec: str, listen_host: str, listen_port: int | None) -> str:
    """Where a proxy mode listens, as mitmproxy's proxy server will: ``--mode`` may name its
    own address (``regular@8081``); else ``--listen-host``/``-p``; else the mode's default."""
    from mitmproxy.proxy.mode_specs import ProxyMode, RegularMode

    mode = ProxyMode.parse(spec)
    host = mode.listen_host(listen_host)
    port = mode.listen_port(listen_port)
    if isinstance(mode, RegularMode) and host:
        return f"http://{host}:{port}"  # what a browser's proxy setting takes
    name = spec.rpartition("@")[0] or spec
    if port is None:  # a mode that binds no address (local redirect)
        return name
    return f"{name} on {host or 'every interface'}, port {port}"
