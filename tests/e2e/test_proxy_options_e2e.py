"""End to end: a real mitmdump refuses to run formshield on an option value it cannot read.

mitmproxy applies ``--set`` values for a script's options once the script has loaded; one it
cannot parse there used to unload formshield without a word, leaving a proxy that inspects
nothing (``addon/deferred_options.py``). Now the value is logged as an error, and mitmdump exits
on an error logged during start-up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import FORMSHIELD_SCRIPT, ROOT, free_port

pytestmark = pytest.mark.e2e


def run_mitmdump(tmp_path: Path, extra: list[str]) -> tuple[int, str]:
    """mitmdump with formshield and ``extra``; its exit status and output (it should exit)."""
    args = [
        str(Path(sys.executable).with_name("mitmdump")),
        "--listen-host", "127.0.0.1", "--listen-port", str(free_port()),
        "-s", str(FORMSHIELD_SCRIPT), "--set", f"confdir={tmp_path / 'conf'}", *extra,
    ]  # fmt: skip
    env = {"FORMSHIELD_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    "extra, config, message",
    [
        (["--set", "formshield_max_body=abc"], None,
         "option formshield_max_body refused: Failed to parse option formshield_max_body"),
        (["--set", "formshield_audit=off", "--set", "formshield_audit=x.db"], None,
         "option formshield_audit refused: Received multiple values for formshield_audit"),
        ([], "formshield_api_port: eighty\n", "option formshield_api_port refused"),
    ],
)  # fmt: skip
def test_an_unreadable_value_stops_the_proxy(
    tmp_path: Path, extra: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "config.yaml").write_text(config)
    status, output = run_mitmdump(tmp_path, extra)
    assert status != 0
    assert message in output
    assert "Error logged during startup, exiting" in output
