"""formshield's data directory and its per-install secret.

The data directory holds the audit store and the secret. It is, in order of precedence:
an explicit path given by the caller (a proxy option), the environment variable
``FORMSHIELD_DATA_DIR`` (tests and portable installs use it so they never touch the real
home), or ``platformdirs.user_data_dir("formshield")``. formshield creates it with mode
``0700``, because everything in it describes the user's browsing (an existing directory is
left as it is, with a warning if others can list it).

The secret is 32 random bytes (``os.urandom``) in ``<data dir>/secret.key``. It keys the
HMAC fingerprints of the audit store, so that the same leaked value can be counted across
records without being stored, and so that fingerprints from one install cannot be matched
against another's (or brute-forced from a list of phone numbers without the key).
It is written to a temporary file opened with ``O_CREAT | O_EXCL`` and mode ``0600`` (never
readable by others, not even for an instant) and then hard-linked into place, which fails
instead of overwriting when another process created the secret first: two processes
starting together end up with the same secret.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "formshield"
ENV_DATA_DIR = "FORMSHIELD_DATA_DIR"
SECRET_FILE = "secret.key"
SECRET_SIZE = 32
DIR_MODE = 0o700
FILE_MODE = 0o600

# os.O_NOFOLLOW / O_BINARY exist only on some platforms; 0 keeps the flags valid elsewhere.
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY


_LOOSE_FILE = "%s was readable by others (mode %04o); restricted to owner only"


class SecretError(RuntimeError):
    """The secret file exists but cannot be used (wrong size, unreadable, not a file)."""


def data_dir(override: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """Return formshield's data directory (see the module docstring for the precedence).

    With ``create`` (the default) the directory is created with mode ``0700`` (its parents
    with the default mode) and an existing one is tightened to ``0700``. ``OSError`` from
    creating it propagates: a proxy turns it into an option error.
    """
    if override is not None and str(override) != "":
        path = Path(override).expanduser()
    elif os.environ.get(ENV_DATA_DIR):
        path = Path(os.environ[ENV_DATA_DIR]).expanduser()
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME))
    if create:
        ensure_private_dir(path)
    return path


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) so that only the owner can enter it (POSIX ``0700``).

    A directory that already exists is never changed: it may be a home directory or a shared
    one like ``/tmp`` named by an option, and chmod-ing those would break other programs. If it
    is open to others, a warning says so; the secret and the database files are ``0600``
    themselves, so their contents stay private either way.
    """
    if path.is_dir():
        if os.name == "posix":
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                log.warning(
                    "data directory %s is mode %04o (others can list it); its files are 0600",
                    path, mode,
                )  # fmt: skip
        return
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        # mkdir's mode is filtered by the umask (0277 would leave it unwritable): set it exactly.
        path.chmod(DIR_MODE)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode ``0600`` if it does not exist (never loosens a file).

    SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file, so
    creating the database this way keeps all three private.
    """
    try:
        fd = os.open(path, _CREATE_FLAGS, FILE_MODE)
    except FileExistsError:
        _tighten(path)
        return
    os.close(fd)


def _tighten(path: Path) -> None:
    """Remove group/other permissions from an existing private file, with a warning."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
        log.warning(_LOOSE_FILE, path, mode)


def load_or_create_secret(directory: str | os.PathLike[str] | None = None) -> bytes:
    """Return the per-install secret, creating it on first use (see the module docstring).

    ``directory`` defaults to :func:`data_dir`. Raises :class:`SecretError` when the file
    exists with the wrong size (a truncated or foreign file): silently replacing it would
    make every earlier fingerprint unmatchable, so the user decides (delete it to start
    over). ``OSError`` from the file system propagates.
    """
    base = data_dir(directory)
    path = base / SECRET_FILE
    secret = _read_secret(path)
    if secret is not None:
        return secret
    _write_secret(base, path)
    secret = _read_secret(path)
    if secret is None:  # pragma: no cover - the file was just linked into place
        raise SecretError(f"secret file {path} vanished right after it was created")
    return secret


def _read_secret(path: Path) -> bytes | None:
    """Read an existing secret, or None when there is none yet."""
    data = read_private_file(path, SECRET_SIZE + 1, SecretError, "secret file")
    if data is not None and len(data) != SECRET_SIZE:
        raise SecretError(
            f"secret file {path} holds {len(data)} bytes, expected {SECRET_SIZE}; "
            "delete it to create a new secret (earlier audit fingerprints will no longer match)"
        )
    return data


def read_private_file(path: Path, limit: int, error: type[Exception], what: str) -> bytes | None:
    """Up to ``limit`` bytes of the private file ``path``, or None when it does not exist.

    The file is opened without following a symbolic link and must be a regular file; a file
    others may read is restricted to its owner first (never loosened), with a warning, through
    the open descriptor so that no other file can be swapped in between. Failures raise
    ``error`` with a message naming ``what`` and ``path``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"cannot open {what} {path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            os.fchmod(fd, mode & 0o700)
            log.warning(_LOOSE_FILE, path, mode)
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _write_secret(base: Path, path: Path) -> None:
    """Write a new secret at ``path`` unless one appeared meanwhile."""
    create_private_once(path, os.urandom(SECRET_SIZE))


def create_private_once(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) holding ``data``, atomically, unless it already exists.

    The bytes go to a private temporary file first, which is then hard-linked into place: the
    file is never visible half-written or with looser permissions, and when several processes
    race, the first link wins and everyone reads that one (a secret or token must be the same
    for all of them).
    """
    base = path.parent
    tmp = base / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, _CREATE_FLAGS, FILE_MODE)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, FILE_MODE)  # the umask can only remove bits; this is belt and braces
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process won the race: its file is the one everyone uses
        except OSError:
            # File systems without hard links: rename is atomic too, but it would overwrite a
            # file created meanwhile, so only do it when there is still none.
            if not path.exists():
                tmp.replace(path)
        _fsync_dir(base)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (POSIX): losing the secret orphans fingerprints."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the data itself is synced
    finally:
        os.close(fd)
