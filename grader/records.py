"""Records the grader trusts on a later run: sealed with an HMAC whose key lives outside every results folder.

``batch`` skips a student whose earlier result it can prove it wrote itself,
and the catalog cache is used only when its seal is good: a file anyone else
wrote (student code that reached the results folder, a hand edit) has no
valid seal, so it is recomputed instead of trusted.

The key is 32 random bytes in a file of the instructor's: ``--key FILE``,
else ``$GRADER_KEY_FILE``, else ``$XDG_STATE_HOME/asyncio-course-grader/
results.key`` (``~/.local/state/...`` by default). It is created on first
use with mode 0600 in a 0700 folder; a key file that others may read or write
is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from grader.errors import UsageError

KEY_BYTES = 32
KEY_ENV = "GRADER_KEY_FILE"
SEAL = "seal"


def default_key_path() -> Path:
    """Where the key lives when no path is given."""
    named = os.environ.get(KEY_ENV)
    if named:
        return Path(named).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "asyncio-course-grader" / "results.key"


class Key:
    """The secret that seals records; never written into any results folder."""

    def __init__(self, secret: bytes, path: Path) -> None:
        self._secret = secret
        self.path = path

    def seal(self, purpose: str, data: Any) -> str:
        """The HMAC-SHA256 of ``data`` (JSON-able) for one purpose, so a seal never fits another kind of file."""
        message = json.dumps([purpose, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, purpose: str, data: Any, seal: object) -> bool:
        """Whether ``seal`` is this key's seal of ``data``."""
        return isinstance(seal, str) and hmac.compare_digest(self.seal(purpose, data), seal)

    def sealed(self, purpose: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with its seal added under ``"seal"``."""
        body = {k: v for k, v in record.items() if k != SEAL}
        return {**body, SEAL: self.seal(purpose, body)}

    def opened(self, purpose: str, record: object) -> dict[str, Any] | None:
        """The record without its seal when the seal is good; None for anything else."""
        if not isinstance(record, dict):
            return None
        body = {k: v for k, v in record.items() if k != SEAL}
        return body if self.verify(purpose, body, record.get(SEAL)) else None


def load_key(path: Path | None = None, *, create: bool = True) -> Key:
    """The key at ``path`` (default_key_path() when None), created on first use; UsageError when unusable."""
    path = path if path is not None else default_key_path()
    try:
        if create and not path.exists():
            _create(path)
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise UsageError(f"key file {path} may be read or written by others (mode "
                             f"{stat.S_IMODE(info.st_mode):o}): chmod 600 it, or delete it to start afresh")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise UsageError(f"key file {path} belongs to another user")
        secret = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot use the results key {path}: {exc.strerror or exc}") from None
    if len(secret) < KEY_BYTES:
        raise UsageError(f"key file {path} is too short to be a key: delete it to start afresh")
    return Key(secret, path)


def try_key(path: Path | None = None) -> Key | None:
    """The key, or None where it cannot be had (a read-only home): callers then trust nothing from disk."""
    try:
        return load_key(path)
    except UsageError:
        return None


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
        # A link, not a rename: it fails when another grader made the key first, and the key is whole when seen.
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
