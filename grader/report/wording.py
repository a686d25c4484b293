"""Sentences more than one output format shows, worded once, and the words of the grader's own messages.

Every text here is English and marked with ``N_`` (coursekit.i18n): the
renderers show it in the active language. The templates below are the
English the scoring writes into a result (grader/score.py); ``localize``
recognises a message by its template and re-words it, so the stored result
stays English while a student reads their own language.
tests/course/test_messages_i18n.py fails when score.py writes a message that
no template here recognises.
"""
from __future__ import annotations

from coursekit.i18n import N_, _
from grader.model import GradeResult

# What each status of an assignment is called (the JSON keeps the English key).
STATUS = {
    "graded": N_("graded"),
    "missing": N_("missing"),
    "error": N_("error"),
    "void": N_("void"),
    "flagged": N_("flagged"),
}
# What each outcome of a test is called, and whether it is a public or a hidden test.
OUTCOME = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "error": N_("error"),
    "timeout": N_("timeout"),
    "skipped": N_("skipped"),
}
VISIBILITY = {"public": N_("public"), "hidden": N_("hidden")}


def word(table: dict[str, str], key: str) -> str:
    """The active language's word for ``key`` of ``table``; an unknown key (a newer status) as it is."""
    return _(table[key]) if key in table else key


PUBLIC_ONLY_NOTE = N_(
    "{graded} is the score of the public tests alone. The hidden tests, worth {ungraded} more points, were not run "
    "here: they are graded when your instructor grades your submission, so the full score is out of {total} and "
    "this is not your grade."
)


def public_only_note(result: GradeResult) -> str:
    """What a score from public tests alone is out of, and what is left to grade.

    "33/33" alone reads as full marks; the hidden tests are usually worth the
    larger part of each assignment.
    """
    return _(PUBLIC_ONLY_NOTE).format(graded=f"{result.score:g}/{result.max_score:g}",
                                      ungraded=f"{result.ungraded_points:g}",
                                      total=f"{result.max_score + result.ungraded_points:g}")


# Ends a sentence made of a clause above ("。" in Chinese).
FULL_STOP = N_(".")
NOT_SANDBOXED = N_("the graded code ran without the operating-system sandbox (bubblewrap), so this result is no "
                   "grade of record")
# An assignment the integrity screen flagged (status "flagged"): scored, and held for a person to review.
FLAGGED = N_("your code tried something the grader refuses, named under its assignment below; its score counts "
             "only once your instructor has reviewed it")

# The feedback of one test (score._feedback, score._describe, score._outcome).
N_("Expected: {expected}")
N_("Hint: {hint}")
N_("Your code raised {kind} at {where}")
N_("Your code raised {kind} at {where}: {message}")
N_("a check failed")
N_("your code ran past {seconds} s in this test.")
N_("the test was skipped, so it earns nothing")
N_("this test did not finish: {end}")
N_("this test never ran: {end}")
N_("this test never reported a result")
N_("not graded: {reason}")
N_("your code wrote a file larger than {mb} MB, past the course's limit (disk_mb = {mb} in course.toml), and "
   "{what} ({failure})")
# An assignment's message (score.grade_run, score.missing, score.tampered, score._module_problem).
N_("{passed}/{total} tests passed")
N_("{passed}/{total} tests passed; {detail}")
N_("{message} (the tests after it ran in {count} new process)")
N_("{message} (the tests after it ran in {count} new processes)")
N_("not submitted: expected assignments/{id}/{module}")
N_("not submitted: expected assignments/{id}/{module}; {hint}")
N_("your module could not be imported: {kind}: {message}")
N_("your module could not be imported: {kind} at {where}: {message}")
N_("your code changed the tests it was graded by ({count} file(s)), so none of their results count; graded code "
   "may write only its own temporary files")
N_("{tampering}: the tests need the real ones, so none of their results count")
# How a test process ended (score.process_end, score.output_exceeded, score.disk_exceeded).
N_("{test} ran past {seconds} s of real time and would not stop, so its process was ended: does your code swallow "
   "CancelledError, ignore signals or keep the loop busy? {hint}")
N_("importing your module ran past {seconds} s of real time, so its process was ended before any test ran: does "
   "your module sleep, wait or loop when it is imported? Do that work in a function the tests call, or under if "
   "__name__ == \"__main__\":")
N_("the tests were stopped after {seconds} s of real time: is something blocking the loop or spinning? {hint}")
N_("your code printed more than {kb} KB (standard output and error together), past the course's limit (output_kb "
   "= {kb} in course.toml), so its process was ended: is something printing or logging in a loop?")
N_("your code wrote a file larger than {mb} MB, past the course's limit (disk_mb = {mb} in course.toml), and "
   "{what}")
N_("the write failed with \"File too large\"")
N_("its process was killed by SIGXFSZ")
N_("your code wrote more than {mb} MB into the grader's record of this run's outcomes (a run's own outcomes take a "
   "few KB), so its process was ended: graded code may write only its own temporary files")
N_("the test process was killed by {signal} (memory limit {mb} MB, or a crash)")
N_("pytest stopped with an internal error while running your code (a task or coroutine left behind can cause it: "
   "{hint})")
N_("the test run was interrupted: does your code raise KeyboardInterrupt or send signals?")
N_("the test process exited early with status {code}: does your code call sys.exit or os._exit?")
# What the guard refuses (grader/guard.py, ``_refuse``): "the grader does not allow " and what it refused. The guard
# runs inside the graded process, where nothing is translated; these re-word its messages when they are shown.
N_("the grader does not allow {what}")
N_("starting a program ({event})")
N_("using ctypes")
N_("importing {module}")
N_("making or replacing code objects")
N_("reading the course's own files (tests, solutions)")
N_("{verb} {what}: graded code may write only its own temporary files (tmp_path, tempfile)")
N_("writing")
N_("changing")
N_("a test file")
N_("signalling another process ({event} {target})")
N_("connecting to a local socket")
N_("network access to {host} (only loopback, 127.0.0.1, is reachable)")
N_("network connections in this assignment (its tests need none)")
N_("looking up {name} (only localhost is reachable)")
# How many of an assignment's tests passed, as a label of its own (the classroom formats' names and summary).
TESTS_PASSED = N_("{passed}/{total} tests passed")
