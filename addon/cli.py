"""The ``formshield`` command line.

Each subcommand registers itself with one ``_add_<name>(subparsers)`` function listed in
:data:`_SUBCOMMANDS` and runs through a handler that returns the exit status. Handlers import
what they need (mitmproxy, the scanner's tables) themselves, so that ``formshield --help`` and
argument errors stay instant.

``formshield scan PATH... [--format jsonl|table] [--min-score F] [--entities A,B]`` scans
captured traffic (HAR or mitmproxy flow files, see :mod:`addon.capture`) with the same engine as
the proxy (:func:`addon.scan.scan_request`) and prints what it finds (formats: see
:mod:`addon.scan_output`). Exit status:

* 0: nothing found (scan issues alone do not change this; they are printed),
* 1: at least one finding,
* 2: bad usage, or an input that could not be read (message on stderr; the other inputs are
  still scanned and their results printed),
* 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from addon import cli_commands

if TYPE_CHECKING:
    from rich.progress import Progress

    from addon.capture import Capture
    from addon.scan_output import Output, Summary
    from detectors.engine import Scanner

PROG = "formshield"

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

# Inputs at least this large get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 1 << 20


def _score(text: str) -> float:
    """argparse type of --min-score: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _entity_list(text: str) -> list[str]:
    """argparse type of --entities: comma-separated entity names (upper-cased)."""
    names = [name.strip().upper() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected entity names, e.g. CN_RESIDENT_ID,CN_PHONE")
    return names


def _add_scan(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="scan captured traffic (HAR, mitmproxy flow files) for personal data",
        description=(
            "Scan every request (and client WebSocket message) of HAR files or mitmproxy "
            "flow files, in order, and print the personal data found, masked. Exit status: "
            "0 nothing found, 1 findings, 2 bad usage or unreadable input."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="HAR or mitmproxy flow file")
    parser.add_argument(
        "--format",
        choices=("jsonl", "table"),
        default="table",
        help="jsonl: one JSON object per finding/issue; table: for people (default)",
    )
    parser.add_argument(
        "--min-score",
        type=_score,
        default=None,
        metavar="F",
        help="report findings scoring at least F (0..1; default: the engine's, 0.5)",
    )
    parser.add_argument(
        "--entities",
        type=_entity_list,
        action="append",
        metavar="A,B",
        help="only these entity types (repeatable), e.g. CN_RESIDENT_ID,CN_PHONE",
    )
    parser.set_defaults(handler=_scan)


# Subcommands, in the order --help lists them.
_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    cli_commands.add_run,
    _add_scan,
    cli_commands.add_policy,
    cli_commands.add_audit,
    cli_commands.add_report,
    cli_commands.add_pair,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stop personal data leaking out of web forms: a local mitmproxy-based proxy.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``formshield`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- scan ------------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"{PROG} scan: error: {message}", file=sys.stderr)


def _scan(args: argparse.Namespace) -> int:
    from addon.capture import Capture, CaptureError

    # Open every input first: a typo in the last path should not cost a long scan.
    captures: list[Capture] = []
    for path in args.paths:
        try:
            captures.append(Capture(path))
        except CaptureError as exc:
            _error(str(exc))
            return EXIT_ERROR

    from detectors.engine import Scanner

    entities = [name for group in args.entities for name in group] if args.entities else None
    kwargs = {} if args.min_score is None else {"min_score": args.min_score}
    scanner = Scanner(entities=entities, **kwargs)
    if entities is not None and (unknown := sorted(set(entities) - scanner.entities)):
        known = ", ".join(sorted(Scanner().entities))
        _error(f"unknown entity type(s): {', '.join(unknown)} (known: {known})")
        return EXIT_ERROR

    from addon.scan_output import JsonlOutput, Summary, TableOutput

    output: Output
    if args.format == "jsonl":
        output = JsonlOutput(sys.stdout)
    else:
        output = TableOutput(sys.stdout, show_file=len(captures) > 1)
    summary = Summary(files=len(captures))
    try:
        _scan_all(captures, scanner, output, summary, args.format)
        output.close(summary)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`formshield scan ... | head`): stop quietly, and keep Python
        # from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS if summary.findings else EXIT_CLEAN
    if summary.unreadable:
        return EXIT_ERROR
    return EXIT_FINDINGS if summary.findings else EXIT_CLEAN


def _scan_all(
    captures: list[Capture], scanner: Scanner, output: Output, summary: Summary, fmt: str
) -> None:
    """Scan every item of every capture in order, feeding ``output`` and ``summary``."""
    import dataclasses

    from addon.capture import CapturedRequest, CaptureError
    from addon.clean_headers import CleanHeaders
    from addon.parties import request_parties
    from addon.scan import scan_request, scan_websocket_message
    from addon.scan_output import RequestContext, safe_url

    total = sum(c.size for c in captures)
    progress = _progress(total, fmt)
    task = progress.add_task("scanning", total=total) if progress is not None else None
    done = 0  # bytes of the files already finished
    entry = last_entry_found = -1
    ctx: RequestContext | None = None
    clean = CleanHeaders()  # a capture repeats its cookies and referers as a browser sends them
    try:
        if progress is not None:
            progress.start()
        for capture in captures:
            path = str(capture.path)
            try:
                for item in capture:
                    if isinstance(item, CapturedRequest):
                        entry += 1
                        summary.requests += 1
                        result = scan_request(item.request, scanner, clean=clean)
                        issues = [*item.issues, *result.issues]
                        site, dest, third = request_parties(item.request)
                        ctx = RequestContext(
                            file=path,
                            entry=entry,
                            method=item.request.method,
                            url=safe_url(item.request, result.findings),
                            site=site,
                            destination=dest,
                            third_party=third,
                        )
                        this = ctx
                    else:
                        summary.ws_messages += 1
                        result = scan_websocket_message(item.content, item.is_text, scanner)
                        issues = list(result.issues)
                        assert ctx is not None  # a message always follows its flow's request
                        this = dataclasses.replace(ctx, ws_message=item.message)
                    if result.findings:
                        summary.findings += len(result.findings)
                        if this.entry != last_entry_found:  # a flow's messages count with it
                            summary.requests_with_findings += 1
                            last_entry_found = this.entry
                        if this.third_party:
                            summary.third_party_findings += len(result.findings)
                    summary.issues += len(issues)
                    output.add(this, result.findings, issues)
                    if progress is not None and task is not None:
                        progress.update(task, completed=done + capture.position())
            except CaptureError as exc:
                if progress is not None:  # above the bar, not through it
                    progress.console.print(f"{PROG} scan: error: {exc}", markup=False)
                else:
                    _error(str(exc))
                summary.unreadable.append(str(exc))
            summary.skipped.update(capture.skipped)
            done += capture.size
    finally:
        if progress is not None:
            progress.stop()


def _progress(total: int, fmt: str) -> Progress | None:
    """A rich progress bar on stderr, only where it helps and cannot mix with the results.

    Shown when stderr is a terminal, the input is large (>= 1 MiB; small inputs finish before
    a bar could be read), and the results do not stream to the same terminal (jsonl on a
    terminal stdout would interleave with the bar; the table is printed at the end).
    """
    if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return None
    if fmt == "jsonl" and sys.stdout.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
