"""``--format json``: design.md's command-line contract, exactly."""
from __future__ import annotations

import json
from collections.abc import Mapping

from grader.model import GradeResult


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """The result as the contract's JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
