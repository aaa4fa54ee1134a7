"""Option values given before formshield's script loaded (addon.deferred_options).

mitmproxy defers ``--set formshield_...=VALUE`` until the script declares its options. A value
it refuses must be reported and must not unload formshield: without the guard, mitmproxy runs
on without the addon and inspects nothing (see the module). These cases drive mitmproxy's own
option manager and addon registration through its test context; ``tests/e2e`` checks that a
real mitmdump exits on such a value.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.test import taddons

from addon.extension_api import ExtensionApi
from addon.proxy import FormShield

EXAMPLES = Path(__file__).resolve().parents[1] / "policies" / "examples"
BANKING, SHOPPING = str(EXAMPLES / "banking.yaml"), str(EXAMPLES / "shopping.yaml")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def load_with(specs: list[str], raw: dict[str, Any] | None = None) -> tuple[Any, FormShield]:
    """Register formshield's addons after ``--set`` ``specs`` (and config.yaml ``raw``) were
    deferred, as mitmproxy does when it loads the script; return the options."""
    with taddons.context() as tctx:
        options = tctx.master.options
        options.set(*specs, defer=True)
        options.update_defer(**(raw or {}))
        shield = FormShield()
        tctx.master.addons.add(shield, ExtensionApi(shield))
        options.process_deferred()  # what registration ends with: must not raise now
        return options, shield


@pytest.mark.parametrize(
    "specs, raw, expected",
    [
        (["formshield_max_body=4096"], None, {"formshield_max_body": 4096}),
        (["formshield_audit=off", "formshield_api_port=0"], None,
         {"formshield_audit": "off", "formshield_api_port": 0}),
        ([f"formshield_policy={BANKING}", f"formshield_policy={SHOPPING}"], None,
         {"formshield_policy": [BANKING, SHOPPING]}),
        (["formshield_simulate"], None, {"formshield_simulate": True}),
        ([], {"formshield_reload": 5}, {"formshield_reload": 5}),
    ],
)  # fmt: skip
def test_good_values_are_applied(
    specs: list[str], raw: dict[str, Any] | None, expected: dict[str, Any], caplog: Any
) -> None:
    with caplog.at_level(logging.ERROR):
        options, _ = load_with(specs, raw)
    assert {name: getattr(options, name) for name in expected} == expected
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "specs, raw, option, reason",
    [
        (["formshield_max_body=abc"], None, "formshield_max_body", "not an integer: abc"),
        (["formshield_audit=off", "formshield_audit=/x.db"], None, "formshield_audit",
         "multiple values"),
        (["formshield_api_port=x"], None, "formshield_api_port", "not an integer"),
        (["formshield_simulate=maybe"], None, "formshield_simulate", "formshield_simulate"),
        ([], {"formshield_max_body": "lots"}, "formshield_max_body", "Expected <class 'int'>"),
    ],
)  # fmt: skip
def test_a_refused_value_is_logged_and_formshield_still_loads(
    specs: list[str], raw: dict[str, Any] | None, option: str, reason: str, caplog: Any
) -> None:
    with caplog.at_level(logging.ERROR):
        options, shield = load_with([*specs, "formshield_reload=7"], raw)
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"option {option} refused" in error.getMessage() and reason in error.getMessage()
    # The refused option keeps its default; the rest of the values still apply.
    assert getattr(options, option) == options.default(option)
    assert options.formshield_reload == 7
    assert shield.policies is not None and shield.scanner is not None  # configured: it runs
    assert not {n for n in options.deferred if n.startswith("formshield_")}


def test_other_addons_deferred_options_are_left_to_mitmproxy() -> None:
    with taddons.context() as tctx:
        options = tctx.master.options
        options.set("someone_elses_option=1", defer=True)
        tctx.master.addons.add(FormShield())
        assert "someone_elses_option" in options.deferred
