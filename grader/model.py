"""The one result model. Every output format renders these objects and nothing else."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Visibility = Literal["public", "hidden"]
Outcome = Literal["passed", "failed", "error", "timeout", "skipped"]
# "void": the integrity screen found the results cannot be trusted (nothing earned); "flagged": scored, and held
# for a person to review (graded code tried something the grader refuses). Both carry their findings in ``flags``.
Status = Literal["graded", "missing", "error", "void", "flagged"]


@dataclass(frozen=True)
class TestResult:
    """One graded test: what it is worth, what happened, and what the student is told."""

    name: str
    visibility: Visibility
    outcome: Outcome
    score: float
    max_score: float
    feedback: str


@dataclass(frozen=True)
class AssignmentResult:
    """One assignment of one submission."""

    id: str
    title: str
    score: float
    max_score: float
    status: Status
    message: str
    tests: tuple[TestResult, ...] = ()
    # Points of the assignment this run could not grade: its hidden tests, when they were not available.
    ungraded_points: float = 0.0
    flags: tuple[str, ...] = ()  # integrity findings for a person to review; empty when clean

    @property
    def passed(self) -> int:
        """Number of tests passed."""
        return sum(1 for t in self.tests if t.outcome == "passed")


@dataclass(frozen=True)
class GradeResult:
    """A whole submission: the score over every assignment graded."""

    assignments: tuple[AssignmentResult, ...]
    hidden_tests_included: bool
    duration: float = field(default=0.0, compare=False)
    # Whether every run was inside the OS sandbox (grader/sandbox.py). False unless the grader knows it was:
    # an unsandboxed result is no grade of record, and every output says so.
    sandboxed: bool = field(default=False, compare=False)

    @property
    def score(self) -> float:
        """Points earned over all assignments."""
        return round(sum(a.score for a in self.assignments), 2)

    @property
    def max_score(self) -> float:
        """Points available over all assignments."""
        return round(sum(a.max_score for a in self.assignments), 2)

    @property
    def ungraded_points(self) -> float:
        """Points no test of this run could earn: hidden tests that were not available (0 when they were)."""
        return round(sum(a.ungraded_points for a in self.assignments), 2)

    def score_text(self) -> str:
        """The score in one line: ``"250/300"``, or from public tests alone ``"33/33 on the public tests; hidden
        tests worth 67 more points were not run (the full score is out of 100)"``, so it never reads as full marks."""
        text = f"{self.score:g}/{self.max_score:g}"
        if self.ungraded_points:
            text += (f" on the public tests; hidden tests worth {self.ungraded_points:g} more points were not run "
                     f"(the full score is out of {self.max_score + self.ungraded_points:g})")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, hidden_tests_included: bool | None = None) -> GradeResult:
        """Rebuild a result from its JSON shape; KeyError/TypeError/ValueError when it is not one."""
        assignments = tuple(
            AssignmentResult(
                id=str(a["id"]), title=str(a["title"]), score=float(a["score"]),
                max_score=float(a["max_score"]), status=a["status"], message=str(a["message"]),
                tests=tuple(TestResult(**t) for t in a["tests"]),
                ungraded_points=float(a.get("ungraded_points", 0.0)),
                flags=tuple(str(f) for f in a.get("flags", ())),
            )
            for a in data["assignments"]
        )
        if hidden_tests_included is None:
            hidden_tests_included = any(t.visibility == "hidden" for a in assignments for t in a.tests)
        # Files written before the field existed came from unsandboxed runs.
        sandboxed = data.get("sandboxed", False)
        if not isinstance(sandboxed, bool):
            raise TypeError(f"sandboxed is {type(sandboxed).__name__}, not a bool")
        return cls(assignments, hidden_tests_included, sandboxed=sandboxed)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of design.md's command-line contract."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "ungraded_points": self.ungraded_points,
            "sandboxed": self.sandboxed,
            "assignments": [
                {
                    "id": a.id,
                    "title": a.title,
                    "score": a.score,
                    "max_score": a.max_score,
                    "status": a.status,
                    "message": a.message,
                    "tests": [asdict(t) for t in a.tests],
                    "ungraded_points": a.ungraded_points,
                    "flags": list(a.flags),
                }
                for a in self.assignments
            ],
        }
