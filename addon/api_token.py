"""The extension API's bearer token: ``<data dir>/api-token``, created on first use.

Format: 32 random bytes (``secrets.token_bytes``) in URL-safe base64 without padding (43 ASCII
characters), on one line. The file is created with mode ``0600`` through a temporary file opened
with ``O_CREAT | O_EXCL`` and hard-linked into place, like the audit secret
(:mod:`addon.secrets`): never readable by others, and two processes starting together end up
with the same token. A token file that is not a token (truncated, edited) raises
:class:`TokenError` instead of being replaced: the paired extension would silently stop working.
Delete the file and pair again to rotate the token.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

from addon.secrets import create_private_once, data_dir, read_private_file

TOKEN_FILE = "api-token"
TOKEN_BYTES = 32
FILE_MODE = 0o600
# URL-safe base64 of 32 bytes, unpadded. Anything else in the file is not our token.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


class TokenError(RuntimeError):
    """The token file exists but holds no usable token, or cannot be read."""


def token_path(directory: str | os.PathLike[str] | None = None) -> Path:
    """``<data dir>/api-token`` (the data directory is created if missing)."""
    return data_dir(directory) / TOKEN_FILE


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()


def load_or_create_token(directory: str | os.PathLike[str] | None = None) -> str:
    """The API token, creating ``<data dir>/api-token`` (mode 0600) when there is none.

    Raises :class:`TokenError` for a file that holds something else, ``OSError`` when the data
    directory cannot be written.
    """
    path = token_path(directory)
    token = _read(path)
    if token is not None:
        return token
    _create(path)
    token = _read(path)
    if token is None:  # pragma: no cover - linked into place just above
        raise TokenError(f"token file {path} vanished right after it was created")
    return token


def _read(path: Path) -> str | None:
    data = read_private_file(path, 256, TokenError, "token file")
    if data is None:
        return None
    text = data.decode("ascii", errors="replace").strip()
    if not _TOKEN_RE.fullmatch(text):
        raise TokenError(
            f"token file {path} does not hold a formshield API token; delete it and run "
            "`formshield pair` again"
        )
    return text


def _create(path: Path) -> None:
    create_private_once(path, (new_token() + "\n").encode("ascii"))
