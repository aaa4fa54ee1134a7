"""Tests for policies/store.py: loading a stack of files and reloading it safely."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from policies.loader import BUNDLED_DEFAULT
from policies.model import Action, PolicyError
from policies.store import PolicyStore, ReloadResult, ReloadStatus

GOOD = """\
rules:
  - id: phones
    destination: third-party
    entities: [CN_PHONE]
    action: redact
"""
STRICTER = GOOD.replace("redact", "block")
BROKEN = GOOD.replace("redact", "blok")


def write(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime forward, as a later edit would (coarse clocks too)."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    bumped = max(path.stat().st_mtime_ns, old + 1_000_000_000)
    os.utime(path, ns=(bumped, bumped))


def phone_action(store: PolicyStore) -> Action:
    return store.policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0).action


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "user.yaml"
    write(path, GOOD)
    return path


def test_initial_load(user_file: Path) -> None:
    store = PolicyStore([BUNDLED_DEFAULT, user_file])
    assert phone_action(store) is Action.REDACT
    assert store.policy.decide("jd.com", "t.cn", "CN_PHONE", 1).rule.file == str(user_file)
    assert store.last_error is None


def test_initial_load_failure_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    write(bad, BROKEN)
    with pytest.raises(PolicyError) as info:
        PolicyStore([bad])
    assert (info.value.path, info.value.line) == (str(bad), 5)
    with pytest.raises(PolicyError, match="policy file not found"):
        PolicyStore([tmp_path / "missing.yaml"])


def test_unchanged_is_cheap_and_keeps_the_policy(user_file: Path) -> None:
    store = PolicyStore([user_file])
    policy = store.policy
    assert store.reload_if_changed() == ReloadResult(ReloadStatus.UNCHANGED)
    assert store.policy is policy


def test_touch_without_edit_does_not_reload(user_file: Path) -> None:
    store = PolicyStore([user_file])
    policy = store.policy
    write(user_file, GOOD)
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED
    assert store.policy is policy


def test_edit_gives_the_new_policy(user_file: Path) -> None:
    store = PolicyStore([BUNDLED_DEFAULT, user_file])
    write(user_file, STRICTER)
    result = store.reload_if_changed()
    assert result == ReloadResult(ReloadStatus.RELOADED, None, (str(user_file),))
    assert phone_action(store) is Action.BLOCK
    assert str(result) == f"policy reloaded ({user_file} changed)"


def test_broken_edit_keeps_the_last_good_policy(
    user_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyStore([user_file])
    policy = store.policy
    write(user_file, BROKEN)
    with caplog.at_level(logging.WARNING, logger="policies.store"):
        result = store.reload_if_changed()
        assert result.status is ReloadStatus.KEPT_LAST_GOOD
        assert result.error is not None
        assert (result.error.path, result.error.line) == (str(user_file), 5)
        assert "unknown action 'blok'" in result.error.reason
        assert str(result).startswith("policy not reloaded, keeping the last good one: ")
        assert store.policy is policy
        assert phone_action(store) is Action.REDACT
        # polling again reports the same error but logs it only once
        again = store.reload_if_changed()
        assert (again.status, again.error) == (ReloadStatus.KEPT_LAST_GOOD, result.error)
        assert store.reload().error == result.error
    warnings = [r for r in caplog.records if "keeping the last good one" in r.getMessage()]
    assert len(warnings) == 1
    assert store.last_error == result.error

    # the fix is picked up
    write(user_file, STRICTER)
    assert store.reload_if_changed().status is ReloadStatus.RELOADED
    assert phone_action(store) is Action.BLOCK
    assert store.last_error is None


def test_undoing_a_broken_edit_clears_the_error(user_file: Path) -> None:
    store = PolicyStore([user_file])
    policy = store.policy
    write(user_file, BROKEN)
    assert store.reload_if_changed().status is ReloadStatus.KEPT_LAST_GOOD
    write(user_file, GOOD)
    assert store.reload_if_changed() == ReloadResult(ReloadStatus.UNCHANGED)
    assert store.policy is policy
    assert store.last_error is None


def test_optional_file_appears_and_disappears(tmp_path: Path) -> None:
    user = tmp_path / "extension.yaml"
    store = PolicyStore([BUNDLED_DEFAULT, user], optional=[user])
    assert phone_action(store) is Action.REDACT  # the default's third-party-contact
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED

    write(user, STRICTER)
    assert store.reload_if_changed().status is ReloadStatus.RELOADED
    assert phone_action(store) is Action.BLOCK

    user.unlink()
    assert store.reload_if_changed().status is ReloadStatus.RELOADED
    decision = store.policy.decide("jd.com", "t.cn", "CN_PHONE", 1.0)
    assert decision.rule.id == "third-party-contact"


def test_required_file_removed_keeps_the_last_good_policy(user_file: Path) -> None:
    store = PolicyStore([user_file])
    user_file.unlink()
    result = store.reload_if_changed()
    assert result.status is ReloadStatus.KEPT_LAST_GOOD
    assert result.error is not None and result.error.reason == "policy file not found"
    assert phone_action(store) is Action.REDACT


def test_broken_edit_in_a_second_file_names_that_file(tmp_path: Path, user_file: Path) -> None:
    other = tmp_path / "other.yaml"
    write(other, "rules: []\n")
    store = PolicyStore([user_file, other])
    write(other, "rules:\n  - id: x\n    action: allow\n    action: block\n")
    result = store.reload_if_changed()
    assert result.error is not None
    assert str(result.error) == f"{other}:4: duplicate key 'action' (first defined at line 3)"
    assert result.changed_files == (str(other),)


def test_forced_reload(user_file: Path) -> None:
    store = PolicyStore([user_file])
    policy = store.policy
    assert store.reload().status is ReloadStatus.RELOADED
    assert store.policy is not policy
