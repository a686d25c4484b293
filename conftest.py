"""Instructor-only pytest setup (never published to students).

``pytest tests/04 assignments/04 --against solutions`` runs an assignment's
hidden and public tests straight against the reference solution (or, with
``--against assignments``, the stubs), for quick work on a test. The grader
does the same in isolation; this is only the fast path while writing tests.
Without ``--against``, the hidden suites under ``tests/NN`` are not collected:
the course's own test suite grades them through the grader instead.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--against",
        choices=["solutions", "assignments"],
        default=None,
        help="import each assignment's module from solutions/NN or assignments/NN",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    hidden_suite = collection_path.parent == ROOT / "tests" and collection_path.name.isdigit()
    if hidden_suite and config.getoption("against") is None:
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    against = config.getoption("against")
    if against is None:
        return
    from grader.manifest import load_manifest

    for assignment in load_manifest(ROOT).assignments:
        path = ROOT / against / assignment.id / assignment.module
        if not path.is_file():
            continue
        spec = importlib.util.spec_from_file_location(assignment.module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[assignment.module_name] = module
        spec.loader.exec_module(module)
