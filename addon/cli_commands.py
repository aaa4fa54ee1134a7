"""``formshield`` subcommands beyond ``scan``: run, policy check/explain, audit export, report,
pair.

Each ``add_*`` function registers one subcommand on the parser of :mod:`addon.cli`; handlers
return the exit status (0 ok, 1 "found something" where that applies, 2 bad usage or input) and
import what they need when they run, so ``formshield --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_ERROR = 2


def _fail(command: str, message: str) -> int:
    print(f"formshield {command}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


# -- run ---------------------------------------------------------------------------------------


def add_run(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the proxy (127.0.0.1:8080) with the bundled default policy",
        description=(
            "Start mitmdump (or mitmweb with --web) with the formshield addon on "
            "127.0.0.1:8080, unless mitmproxy's config.yaml says otherwise. Arguments "
            "after -- go to mitmproxy unchanged, e.g. `formshield run -- -p 8081` or "
            "`-- --mode reverse:https://example.com`."
        ),
    )
    parser.add_argument(
        "--policy", action="append", default=[], metavar="FILE",
        help="policy file layered on top of the bundled default (repeatable; later wins)",
    )  # fmt: skip
    parser.add_argument(
        "--no-default-policy", action="store_true",
        help="do not load the bundled default policy underneath --policy files",
    )  # fmt: skip
    parser.add_argument("--web", action="store_true", help="run mitmweb (flow list in a browser)")
    parser.add_argument(
        "--audit", metavar="PATH",
        help="audit store (SQLite file); default: the data directory; 'off' keeps none",
    )  # fmt: skip
    parser.add_argument(
        "--simulate", action="store_true",
        help="apply no action, only record what the policy would have done",
    )  # fmt: skip
    parser.add_argument("mitmproxy_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from policies.explain import check_files

    extra = list(args.mitmproxy_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        return _fail("run", f"unexpected arguments {extra!r}: put mitmproxy's after --")
    if args.no_default_policy and not args.policy:
        return _fail("run", "--no-default-policy needs at least one --policy file")
    # Fail before starting the proxy, with every error of every file, not only the first.
    if args.policy:
        report = check_files(args.policy)
        if not report.ok:
            for error in report.errors:
                print(f"formshield run: {error}", file=sys.stderr)
            return EXIT_ERROR
    from addon.runner import run

    return run(
        args.policy, args.audit, extra,
        web=args.web, no_default=args.no_default_policy, simulate=args.simulate,
    )  # fmt: skip


# -- policy ------------------------------------------------------------------------------------


def add_policy(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("policy", help="check policy files, explain a verdict")
    sub = parser.add_subparsers(title="policy commands", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="validate policy files (exit 0 valid, 2 errors with file:line: reason)",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(handler=_policy_check)

    explain = sub.add_parser(
        "explain",
        help="show the verdict for a site, destination and entity, and the rule behind it",
    )
    explain.add_argument("--site", help="the page's site: host name or URL (omit if unknown)")
    explain.add_argument(
        "--destination", required=True, help="where the data is sent: host name or URL"
    )
    explain.add_argument("--entity", required=True, help="entity type, e.g. CN_RESIDENT_ID")
    explain.add_argument("--score", type=float, default=1.0, help="detection score (0..1)")
    explain.add_argument("--method", default="POST")
    explain.add_argument("--path", default="/")
    explain.add_argument(
        "--policy", action="append", default=[], metavar="FILE",
        help="policy file layered on top of the bundled default (repeatable)",
    )  # fmt: skip
    explain.add_argument("--no-default-policy", action="store_true")
    explain.set_defaults(handler=_policy_explain)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_ERROR


def _policy_check(args: argparse.Namespace) -> int:
    from policies.explain import check_files, render_check

    report = check_files(args.files)
    print(render_check(report))
    return EXIT_OK if report.ok else EXIT_ERROR


def _policy_explain(args: argparse.Namespace) -> int:
    from policies import policy_stack
    from policies.domains import host_of_input
    from policies.entities import KNOWN_ENTITIES
    from policies.explain import explain, render_explanation
    from policies.model import PolicyError

    if args.entity not in KNOWN_ENTITIES:
        known = ", ".join(sorted(KNOWN_ENTITIES))
        return _fail("policy explain", f"unknown entity {args.entity!r} (one of {known})")
    # People paste URLs (from the address bar, a block page, an audit export).
    not_a_host = "is not a host name, host:port or URL"
    site = None if args.site is None else host_of_input(args.site)  # omitted: unknown
    if args.site is not None and site is None:
        return _fail(
            "policy explain",
            f"--site {args.site!r} {not_a_host} (omit --site if the site is unknown)",
        )
    destination = host_of_input(args.destination)
    if destination is None:
        return _fail("policy explain", f"--destination {args.destination!r} {not_a_host}")
    files = policy_stack(args.policy, no_default=args.no_default_policy)
    if not files:
        return _fail("policy explain", "--no-default-policy needs at least one --policy file")
    try:
        exp = explain(
            site, destination, args.entity, score=args.score, policy_files=files,
            method=args.method, path=args.path,
        )  # fmt: skip
    except PolicyError as exc:
        return _fail("policy explain", str(exc))
    print(render_explanation(exp))
    return EXIT_OK


# -- audit export, report ----------------------------------------------------------------------


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="audit store (default: the data directory)")
    parser.add_argument(
        "--since", metavar="WHEN",
        help="only records since WHEN: a duration (90m, 24h, 7d, 2w) or an ISO date/time",
    )  # fmt: skip


def add_audit(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="export the audit trail (masked values only)")
    sub = parser.add_subparsers(title="audit commands", metavar="COMMAND")
    export = sub.add_parser("export", help="export findings (or ask decisions) as CSV or JSONL")
    export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    export.add_argument("--output", "-o", default="-", metavar="FILE", help="default: stdout")
    export.add_argument("--kind", choices=("findings", "decisions"), default="findings")
    _store_arguments(export)
    export.set_defaults(handler=_audit_export)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _open_store(command: str, args: argparse.Namespace) -> tuple[object, float | None] | int:
    from addon.audit import AuditStore, AuditStoreError
    from addon.audit_export import parse_since

    since = None
    if args.since:
        try:
            since = parse_since(args.since)
        except ValueError as exc:
            return _fail(command, str(exc))
    try:
        store = AuditStore(Path(args.db).expanduser() if args.db else None, read_only=True)
    except AuditStoreError as exc:
        return _fail(command, f"{exc} (has the proxy run yet? see `formshield run`)")
    return store, since


def _audit_export(args: argparse.Namespace) -> int:
    from addon.audit import AuditStore
    from addon.audit_export import export

    opened = _open_store("audit export", args)
    if isinstance(opened, int):
        return opened
    store, since = opened
    assert isinstance(store, AuditStore)
    try:
        count = export(store, args.format, args.output, since, kind=args.kind)
    except OSError as exc:
        return _fail("audit export", f"cannot write {args.output}: {exc.strerror}")
    finally:
        store.close()
    print(f"formshield audit export: {count} {args.kind}", file=sys.stderr)
    return EXIT_OK


def add_report(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report", help="write an HTML report: leaks per destination and entity, over time"
    )
    parser.add_argument("--html", required=True, metavar="FILE", help="where to write the page")
    _store_arguments(parser)
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from addon.audit import AuditStore
    from addon.report import render_report

    opened = _open_store("report", args)
    if isinstance(opened, int):
        return opened
    store, since = opened
    assert isinstance(store, AuditStore)
    try:
        page = render_report(store, since)
    finally:
        store.close()
    try:
        Path(args.html).write_text(page, encoding="utf-8")
    except OSError as exc:
        return _fail("report", f"cannot write {args.html}: {exc.strerror}")
    print(f"formshield report: wrote {args.html}", file=sys.stderr)
    return EXIT_OK


# -- pair --------------------------------------------------------------------------------------


def add_pair(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pair",
        help="show the backend URL and token for the browser extension's options page",
        description=(
            "Print the extension backend's URL and access token (created on first use, kept "
            "with 0600 permissions in the data directory). Paste them into the extension's "
            "options page. Anyone with the token can read your findings: keep it private."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=None,
        help="the port given to the proxy with formshield_api_port (default 8765)",
    )  # fmt: skip
    parser.set_defaults(handler=_pair)


def _pair(args: argparse.Namespace) -> int:
    from addon.extension_api import DEFAULT_API_PORT, pair_info

    port = args.port if args.port is not None else DEFAULT_API_PORT
    if not 0 < port < 65536:
        return _fail("pair", f"--port must be 1..65535, got {port}")
    try:
        print(pair_info(port=port))
    except OSError as exc:
        return _fail("pair", f"cannot read or create the token: {exc.strerror}")
    return EXIT_OK
