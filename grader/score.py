"""Score: the catalog's tests, the child's outcomes, and the feedback a student reads.

A test earns its points only when the child reported it passed in its call
phase and nothing in its setup or teardown failed. A test that never
reported (the process crashed, exited or was killed) earns nothing and says
why. Reports about tests the catalog does not list are ignored.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from coursekit import hints
from grader.catalog import Entry
from grader.manifest import Assignment, Limits
from grader.model import AssignmentResult, Outcome, TestResult
from grader.redact import HiddenText
from grader.run import MAX_REPORT_BYTES, RunOutput

SIGNAL_NAMES = {-9: "SIGKILL", -11: "SIGSEGV", -6: "SIGABRT", -25: "SIGXFSZ"}


def _round(value: float) -> float:
    return round(value, 2)


def _ungraded(assignment: Assignment, max_score: float) -> float:
    """The assignment's points that no test of this run could earn: its hidden tests, when they were not available."""
    return _round(max(0.0, assignment.points - max_score))


def missing(assignment: Assignment, entries: list[Entry], problem: str | None,
            hint: str | None = None) -> AssignmentResult:
    """An assignment with no gradable file: nothing earned, everything still counted; ``hint`` (find's) names
    the files found instead of a missing one."""
    max_score = _round(sum(e.points for e in entries))
    if problem:
        return AssignmentResult(assignment.id, assignment.title, 0.0, max_score, "error", problem,
                                ungraded_points=_ungraded(assignment, max_score))
    message = f"not submitted: expected assignments/{assignment.id}/{assignment.module}"
    if hint:
        message += f"; {hint}"
    return AssignmentResult(assignment.id, assignment.title, 0.0, max_score, "missing", message,
                            ungraded_points=_ungraded(assignment, max_score))


def tampered(assignment: Assignment, entries: list[Entry], altered: list[str]) -> AssignmentResult:
    """An assignment whose code changed the tests it was graded by: nothing earned, whatever they said."""
    return _void(assignment, entries, f"your code changed the tests it was graded by ({len(altered)} file(s)), "
                                      "so none of their results count; graded code may write only its own "
                                      "temporary files")


def _void(assignment: Assignment, entries: list[Entry], message: str) -> AssignmentResult:
    """Every test listed, none earning: the run's results cannot be trusted."""
    tests = tuple(TestResult(e.name, e.visibility, "error", 0.0, float(e.points),
                             _feedback(e, "error", "not graded: " + message, None)) for e in entries)
    max_score = _round(sum(e.points for e in entries))
    return AssignmentResult(assignment.id, assignment.title, 0.0, max_score, "void", message, tests,
                            _ungraded(assignment, max_score), flags=(message,))


def output_exceeded(limits: Limits) -> str:
    """What a student reads when the run printed past output_kb (the grader then ended it)."""
    return (f"your code printed more than {limits.output_kb} KB (standard output and error together), past the "
            f"course's limit (output_kb = {limits.output_kb} in course.toml), so its process was ended: is "
            "something printing or logging in a loop?")


def disk_exceeded(limits: Limits, what: str = 'the write failed with "File too large"') -> str:
    """What a student reads when the run wrote a file past disk_mb, and ``what`` happened then."""
    return (f"your code wrote a file larger than {limits.disk_mb} MB, past the course's limit "
            f"(disk_mb = {limits.disk_mb} in course.toml), and {what}")


@dataclass(frozen=True)
class End:
    """How a child process ended abnormally: what the student reads, and whether time ran out."""

    message: str
    timed_out: bool = False


def process_end(run: RunOutput, limits: Limits, *, complete: bool, finished: bool = True,
                stuck: str | None = None) -> End | None:
    """Why the child ended abnormally; None for a normal end.

    ``complete`` says every catalog test reported to its teardown, and
    ``finished`` that pytest reported its own end: a process that exits with
    pytest's own status without both was ended by the code. ``stuck`` is the
    test the watchdog ended the process in, if it did.
    """
    if stuck is not None:
        return End(f"{stuck.rpartition('::')[2]} ran past {2 * limits.test_timeout + 1:g} s of real time and would "
                   "not stop, so its process was ended: does your code swallow CancelledError, ignore signals or "
                   f"keep the loop busy? {hints.SWALLOWED_CANCEL}", timed_out=True)
    if run.watchdog_fired and not any(r.get("kind") == "imported" for r in run.records):
        return End(f"importing your module ran past {2 * limits.test_timeout + 1:g} s of real time, so its process "
                   "was ended before any test ran: does your module sleep, wait or loop when it is imported? Do "
                   "that work in a function the tests call, or under if __name__ == \"__main__\":", timed_out=True)
    if run.killed:
        return End(f"the tests were stopped after {limits.assignment_timeout:g} s of real time: "
                   f"is something blocking the loop or spinning? {hints.TIMED_OUT}", timed_out=True)
    if run.output_exceeded:
        return End(output_exceeded(limits))
    if run.report_exceeded:
        return End(f"your code wrote more than {MAX_REPORT_BYTES // (1024 * 1024)} MB into the grader's record of "
                   "this run's outcomes (a run's own outcomes take a few KB), so its process was ended: graded code "
                   "may write only its own temporary files")
    code = run.returncode
    if code == -25:
        return End(disk_exceeded(limits, "its process was killed by SIGXFSZ"))
    if code is not None and code < 0:
        name = SIGNAL_NAMES.get(code, f"signal {-code}")
        return End(f"the test process was killed by {name} (memory limit {limits.memory_mb} MB, or a crash)")
    if code in (0, 1) and complete:
        return None  # pytest's own codes: all passed / some failed
    if finished and code == 3:
        return End("pytest stopped with an internal error while running your code (a task or coroutine "
                   f"left behind can cause it: {hints.LEFT_RUNNING})")
    if finished and code == 2:
        return End("the test run was interrupted: does your code raise KeyboardInterrupt or send signals?")
    return End(f"the test process exited early with status {code}: does your code call sys.exit or os._exit?")


def needs_resume(run: RunOutput, entries: list[Entry], reported: set[str]) -> bool:
    """Whether to run the tests that never started in a new process: this one ended early, by the code's doing."""
    kinds = {r.get("kind") for r in run.records}
    if kinds & {"module_error", "tampered"} or "finished" in kinds:
        return False
    return any(e.nodeid not in reported for e in entries)


def started_in(run: RunOutput) -> set[str]:
    """The tests a run started."""
    return {str(r.get("nodeid")) for r in run.records if r.get("kind") == "start"}


def grade_run(assignment: Assignment, entries: list[Entry], runs: list[RunOutput], limits: Limits,
              hidden: HiddenText | None = None) -> AssignmentResult:
    """Score one assignment from its catalog entries and the records of its runs.

    Usually one run; when a process ended early (a crash, an exit, a test
    that would not stop), the tests it never started ran in the next one.
    Every message in the records came from a process running student code:
    with ``hidden``, one quoting a hidden test is withheld.
    """
    per_run = [_redacted(run.records, hidden) for run in runs]
    records = [record for run_records in per_run for record in run_records]
    phases: dict[str, list[dict[str, Any]]] = defaultdict(list)
    started: set[str] = set()
    module_error: dict[str, Any] | None = None
    tampering: str | None = None
    refusals: list[str] = []
    for record in records:
        kind = record.get("kind")
        if kind == "module_error" and module_error is None:
            module_error = record
        elif kind == "tampered" and tampering is None:
            tampering = str(record.get("message"))
        elif kind == "refused" and len(refusals) < 3:
            refusals.append(str(record.get("message")))
        elif kind == "start":
            started.add(str(record.get("nodeid")))
        elif kind == "phase":
            phases[str(record.get("nodeid"))].append(record)

    if tampering:
        return _void(assignment, entries, f"{tampering}: the tests need the real ones, so none of their results "
                                          "count")
    ended_for, ends = _ends(entries, runs, per_run, limits)
    broken_module = _module_problem(module_error)
    tests = []
    for entry in entries:
        outcome, detail, hint = _outcome(phases.get(entry.nodeid, []), entry.nodeid in started,
                                         ended_for.get(entry.nodeid), broken_module, limits)
        score = float(entry.points) if outcome == "passed" else 0.0
        tests.append(TestResult(entry.name, entry.visibility, outcome, _round(score),
                                float(entry.points), _feedback(entry, outcome, detail, hint)))

    score = _round(sum(t.score for t in tests))
    max_score = _round(sum(t.max_score for t in tests))
    passed = sum(1 for t in tests if t.outcome == "passed")
    # What graded code tried that the grader refuses: scored as usual, and held for a person to review.
    flags = tuple(dict.fromkeys(refusals))
    if broken_module:
        return AssignmentResult(assignment.id, assignment.title, score, max_score, "error", broken_module, tuple(tests),
                                _ungraded(assignment, max_score), flags)
    message = f"{passed}/{len(tests)} tests passed"
    if ends:
        message += f"; {ends[0]}"
    if len(runs) > 1:
        message += f" (the tests after it ran in {len(runs) - 1} new process{'es' if len(runs) > 2 else ''})"
    if flags:
        message += f"; {'; '.join(flags)}"
    return AssignmentResult(assignment.id, assignment.title, score, max_score, "flagged" if flags else "graded",
                            message, tuple(tests), _ungraded(assignment, max_score), flags)


def _redacted(records: list[dict[str, Any]], hidden: HiddenText | None) -> list[dict[str, Any]]:
    if hidden is None:
        return records
    return [{**r, "message": hidden.redact(str(r["message"]))} if "message" in r else r for r in records]


def _ends(entries: list[Entry], runs: list[RunOutput], per_run: list[list[dict[str, Any]]],
          limits: Limits) -> tuple[dict[str, End | None], list[str]]:
    """How each run ended, for each test the run it started in (or the last), and every abnormal end."""
    ended_for: dict[str, End | None] = {}
    ends: list[str] = []
    pending = [e.nodeid for e in entries]
    for run, run_records in zip(runs, per_run):
        torn_down = {str(r.get("nodeid")) for r in run_records if r.get("kind") == "phase" and r.get("when") == "teardown"}
        run_started = [str(r.get("nodeid")) for r in run_records if r.get("kind") == "start"]
        stuck = next((n for n in reversed(run_started) if n not in torn_down), None) if run.watchdog_fired else None
        end = process_end(run, limits, complete=all(n in torn_down for n in pending),
                          finished=any(r.get("kind") == "finished" for r in run_records), stuck=stuck)
        if end:
            ends.append(end.message)
        for nodeid in pending:
            ended_for[nodeid] = end
        pending = [n for n in pending if n not in run_started]
    return ended_for, ends


def _module_problem(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    where = f" at {record['where']}" if record.get("where") else ""
    return f"your module could not be imported: {record.get('type')}{where}: {record.get('message')}"


def _outcome(records: list[dict[str, Any]], started: bool, ended: End | None,
             broken_module: str | None, limits: Limits) -> tuple[Outcome, str, str | None]:
    """The outcome of one test, what happened in words, and a hint for a usual mistake."""
    failure = next((r for r in records if r.get("outcome") == "failed"), None)
    if failure is not None:
        if _is_timeout(failure):
            return "timeout", f"your code ran past {limits.test_timeout:g} s in this test.", hints.TIMED_OUT
        if "File too large" in str(failure.get("message", "")):
            return ("failed" if failure.get("when") == "call" else "error",
                    f"{disk_exceeded(limits)} ({_describe(failure)})", None)
        # A later phase may know more: the plugin's teardown reports a blocking call the code swallowed.
        failures = [failure, *(r for r in records if r.get("outcome") == "failed" and r is not failure)]
        hint = next((h for r in failures if (h := hints.hint_for(str(r.get("type")), str(r.get("message", ""))))),
                    None)
        return ("failed" if failure.get("when") == "call" else "error"), _describe(failure), hint
    if any(r.get("outcome") == "skipped" for r in records):
        return "skipped", "the test was skipped, so it earns nothing", None
    passed_call = any(r.get("when") == "call" and r.get("outcome") == "passed" for r in records)
    if passed_call and any(r.get("when") == "teardown" for r in records):
        return "passed", "", None
    if broken_module:
        return "error", broken_module, None
    if started and ended and ended.timed_out:
        return "timeout", ended.message, None
    if ended:
        return "error", ("this test did not finish: " if started else "this test never ran: ") + ended.message, None
    return "error", "this test never reported a result", None


def _is_timeout(record: dict[str, Any]) -> bool:
    # pytest-timeout's failure, or a judged call the student process ended at its time limit.
    return record.get("type") in ("Failed", "CallTimedOut") and str(record.get("message", "")).startswith("Timeout")


def _describe(record: dict[str, Any]) -> str:
    kind, message, where = record.get("type", "Error"), record.get("message", ""), record.get("where")
    if where:
        text = f"Your code raised {kind} at {where}"
        return f"{text}: {message}" if message else text
    # The judge's own failures (coursekit.judge) are sentences for the student, as an assertion's message is: the
    # class names are the course's jargon.
    if kind in ("AssertionError", "Failed", "CallExited", "StudentGone"):  # Failed: the test's pytest.fail(...)
        return message or "a check failed"
    return hints.describe_parts(str(kind), str(message))


def _feedback(entry: Entry, outcome: Outcome, detail: str, hint: str | None) -> str:
    expected = entry.doc or entry.name.replace("_", " ")
    if outcome == "passed":
        return expected
    lines = [f"Expected: {expected}", detail]
    if hint and hint not in detail:
        lines.append(f"Hint: {hint}")
    return "\n".join(line for line in lines if line)
