"""Writing a file so that a reader sees the old one or the whole new one, never half of it.

The project's one atomic writer: results, summaries, grades.csv, platform
documents and reports all go through :func:`write_atomic`. Standard library only.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a new temporary file beside ``path``, then rename it into place.

    The temporary name is this process's and thread's own, so concurrent
    writers never share one, and it is created anew and exclusively, so nothing
    is ever written through a link someone left under that name. The data reaches the
    disk before the name points at it; on any failure the temporary file is
    removed and ``path`` is untouched.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    partial.unlink(missing_ok=True)  # left by a writer killed mid-write, or a link planted there: never followed
    try:
        with partial.open("x", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except BaseException:
        if partial.is_file() and not partial.is_symlink():
            partial.unlink(missing_ok=True)
        raise
