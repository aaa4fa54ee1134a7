"""Tests for addon.secrets: the data directory and the per-install secret."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from addon import secrets as fs_secrets
from addon.secrets import (
    ENV_DATA_DIR,
    SECRET_FILE,
    SECRET_SIZE,
    SecretError,
    create_private_file,
    data_dir,
    load_or_create_secret,
    read_private_file,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the real home, whatever a test forgets to pass.
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "env-data"))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 0, the worst case: nothing filters the modes the code asks for."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- data directory precedence ---------------------------------------------------------------


def test_override_wins_over_env(tmp_path: Path) -> None:
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()


def test_env_used_without_override(tmp_path: Path) -> None:
    assert data_dir() == tmp_path / "env-data"
    assert data_dir("") == tmp_path / "env-data"  # an empty option means "not set"


def test_platformdirs_default_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_DIR)
    # create=False: computing the default must not create anything in the real home.
    assert data_dir(create=False) == Path(platformdirs.user_data_dir("formshield"))


# --- permissions -----------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_new_dir_is_0700_even_with_open_umask(tmp_path: Path) -> None:
    path = data_dir(tmp_path / "a" / "b")
    assert _mode(path) == 0o700


def test_existing_dir_is_never_changed_but_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An option may name a home or a shared directory: chmod-ing it would break other programs.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    load_or_create_secret(shared)
    assert _mode(shared) == 0o1777
    assert "others can list it" in caplog.text
    assert _mode(shared / SECRET_FILE) == 0o600


def test_umask_that_removes_owner_bits_is_overridden(tmp_path: Path) -> None:
    old = os.umask(0o277)
    try:
        path = data_dir(tmp_path / "strict")
    finally:
        os.umask(old)
    assert _mode(path) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_secret_file_is_0600_and_32_bytes(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path / "d")
    path = tmp_path / "d" / SECRET_FILE
    assert len(secret) == SECRET_SIZE
    assert path.read_bytes() == secret
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "d") == 0o700
    # No temporary files are left behind.
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [SECRET_FILE]


@pytest.mark.usefixtures("open_umask")
def test_secret_never_readable_by_others_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the moment the random bytes are written, the file is already 0600 and not yet in place."""
    seen: list[tuple[int, bool]] = []
    real_write = os.write
    final = tmp_path / "d" / SECRET_FILE

    def spying_write(fd: int, data: bytes | memoryview) -> int:
        seen.append((stat.S_IMODE(os.fstat(fd).st_mode), final.exists()))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spying_write)
    load_or_create_secret(tmp_path / "d")
    monkeypatch.undo()
    assert seen == [(0o600, False)]


@pytest.mark.usefixtures("open_umask")
def test_private_file_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    create_private_file(path)
    assert _mode(path) == 0o600
    path.write_bytes(b"x")
    create_private_file(path)  # existing: kept as is
    assert path.read_bytes() == b"x"


def test_existing_loose_secret_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = load_or_create_secret(tmp_path)
    (tmp_path / SECRET_FILE).chmod(0o644)
    assert load_or_create_secret(tmp_path) == first
    assert _mode(tmp_path / SECRET_FILE) == 0o600
    assert "was readable by others (mode 0644)" in caplog.text


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir(), "is not a regular file"),
        (lambda p: p.symlink_to(p.with_name("elsewhere")), "cannot open secret file"),
    ],
)
def test_read_private_file_refuses_what_is_not_a_plain_file(
    tmp_path: Path, make: object, message: str
) -> None:
    path = tmp_path / "secret"
    make(path)  # type: ignore[operator]
    with pytest.raises(SecretError, match=message):
        read_private_file(path, 64, SecretError, "secret file")


def test_read_private_file_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_private_file(path, 10, SecretError, "f") == b"x" * 10
    assert read_private_file(tmp_path / "missing", 10, SecretError, "f") is None


# --- stability and races ---------------------------------------------------------------------


def test_secret_stable_across_calls_and_distinct_per_install(tmp_path: Path) -> None:
    a1 = load_or_create_secret(tmp_path / "install-a")
    a2 = load_or_create_secret(tmp_path / "install-a")
    b = load_or_create_secret(tmp_path / "install-b")
    assert a1 == a2
    assert a1 != b


def test_env_dir_is_the_default_for_the_secret(tmp_path: Path) -> None:
    load_or_create_secret()
    assert (tmp_path / "env-data" / SECRET_FILE).is_file()


def test_threads_racing_get_one_secret(tmp_path: Path) -> None:
    target = tmp_path / "race"
    barrier = threading.Barrier(8)
    results: list[bytes] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        value = load_or_create_secret(target)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert len(set(results)) == 1
    assert results[0] == (target / SECRET_FILE).read_bytes()
    assert sorted(p.name for p in target.iterdir()) == [SECRET_FILE]


def test_processes_racing_get_one_secret(tmp_path: Path) -> None:
    target = str(tmp_path / "race-proc")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(load_or_create_secret, [target] * 8)
    assert len(set(results)) == 1


# --- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"short", b"x" * (SECRET_SIZE + 1)], ids=["empty", "short", "long"]
)
def test_wrong_size_secret_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / SECRET_FILE).write_bytes(content)
    with pytest.raises(SecretError, match="delete it"):
        load_or_create_secret(tmp_path)
    # The bad file is left for the user to inspect, never silently replaced.
    assert (tmp_path / SECRET_FILE).read_bytes() == content


def test_secret_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).mkdir()
    with pytest.raises(SecretError):
        load_or_create_secret(tmp_path)


def test_secret_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.key"
    elsewhere.write_bytes(os.urandom(SECRET_SIZE))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / SECRET_FILE).symlink_to(elsewhere)
    with pytest.raises(SecretError):
        load_or_create_secret(tmp_path / "d")


def test_error_messages_never_contain_the_secret(tmp_path: Path) -> None:
    bad = os.urandom(SECRET_SIZE - 1)
    (tmp_path / SECRET_FILE).write_bytes(bad)
    with pytest.raises(SecretError) as info:
        load_or_create_secret(tmp_path)
    assert bad.hex() not in str(info.value)
    assert fs_secrets.SECRET_FILE in str(info.value)
