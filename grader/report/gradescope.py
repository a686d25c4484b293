"""``--format gradescope``: Gradescope's ``results.json``."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from grader.model import GradeResult
from grader.report.wording import public_only_note

# Hidden tests stay hidden on Gradescope too; public ones are visible at once.
VISIBILITY = {"public": "visible", "hidden": "hidden"}


def payload(result: GradeResult) -> dict[str, Any]:
    """The results.json document."""
    tests = []
    for a in result.assignments:
        for t in a.tests:
            tests.append({
                "name": f"{a.id} {t.name}",
                "score": t.score,
                "max_score": t.max_score,
                "status": "passed" if t.outcome == "passed" else "failed",
                "output": t.feedback,
                "visibility": VISIBILITY[t.visibility],
            })
    summary = "; ".join(f"{a.id}: {a.score:g}/{a.max_score:g} ({a.message})" for a in result.assignments)
    if result.ungraded_points:
        summary = f"Public tests only: {public_only_note(result)}\n{summary}"
    return {
        "score": result.score,
        "execution_time": round(result.duration),
        "output": summary,
        "tests": tests,
    }


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """results.json as text."""
    return json.dumps(payload(result), indent=2, ensure_ascii=False) + "\n"
