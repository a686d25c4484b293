"""Fixtures of the platform tests: the course published once for all of them."""
from __future__ import annotations

from pathlib import Path

import pytest

from repo_support import publish_course


@pytest.fixture(scope="session")
def published_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m grader publish --out OUT`` as an instructor runs it; OUT."""
    return publish_course(tmp_path_factory)
