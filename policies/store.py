"""Keeping the running policy in step with its files, without ever running a broken one.

:class:`PolicyStore` loads a stack of files and, when polled with
:meth:`PolicyStore.reload_if_changed`, reloads it if any file changed. A change is noticed by
``(mtime_ns, size)``, then confirmed by a SHA-256 of the content (so ``touch`` does not reload);
an edit that leaves size and mtime alike within the file system's timestamp resolution is missed
until the next change. A broken edit never replaces the running policy: the last good one stays
in force and the error is returned and logged (once per broken content, not on every poll).

No mitmproxy here: the proxy addon calls :meth:`reload_if_changed` from its own timer or hook.
Optional files (the user file the browser extension writes) may be missing: they are skipped,
and picked up when they appear.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .engine import Policy
from .loader import PolicyFile, decode, parse_text
from .model import PolicyError

log = logging.getLogger(__name__)

# (mtime_ns, size) of a file, or None when it does not exist.
Stat = tuple[int, int] | None


class ReloadStatus(StrEnum):
    """Outcome of one :meth:`PolicyStore.reload_if_changed` call."""

    UNCHANGED = "unchanged"
    RELOADED = "reloaded"
    KEPT_LAST_GOOD = "kept-last-good"


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload did; ``error`` is set (and the old policy kept) when a file was broken."""

    status: ReloadStatus
    error: PolicyError | None = None
    changed_files: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.error is not None:
            return f"policy not reloaded, keeping the last good one: {self.error}"
        if self.status is ReloadStatus.RELOADED:
            return f"policy reloaded ({', '.join(self.changed_files)} changed)"
        return "policy unchanged"


class PolicyStore:
    """A policy stack loaded from ``paths`` (in layering order) that can reload itself.

    The constructor raises :class:`PolicyError` when the initial load fails: there is no last
    good policy to fall back on, and the caller (the addon's ``configure``) must refuse to start.
    Files in ``optional`` may be missing; every other file must exist.
    """

    def __init__(self, paths: Sequence[str | Path], *, optional: Collection[str | Path] = ()):
        self.paths: tuple[Path, ...] = tuple(Path(p) for p in paths)
        self._optional = {Path(p) for p in optional}
        self._stats: dict[Path, Stat] = {}
        self._hashes: dict[Path, str | None] = {}
        self._bad_digest: str | None = None
        self.last_error: PolicyError | None = None
        policy, stats, hashes = self._load()
        self._policy = policy
        self._stats, self._hashes = stats, hashes

    @property
    def policy(self) -> Policy:
        """The policy in force: the last stack that loaded without error."""
        return self._policy

    def reload_if_changed(self) -> ReloadResult:
        """Reload when a file's size/mtime changed and its content did too; cheap otherwise."""
        stats = {path: _stat(path) for path in self.paths}
        if stats == self._stats:
            return self._unchanged()
        hashes = {path: _digest(path) for path in self.paths}
        if hashes == self._hashes:
            # Touched, not edited; or a broken edit was undone: the files are again exactly the
            # ones the running policy came from.
            self._stats = stats
            self.last_error = None
            self._bad_digest = None
            return self._unchanged()
        return self._reload(hashes)

    def reload(self) -> ReloadResult:
        """Reload now, whatever the stats say (e.g. on an explicit user request)."""
        return self._reload({path: _digest(path) for path in self.paths})

    def _unchanged(self) -> ReloadResult:
        if self.last_error is not None:
            return ReloadResult(ReloadStatus.KEPT_LAST_GOOD, self.last_error)
        return ReloadResult(ReloadStatus.UNCHANGED)

    def _reload(self, hashes: dict[Path, str | None]) -> ReloadResult:
        changed = tuple(str(p) for p in self.paths if hashes.get(p) != self._hashes.get(p))
        try:
            policy, stats, new_hashes = self._load()
        except PolicyError as exc:
            digest = "|".join(str(hashes.get(p)) for p in self.paths)
            if digest != self._bad_digest:
                log.warning("policy not reloaded, keeping the last good one: %s", exc)
                self._bad_digest = digest
            self.last_error = exc
            # Remember the broken state's stats so the next poll is cheap; a fix changes them.
            self._stats = {path: _stat(path) for path in self.paths}
            return ReloadResult(ReloadStatus.KEPT_LAST_GOOD, exc, changed)
        self._policy = policy
        self._stats, self._hashes = stats, new_hashes
        self.last_error = None
        self._bad_digest = None
        log.info("policy reloaded from %s", ", ".join(str(p) for p in self.paths))
        return ReloadResult(ReloadStatus.RELOADED, None, changed)

    def _load(self) -> tuple[Policy, dict[Path, Stat], dict[Path, str | None]]:
        """Read every file once (stat, bytes, hash and parse from the same read)."""
        files: list[PolicyFile] = []
        stats: dict[Path, Stat] = {}
        hashes: dict[Path, str | None] = {}
        for path in self.paths:
            stats[path] = _stat(path)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                if path in self._optional:
                    hashes[path] = None
                    continue
                raise PolicyError(path, None, "policy file not found") from None
            except OSError as exc:
                raise PolicyError(path, None, f"cannot read policy file: {exc.strerror}") from None
            hashes[path] = hashlib.sha256(data).hexdigest()
            policy_file, errors = parse_text(decode(data, path), path)
            if errors:
                raise errors[0]
            assert policy_file is not None
            files.append(policy_file)
        return Policy(files), stats, hashes


def _stat(path: Path) -> Stat:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
