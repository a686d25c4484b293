"""Stub generation: every nbgrader solution region becomes nbgrader's default stub."""
from __future__ import annotations

import re
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import Manifest

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<kind>BEGIN|END) SOLUTION\s*$")


def make_stub(source: str, *, name: str = "<source>") -> str:
    """Replace each marked solution region of ``source`` with ``raise NotImplementedError()``.

    The stub keeps the region's indentation, so it stays valid Python in a
    function body or a method. Unbalanced or nested markers are an error.
    """
    out: list[str] = []
    open_at: int | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _MARKER.match(line)
        if match is None:
            if open_at is None:
                out.append(line)
            continue
        if match["kind"] == "BEGIN":
            if open_at is not None:
                raise UsageError(f"{name}:{number}: nested {BEGIN} (the one at line {open_at} is still open)")
            open_at = number
            indent = match["indent"]
            out.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n")
        else:
            if open_at is None:
                raise UsageError(f"{name}:{number}: {END} without a {BEGIN}")
            open_at = None
    if open_at is not None:
        raise UsageError(f"{name}:{open_at}: {BEGIN} is never closed")
    return "".join(out)


def stub_pairs(manifest: Manifest) -> list[tuple[Path, Path]]:
    """(solution, stub) paths for every assignment of the course."""
    root = manifest.root
    return [
        (root / "solutions" / a.id / a.module, root / "assignments" / a.id / a.module)
        for a in manifest.assignments
    ]


def _expected(solution: Path) -> str:
    if not solution.is_file():
        raise UsageError(f"missing reference solution {solution}")
    return make_stub(solution.read_text(encoding="utf-8"), name=str(solution))


def stale_stubs(manifest: Manifest) -> list[Path]:
    """Stubs that are missing or differ from what their solutions generate."""
    stale = []
    for solution, stub in stub_pairs(manifest):
        expected = _expected(solution)
        if not stub.is_file() or stub.read_text(encoding="utf-8") != expected:
            stale.append(stub)
    return stale


def write_stubs(manifest: Manifest) -> list[Path]:
    """Regenerate every stub from its solution; returns the stubs that changed."""
    changed = []
    for solution, stub in stub_pairs(manifest):
        expected = _expected(solution)
        if not stub.is_file() or stub.read_text(encoding="utf-8") != expected:
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text(expected, encoding="utf-8")
            changed.append(stub)
    return changed
