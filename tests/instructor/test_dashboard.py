"""``python -m grader dashboard``: the instructor's static site, checked as HTML and in a real browser.

A known results folder is built by hand (five students, three assignments,
known scores, statuses and failing tests, one hostile name and one hostile
feedback), sealed with a test key as ``batch`` seals it, so every number on
the site can be checked exactly. The browser
tests drive Debian's Chromium through Playwright; CI installs both, so their
absence is a failure, not a skip.
"""
from __future__ import annotations

import csv
import json
import shutil
import struct
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT, run_grader

from grader import model
from grader.instructor.results import RECORD_PURPOSE
from grader.records import Key, load_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_NAME = '<script>document.title="pwned"</script>'
HOSTILE_FEEDBACK = 'Your code raised ValueError: <script>window.hacked=1</script><img src=x onerror="window.hacked=2">'
SHARED_FEEDBACK = "Expected: t_b returns the labels.\nYour code returned None"
TITLES = {"01": "Why asynchronous?", "02": "Coroutines", "03": "The event loop"}
POINTS = {"01": {"t_a": 50, "t_b": 30, "t_c": 20}, "02": {"u_a": 60, "u_b": 40}, "03": {"v_a": 100}}
VISIBILITY = {"t_a": "public", "t_b": "hidden", "t_c": "hidden", "u_a": "public", "u_b": "hidden", "v_a": "hidden"}

# Per student and assignment: the tests not passed, with their outcome and feedback ("missing": not submitted).
FAILURES: dict[str, dict[str, dict[str, tuple[str, str]] | str]] = {
    "alice": {"01": {}, "02": {"u_b": ("failed", "Expected: u_b awaits the coroutine.")}, "03": {}},
    "bob": {"01": {"t_b": ("failed", SHARED_FEEDBACK), "t_c": ("error", "Your code raised KeyError: 'x'")},
            "02": {"u_a": ("failed", "Expected: u_a."), "u_b": ("failed", "Expected: u_b awaits the coroutine.")},
            "03": "missing"},
    "carol": {"01": {"t_b": ("failed", SHARED_FEEDBACK), "t_c": ("failed", "Expected: t_c.")},
              "02": {"u_b": ("failed", "Expected: u_b awaits the coroutine.")},
              "03": {"v_a": ("timeout", "your code ran past 5 s in this test")}},
    "dave": {"01": {"t_a": ("failed", HOSTILE_FEEDBACK), "t_b": ("failed", "Expected: something else.")},
             "02": {}, "03": {}},
}
SCORES = {  # what the failures above leave each student
    "alice": {"01": 100, "02": 60, "03": 100, "total": 260},
    "bob": {"01": 50, "02": 0, "03": 0, "total": 50},
    "carol": {"01": 50, "02": 60, "03": 0, "total": 110},
    "dave": {"01": 20, "02": 100, "03": 100, "total": 220},
    HOSTILE_NAME: {"01": "–", "02": "–", "03": "–", "total": "–"},  # could not be graded: no score, never 0
}
BY_NAME = [HOSTILE_NAME, "alice", "bob", "carol", "dave"]  # "<" sorts before letters
COURSE_TITLE = "Asynchronous Python: asyncio and aiohttp"  # course.toml's, which the dashboard's header shows
SHORT = {"01": "why-async", "02": "coroutines", "03": "event-loop"}  # course.toml's slugs: the short titles


# --- building the known results folder -----------------------------------------------------------


def _assignment(assignment_id: str, failures: dict[str, tuple[str, str]] | str) -> model.AssignmentResult:
    title = TITLES[assignment_id]
    if failures == "missing":
        return model.AssignmentResult(assignment_id, title, 0.0, 100.0, "missing", "not submitted")
    assert isinstance(failures, dict)
    tests = tuple(
        model.TestResult(name, VISIBILITY[name], failures[name][0] if name in failures else "passed",
                   0.0 if name in failures else float(points), float(points),
                   failures[name][1] if name in failures else "")
        for name, points in POINTS[assignment_id].items())
    passed = sum(1 for t in tests if t.outcome == "passed")
    return model.AssignmentResult(assignment_id, title, sum(t.score for t in tests), 100.0, "graded",
                            f"{passed}/{len(tests)} tests passed", tests)


def _record(student: str, result: model.GradeResult, status: str = "graded", message: str = "") -> dict[str, Any]:
    return {"student": student, "source": f"https://user:s3cret@example.org/class/{student}.git",
            "key": "0" * 40, "graded_at": "2026-10-01T12:00:00+00:00", "status": status,
            "message": message, "result": result.to_dict()}


def write_record(path: Path, record: dict[str, Any], key: Key) -> None:
    """A student file as batch writes it: the record sealed with ``key``."""
    path.write_text(json.dumps(key.sealed(RECORD_PURPOSE, record)), encoding="utf-8")


def write_results(folder: Path, key: Key) -> Path:
    """The known class as ``batch`` writes it, with a summary.json that lies (the dashboard must ignore it)."""
    students = folder / "students"
    students.mkdir(parents=True)
    for name, per_assignment in FAILURES.items():
        result = model.GradeResult(tuple(_assignment(i, f) for i, f in per_assignment.items()), True)
        write_record(students / f"{name}.json", _record(name, result), key)
    broken = model.GradeResult(tuple(model.AssignmentResult(i, t, 0.0, 100.0, "error", "could not be graded")
                               for i, t in TITLES.items()), True)
    record = _record(HOSTILE_NAME, broken, "error", "clone failed: <b>fatal</b> repository not found")
    write_record(students / "mallory.json", record, key)
    (folder / "summary.json").write_text(json.dumps({"course": "x", "generated_at": "", "students": [
        {"student": "alice", "score": 9999, "max_score": 1, "status": "graded", "assignments": {"01": 9999}}]}))
    (folder / "grades.csv").write_text("student,01,total\nalice,9999,9999\n")
    return folder


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    """The results key of these tests (outside every results folder), as batch creates it."""
    return load_key(tmp_path_factory.mktemp("state") / "results.key")


def run_dashboard(results: Path, out: Path, key: Key, *extra: str) -> Any:
    """``python -m grader dashboard RESULTS --out OUT`` with ``key`` as the default key ($GRADER_KEY_FILE)."""
    return run_grader("dashboard", str(results), "--out", str(out), *extra, env={"GRADER_KEY_FILE": str(key.path)})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, key: Key) -> Path:
    """The dashboard of the known class, built once through the command line."""
    base = tmp_path_factory.mktemp("dashboard")
    results = write_results(base / "results", key)
    out = base / "site"
    done = run_dashboard(results, out, key)
    assert done.returncode == 0, done.stderr
    assert "5 student(s), 3 assignment(s)" in done.stdout
    assert done.stderr == ""  # every record verifies
    return out


# --- reading the HTML back ------------------------------------------------------------------------


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts, plus the text of every <pre> and the page's scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.pres: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.ids: list[str] = []
        self._stack: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "table":
            rows: list[list[str]] = []
            self.tables[str(attributes.get("id") or attributes.get("class") or len(self.tables))
                        + ("" if not self._same_class(attributes) else f"#{len(self.tables)}")] = rows
            self._stack.append(rows)
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []
        elif tag == "pre":
            self._pre = []
        elif tag == "script":
            self.scripts.append(attributes)

    def _same_class(self, attributes: dict[str, str | None]) -> bool:
        return str(attributes.get("id") or attributes.get("class")) in self.tables

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self._pre.append(data)


def parse(path: Path) -> Tables:
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def failing_tables(page: Tables) -> list[list[list[str]]]:
    return [rows for key, rows in page.tables.items() if key.startswith("failing")]


# --- the site as files ----------------------------------------------------------------------------


def test_matrix_shows_every_score_and_total(site: Path) -> None:
    """The class matrix: one row per student in name order, each assignment's score and the total."""
    rows = parse(site / "index.html").tables["grades"]
    assert rows[0] == ["Student", *(f"{i}{SHORT[i]}/100" for i in ("01", "02", "03")), "Total/300"]
    body = rows[1:len(BY_NAME) + 1]
    assert [row[0].removesuffix(" error") for row in body] == BY_NAME
    for row in body:
        name = row[0].removesuffix(" error")
        want = SCORES[name]
        assert [cell.rstrip("!") for cell in row[1:]] == [str(want["01"]), str(want["02"]), str(want["03"]),
                                                           str(want["total"])], name
    mean, median = rows[-2:]
    # The submission that could not be graded (the hostile name's failed clone) is no 0: left out.
    assert mean == ["Class mean", "55", "55", "50", "160"]
    assert median == ["Class median", "50", "60", "50", "165"]


def test_cells_are_coloured_by_fraction_and_link_to_the_student(site: Path) -> None:
    """Each score cell carries its band and links to the assignment's section on the student's page."""
    html = (site / "index.html").read_text(encoding="utf-8")
    assert '<td class="s-full" data-value="100" data-stat="100"><a href="students/alice.html#a-01"' in html
    assert '<td class="s-mid" data-value="60" data-stat="60"><a href="students/alice.html#a-02"' in html
    assert '<td class="s-mid" data-value="50" data-stat="50"><a href="students/bob.html#a-01"' in html
    assert '<td class="s-missing" data-value="0" data-stat="0"><a href="students/bob.html#a-03"' in html
    assert '<td class="s-low" data-value="20" data-stat="20"><a href="students/dave.html#a-01"' in html
    assert '<td class="s-zero" data-value="0" data-stat="0"><a href="students/carol.html#a-03"' in html
    # The submission that could not be graded: a dash in each cell, no value to sort or count, never a 0.
    assert html.count('<td class="s-none" data-value=""><a href="students/') == 3
    assert '<td class="total s-none" data-value="" title="not graded in full: no total">–</td>' in html


def test_csv_export_has_every_score(site: Path) -> None:
    """grades.csv: student, each assignment id, total; from the student files, not the stale summary."""
    with (site / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "01", "02", "03", "total", "status", "not_started", "attempted", "flagged"]
    assert [row[0] for row in rows[1:]] == [HOSTILE_NAME,
                                            "alice", "bob", "carol", "dave"]
    assert rows[1][1:] == ["", "", "", "", "error", "", "", ""]  # could not be graded: empty cells, never 0
    for row in rows[2:]:
        want = SCORES[row[0]]
        assert row[1:] == [*(str(want[key]) for key in ("01", "02", "03", "total")), "graded", "", "", ""], row


def test_most_failed_tests_come_first_with_their_common_feedback(site: Path) -> None:
    """Per assignment, tests ordered by students failing; the share, visibility and most common feedback."""
    page = parse(site / "index.html")
    tables = failing_tables(page)
    assert len(tables) == 3
    order = [[(row[1], row[0].split(" (")[0], row[2]) for row in table[1:]] for table in tables]
    assert order[0] == [("t_b", "3 of 4", "hidden"), ("t_c", "2 of 4", "hidden"), ("t_a", "1 of 4", "public")]
    assert order[1] == [("u_b", "3 of 4", "hidden"), ("u_a", "1 of 4", "public")]
    assert order[2] == [("v_a", "1 of 3", "hidden")]  # bob did not submit 03: no test of his was run
    t_b = tables[0][1]
    assert "(75%)" in t_b[0] and "3 failed" in t_b[0]
    assert t_b[4].endswith("None2 of 3 failing got this feedback")  # the <pre>, then how many got it
    assert SHARED_FEEDBACK in page.pres
    assert "1 error, 1 failed" in tables[0][2][0]  # t_c: bob's error, carol's failure
    assert "1 timeout" in tables[2][1][0]


def test_hostile_name_and_feedback_are_escaped(site: Path) -> None:
    """Student-controlled text never becomes markup: only the dashboard's own script is on any page."""
    index = (site / "index.html").read_text(encoding="utf-8")
    pages = [index, *(p.read_text(encoding="utf-8") for p in (site / "students").glob("*.html"))]
    for html in pages:
        assert "<script>" not in html and "<img" not in html and "<b>fatal" not in html
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in index
    dave = parse(site / "students" / "dave.html")
    assert HOSTILE_FEEDBACK in dave.pres
    assert [s.get("src") for s in parse(site / "index.html").scripts] == ["assets/dashboard.js"]
    assert HOSTILE_FEEDBACK in parse(site / "index.html").pres  # dave's is the only feedback of t_a
    # The hostile name gets a safe page name of its own; nothing is written outside students/.
    pages_written = sorted(p.name for p in (site / "students").iterdir())
    assert len(pages_written) == 5 and all(p.endswith(".html") and "<" not in p for p in pages_written)
    assert "s3cret" not in "".join(pages)  # credentials in a source URL are not shown


def test_student_page_lists_scores_and_every_test_not_passed(site: Path) -> None:
    """One page per student: each assignment's score, status and message, and each failing test's feedback."""
    page = parse(site / "students" / "bob.html")
    rows = page.tables["assignments"]
    assert rows[1:] == [["01", "Why asynchronous?", "50 / 100", "graded", "1/3", "1/3 tests passed"],
                        ["02", "Coroutines", "0 / 100", "graded", "0/2", "0/2 tests passed"],
                        ["03", "The event loop", "0 / 100", "missing", "–", "not submitted"]]
    assert page.pres == [SHARED_FEEDBACK, "Your code raised KeyError: 'x'", "Expected: u_a.",
                         "Expected: u_b awaits the coroutine."]
    assert {"a-01", "a-02", "a-03"} <= set(page.ids)
    html = (site / "students" / "bob.html").read_text(encoding="utf-8")
    assert "Total</dt><dd>50 / 300 (17%)" in html
    assert "https://example.org/class/bob.git" in html
    # Results built without the sandbox flag (older files read that way) say it on the page.
    assert "Sandboxed</dt><dd>no: graded without the OS sandbox, no grade of record</dd>" in html


def test_rebuild_replaces_an_earlier_dashboard_but_not_other_folders(tmp_path: Path, site: Path, key: Key) -> None:
    """A rebuild over an earlier dashboard drops pages of students gone; a foreign folder is refused."""
    results = write_results(tmp_path / "results", key)
    (results / "students" / "dave.json").unlink()
    out = tmp_path / "site"
    shutil.copytree(site, out)
    done = run_dashboard(results, out, key)
    assert done.returncode == 0, done.stderr
    assert not (out / "students" / "dave.html").exists() and (out / "students" / "alice.html").exists()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    done = run_dashboard(results, foreign, key)
    assert done.returncode == 2 and "not empty" in done.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["todo.txt"]


@pytest.mark.parametrize("breakage", ["no folder", "no students", "empty", "nothing usable", "duplicate"])
def test_unusable_results_are_one_line_and_exit_2(tmp_path: Path, breakage: str, key: Key) -> None:
    """A results folder the dashboard cannot use: exit 2 with one line naming the problem."""
    results = tmp_path / "results"
    if breakage != "no folder":
        write_results(results, key)
    students = results / "students"
    if breakage == "no students":
        shutil.rmtree(students)
    elif breakage == "empty":
        for path in students.glob("*.json"):
            path.unlink()
    elif breakage == "nothing usable":  # sealed by the key, so not forgeries: records of another shape
        for path in students.glob("*.json"):
            write_record(path, {"student": path.stem, "status": "graded"}, key)
    elif breakage == "duplicate":
        shutil.copy(students / "bob.json", students / "bob2.json")
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_nbgrader_export_is_delegated_and_formulas_are_defused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               key: Key, capsys: pytest.CaptureFixture[str]) -> None:
    """--nbgrader-db hands the results folder and the key to grader.instructor.nbgrader_export, and shows on stderr what it
    left out; a formula-like name is quoted in the CSV."""
    import argparse
    import types

    from grader.instructor import dashboard
    from grader.instructor.nbgrader_export import Exported

    results = write_results(tmp_path / "results", key)
    record = key.opened(RECORD_PURPOSE, json.loads((results / "students" / "alice.json").read_text()))
    assert record is not None
    record["student"] = "=HYPERLINK(1)"
    write_record(results / "students" / "formula.json", record, key)
    calls = []

    def export(results_dir: Path, db: Path, used: Key) -> Exported:
        calls.append((results_dir, db, used.path))
        return Exported(5, ("mallory: not graded (status error): nothing written",))

    fake = types.ModuleType("grader.instructor.nbgrader_export")
    fake.export = export  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grader.instructor.nbgrader_export", fake)
    args = argparse.Namespace(results=results, out=tmp_path / "site", nbgrader_db=tmp_path / "gradebook.db",
                              key=key.path)
    assert dashboard.command(args) == 0
    assert calls == [(results, tmp_path / "gradebook.db", key.path)]
    assert capsys.readouterr().err.splitlines() == [
        "nbgrader: mallory: not graded (status error): nothing written",
        f"nbgrader gradebook {tmp_path / 'gradebook.db'}: 5 students written, 1 left as they were (not graded)"]
    with (tmp_path / "site" / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert ["'=HYPERLINK(1)", "100", "60", "100", "260", "graded", "", "", ""] in rows


def test_a_real_grading_result_renders(tmp_path: Path, key: Key) -> None:
    """The grader's own JSON output (the stubs of 01, graded for real) goes straight into a dashboard."""
    done = run_grader("grade", "--assignment", "01", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    results = tmp_path / "results"
    (results / "students").mkdir(parents=True)
    record = {"student": "stub", "source": str(ROOT), "key": "k", "graded_at": "2026-10-01T12:00:00+00:00",
              "status": "graded", "message": "", "result": result}
    write_record(results / "students" / "stub.json", record, key)
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 0, done.stderr
    [table] = failing_tables(parse(tmp_path / "site" / "index.html"))
    tests = result["assignments"][0]["tests"]
    assert sorted(row[1] for row in table[1:]) == sorted(t["name"] for t in tests)
    assert all(row[0].startswith("1 of 1 (100%)") for row in table[1:])


def test_header_names_the_course_and_when_it_was_graded_not_a_local_path(site: Path) -> None:
    """The page header: course.toml's title and the records' grading time (UTC); no folder of the instructor's."""
    html = (site / "index.html").read_text(encoding="utf-8")
    header = html[html.index("<header>"):html.index("</header>")]
    assert f"<h1>{COURSE_TITLE}</h1>" in header
    assert "Class dashboard · 5 students · 3 assignments · graded 2026-10-01 12:00 UTC · page built " in header
    assert str(site.parent) not in html and "<code>" not in header
    # Built by hand without the sandbox flag, as results of --no-sandbox are: the header says what that means.
    assert ('<b>Not sandboxed:</b> 5 of 5 results graded without the operating-system sandbox (bubblewrap): no grade '
            "of record.") in header
    # The full title stays one hover away in the header cell.
    assert '<th scope="col" data-sort="number" title="02 Coroutines">02<span class="short">coroutines</span>' in html


def test_graded_when_spans_the_records_in_utc() -> None:
    """A batch that skipped unchanged students holds records of several runs: the header gives the span."""
    from grader.instructor.dashboard import Student, graded_when

    def student(graded_at: str, status: str = "graded") -> Student:
        return Student("s", "s.html", "", "", graded_at, status, "", model.GradeResult((), True))

    assert graded_when([student("2026-10-01T14:00:00+02:00")]) == "graded 2026-10-01 12:00 UTC"
    assert graded_when([student("2026-10-02T09:30:00+00:00"), student("2026-10-01T12:00:00+00:00"),
                        student("2027-01-01T00:00:00+00:00", "unverified"), student("not a time")]) == \
        "graded between 2026-10-01 12:00 UTC and 2026-10-02 09:30 UTC"
    assert graded_when([]) == "no grading time recorded"


def test_sandboxed_results_carry_no_warning() -> None:
    """The "Not sandboxed" warning counts the verified results graded outside the sandbox, and only those."""
    from grader.instructor.dashboard import Student, _unsandboxed

    def student(sandboxed: bool, status: str = "graded") -> Student:
        return Student("s", "s.html", "", "", "", status, "", model.GradeResult((), True, sandboxed=sandboxed))

    assert _unsandboxed([student(True), student(False, "unverified")]) == ""
    assert "1 of 2 results graded without" in _unsandboxed([student(True), student(False)])


def test_a_record_that_fails_verification_is_unverified_with_no_score(tmp_path: Path, key: Key) -> None:
    """A score edited by hand, an unsealed record and one that is not even JSON: each is shown as "unverified"
    with no score, counted in no statistic, empty in grades.csv, and the command says how many on stderr."""
    results = write_results(tmp_path / "results", key)
    students = results / "students"
    bob = json.loads((students / "bob.json").read_text(encoding="utf-8"))
    bob["result"]["assignments"][0]["score"] = 100.0  # seal kept: the edit is what must be caught
    bob["result"]["score"] = 100.0
    (students / "bob.json").write_text(json.dumps(bob), encoding="utf-8")
    unsealed = json.loads((students / "carol.json").read_text(encoding="utf-8"))
    del unsealed["seal"]
    (students / "carol.json").write_text(json.dumps(unsealed), encoding="utf-8")
    (students / "eve.json").write_text("{not json", encoding="utf-8")
    dave = {k: v for k, v in json.loads((students / "dave.json").read_text(encoding="utf-8")).items() if k != "seal"}
    write_record(students / "dave.json", dave, load_key(tmp_path / "other.key"))  # sealed by another grader's key
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"4 student files failed verification with the key {key.path} (edited, forged, unsealed "
                           "or sealed with another key), shown as unverified with no score and left out of the "
                           "statistics and grades.csv: bob.json, carol.json, dave.json, eve.json\n")
    page = parse(tmp_path / "site" / "index.html")
    rows = {row[0]: row[1:] for row in page.tables["grades"][1:-2]}
    for name in ("bob", "carol", "dave", "eve"):
        assert rows[f"{name} unverified"] == ["–", "–", "–", "–"], rows
    assert rows["alice"] == ["100", "60", "100", "260"]
    # Only alice's record is a verified grade (the hostile name's could not be graded): the statistics are hers.
    assert page.tables["grades"][-2:] == [["Class mean", "100", "60", "100", "260"],
                                          ["Class median", "100", "60", "100", "260"]]
    with (tmp_path / "site" / "grades.csv").open(newline="", encoding="utf-8") as handle:
        csv_rows = {row[0]: row[1:] for row in csv.reader(handle)}
    for name in ("bob", "carol", "dave", "eve"):
        assert csv_rows[name] == ["", "", "", "", "unverified", "", "", ""]
    assert csv_rows["alice"] == ["100", "60", "100", "260", "graded", "", "", ""]
    bob_page = (tmp_path / "site" / "students" / "bob.html").read_text(encoding="utf-8")
    assert "Status</dt><dd>unverified</dd>" in bob_page and "100 / 300" not in bob_page
    assert page.tables["grades"] and "Records that failed verification" in (
        tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_the_key_must_exist_and_live_outside_the_results(tmp_path: Path, key: Key) -> None:
    """No key at the given path, or a key inside the results folder (whoever wrote the records could have written
    it): exit 2 with one line; --key names the key explicitly."""
    results = write_results(tmp_path / "results", key)
    done = run_grader("dashboard", str(results), "--out", str(tmp_path / "site"),
                      env={"GRADER_KEY_FILE": str(tmp_path / "nowhere.key")})
    assert done.returncode == 2 and done.stderr.startswith("error: no results key at "), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "nowhere.key").exists()
    inside = load_key(results / "results.key")
    done = run_dashboard(results, tmp_path / "site", key, "--key", str(inside.path))
    assert done.returncode == 2 and "is inside the results folder" in done.stderr, done.stderr
    done = run_grader("dashboard", str(results), "--out", str(tmp_path / "site"), "--key", str(key.path),
                      env={"GRADER_KEY_FILE": str(tmp_path / "nowhere.key")})
    assert done.returncode == 0 and done.stderr == "", done.stderr


# --- the site in a real browser -------------------------------------------------------------------


@pytest.fixture
def browser(site: Path) -> Iterator[Any]:
    """Headless Debian Chromium through Playwright; missing either is a failure (CI installs both).

    One per test, not per module: while Playwright's synchronous API is
    started it keeps an asyncio loop marked as running in this thread, so
    the course plugin's time.sleep guard would fail any other test that
    waits for a subprocess in the meantime. ``site`` is built first for the
    same reason.
    """
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playwright package is missing: `{sys.executable} -m pip install playwright==1.65.2` "
                    "(never `playwright install`: the tests use /usr/bin/chromium)")
    with sync_playwright() as playwright:
        # Playwright adds --headless itself (headless=True is its default).
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def problems() -> list[str]:
    """What went wrong in the browser: console errors and warnings, uncaught exceptions, requests off the disk."""
    return []


@pytest.fixture
def page(browser: Any, problems: list[str]) -> Iterator[Any]:
    """A fresh page that records its problems into ``problems``."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)  # a broken page fails in seconds, not Playwright's default 30
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith("file://") else problems.append(f"request off disk: {r.url}"))
    try:
        yield page
    finally:
        context.close()


def matrix_rows(page: Any) -> list[list[str]]:
    """The visible rows of the class matrix as the browser renders them."""
    return page.eval_on_selector_all(
        "#grades tbody tr", "rows => rows.filter(r => !r.hidden && r.offsetParent !== null)"
        ".map(r => Array.from(r.cells, c => c.innerText.trim()))")


def footer(page: Any) -> list[list[str]]:
    """The footer rows of the class matrix (mean, median) as the browser shows them."""
    return page.eval_on_selector_all("#grades tfoot tr", "rows => rows.map(r => Array.from(r.cells, c => "
                                     "c.innerText.trim()))")


def names(page: Any) -> list[str]:
    return [row[0].removesuffix("error").strip() for row in matrix_rows(page)]


def test_browser_matrix_sorts_and_filters(site: Path, page: Any, problems: list[str]) -> None:
    """In Chromium: no console error, the right numbers, header clicks sort, the filter hides rows."""
    page.goto((site / "index.html").as_uri())
    assert names(page) == BY_NAME
    for row in matrix_rows(page):
        want = SCORES[row[0].removesuffix("error").strip()]
        assert [cell.rstrip("!") for cell in row[1:]] == [str(want[k]) for k in ("01", "02", "03", "total")]
    assert page.title() == f"{COURSE_TITLE}: class dashboard"  # the hostile name's script never ran
    assert page.evaluate("window.hacked") is None

    page.click("#grades thead th:nth-child(5) button")  # Total, ascending
    assert names(page) == ["bob", "carol", "dave", "alice", HOSTILE_NAME]  # no score sorts last either way
    assert page.get_attribute("#grades thead th:nth-child(5)", "aria-sort") == "ascending"
    page.click("#grades thead th:nth-child(5) button")  # again: descending
    assert names(page) == ["alice", "dave", "carol", "bob", HOSTILE_NAME]
    page.click("#grades thead th:nth-child(2) button")  # 01 ascending; bob and carol tie at 50: by name
    assert names(page) == ["dave", "bob", "carol", "alice", HOSTILE_NAME]
    page.click("#grades thead th:nth-child(1) button")  # Student: back to the page's own order
    assert names(page) == BY_NAME
    page.click("#grades thead th:nth-child(1) button")
    assert names(page) == BY_NAME[::-1]
    assert page.get_attribute("#grades thead th:nth-child(1)", "aria-sort") == "descending"
    assert page.get_attribute("#grades thead th:nth-child(5)", "aria-sort") is None

    assert page.is_visible("#sort-hint")  # said only where sorting works

    whole_class = footer(page)
    assert whole_class == [["Class mean", "55", "55", "50", "160"], ["Class median", "50", "60", "50", "165"]]
    page.fill("#filter", "AR")
    assert names(page) == ["carol"]
    assert page.inner_text("#filter-count") == "1 of 5 students"
    assert footer(page) == [["Mean of 1 shown", "50", "60", "0", "110"], ["Median of 1 shown", "50", "60", "0", "110"]]
    page.fill("#filter", "a")  # alice, carol, dave: means to 2 places, medians of three
    assert names(page) == ["dave", "carol", "alice"]  # still in the last sort's order (Student, descending)
    assert footer(page) == [["Mean of 3 shown", "56.67", "73.33", "66.67", "196.67"],
                            ["Median of 3 shown", "50", "60", "100", "220"]]
    page.fill("#filter", "o")  # bob, carol and the hostile name, whose submission could not be graded: no grade
    assert footer(page) == [["Mean of 3 shown", "50", "30", "0", "80"], ["Median of 3 shown", "50", "30", "0", "80"]]
    page.fill("#filter", "")
    assert len(matrix_rows(page)) == 5
    assert footer(page) == whole_class
    assert problems == []


def test_browser_student_page_and_screenshot(site: Path, page: Any, problems: list[str], tmp_path: Path) -> None:
    """A cell's link opens the student's page at that assignment; the index renders to a real PNG."""
    page.goto((site / "index.html").as_uri())
    page.click('a[href="students/dave.html#a-01"]')
    assert page.url.endswith("/students/dave.html#a-01")
    assert page.inner_text("h1") == "dave"
    assert HOSTILE_FEEDBACK in page.inner_text("#a-01")  # shown as text, not run
    assert page.evaluate("window.hacked") is None
    page.goto((site / "index.html").as_uri())
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, "/tmp/dashboard.png")  # for a person to look at
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200 and height > 900, (width, height)  # the full page is taller than the window
    assert len(data) > 30_000  # a drawn page, not a blank one
    assert problems == []


def test_browser_page_without_javascript_shows_everything(site: Path, browser: Any) -> None:
    """With JavaScript off every row and number is still there; the filter box (useless then) stays hidden."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((site / "index.html").as_uri())
        assert names(page) == BY_NAME
        assert page.is_hidden("#filter-box")
        assert page.is_hidden("#sort-hint")  # nothing sorts without the script: the page does not say it does
        assert "Click a score for the student's feedback." in page.inner_text("#matrix")
        assert page.locator("#grades thead button").count() == 0
        assert page.locator("#failing table.failing tbody tr").count() == 6
    finally:
        context.close()


@pytest.fixture
def late_site(tmp_path: Path, key: Key) -> Path:
    """A dashboard of one student whose 01 batch found two days late (-20 %), built before any browser starts."""
    results = tmp_path / "results"
    (results / "students").mkdir(parents=True)
    result = model.GradeResult(tuple(_assignment(i, FAILURES["carol"][i]) for i in ("01", "02")), True)
    record = {**_record("carol", result), "first_seen_at": "2026-10-07T11:59:00+00:00",
              "committed_at": "2020-01-01T00:00:00+00:00",
              "late": {"01": {"first_seen_at": "2026-10-07T11:59:00+00:00", "due": "2026-10-05T23:59:00+08:00",
                              "days": 2, "penalty": 20.0},
                       "02": {"first_seen_at": "2026-10-01T00:00:00+00:00", "due": "2026-10-05T23:59:00+08:00",
                              "days": 0, "penalty": 0.0}}}
    write_record(results / "students" / "carol.json", record, key)
    out = tmp_path / "site"
    done = run_dashboard(results, out, key)
    assert done.returncode == 0, done.stderr
    return out


def test_browser_a_late_grade_shows_its_penalised_score_and_a_late_marker(
        late_site: Path, page: Any, problems: list[str], tmp_path: Path) -> None:
    """The matrix shows 40 with a LATE label, the raw 50 and the rule in its tooltip, the total less the penalty;
    the student page names the first sighting and the commit date."""
    out = late_site
    page.goto((out / "index.html").as_uri())
    assert matrix_rows(page) == [["carol", "40LATE", "60", "100"]]
    assert footer(page)[0] == ["Class mean", "40", "60", "100"]  # statistics count the penalised scores
    assert page.get_attribute("#grades tbody td:nth-child(2) a", "title").endswith("2 days late, −20 %: 40")
    assert "first seen after the due time" in page.inner_text(".legend")
    # The distributions count what the matrix shows: the penalised score.
    assert "mean 40, median 40" in page.inner_text("#distributions")
    page.screenshot(path=str(tmp_path / "late.png"), full_page=True)  # for a person to look at (tmp_path)
    page.goto((out / "students" / "carol.html").as_uri())
    text = page.inner_text("body")
    assert "2 days late, −20 %: 40 / 100" in text and "2020-01-01T00:00:00+00:00 (the student's to set" in text
    page.goto((out / "assignments" / "01.html").as_uri())  # the assignment's page lists who is late, and by how much
    assert "carol: 2 day(s) late, 20% off" in page.inner_text("#late")
    assert "mean 40, median 40" in page.inner_text("#distribution")
    assert problems == []


def test_the_index_links_grades_csv_and_a_student_page_links_repository_and_commit(site: Path) -> None:
    """grades.csv is one click from the class page; a student's https repository and graded commit are links."""
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a href="grades.csv" download>grades.csv</a>' in index
    html = (site / "students" / "bob.html").read_text(encoding="utf-8")
    assert ('<a href="https://example.org/class/bob" rel="noopener noreferrer">'
            "https://example.org/class/bob.git</a>") in html


def test_repository_and_commit_links_only_where_they_are_known() -> None:
    from grader.instructor.dashboard import commit_url, source_url

    sha = "0123456789abcdef0123456789abcdef01234567"
    assert source_url("https://github.com/org/hw-alice.git") == "https://github.com/org/hw-alice"
    assert commit_url("https://github.com/org/hw-alice.git", f"{sha}-grader-v9") == (
        f"https://github.com/org/hw-alice/commit/{sha}")
    assert commit_url("https://gitlab.com/org/hw-alice", sha) == f"https://gitlab.com/org/hw-alice/-/commit/{sha}"
    assert commit_url("https://example.org/org/hw-alice.git", sha) is None  # a forge whose pages are unknown
    assert commit_url("https://github.com/org/hw-alice", "not-a-commit") is None
    for nowhere in ("/srv/class/alice", "git@github.com:org/hw-alice.git", "https://user:token@github.com/o/r",
                    "javascript:alert(1)", "file:///etc/passwd"):
        assert source_url(nowhere) is None and commit_url(nowhere, sha) is None


def test_an_unusable_student_file_is_reported_and_skipped_never_fatal(tmp_path: Path, key: Key) -> None:
    """A sealed record of another shape and a file that cannot be read are named on stderr and on the page;
    the rest of the class is shown, and they count nowhere."""
    results = tmp_path / "results"
    write_results(results, key)
    students = results / "students"
    write_record(students / "bob.json", {"student": "bob", "status": "graded"}, key)
    (students / "zed.json").mkdir()  # not readable as a file
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 0, done.stderr
    assert "skipped students/bob.json: no usable \"result\"" in done.stderr, done.stderr
    assert "skipped students/zed.json: cannot read it" in done.stderr, done.stderr
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<section id="unreadable">' in index and "students/zed.json" in index
    assert (tmp_path / "site" / "students" / "alice.html").is_file()
    rows = {r[0]: r for r in csv.reader((tmp_path / "site" / "grades.csv").read_text().splitlines())}
    assert rows["bob"][-4:] == ["unreadable", "", "", ""] and all(cell == "" for cell in rows["bob"][1:-4])


def test_each_assignment_has_a_page_linked_from_the_most_failed_list(site: Path) -> None:
    """assignments/NN.html: its statistics, distribution, most failed tests, and who is late, not started or
    not graded; the class page's most-failed list links it."""
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a href="assignments/01.html">01 Why asynchronous?</a>' in index
    page = (site / "assignments" / "01.html").read_text(encoding="utf-8")
    assert "<h1>01 Why asynchronous?</h1>" in page and '<a href="../index.html">' in page
    for section in ("distribution", "failing", "late", "not-started", "not-graded"):
        assert f'<section id="{section}">' in page, section
    assert parse(site / "assignments" / "01.html").tables["failing"]
    assert sorted(p.name for p in (site / "assignments").iterdir()) == ["01.html", "02.html", "03.html"]
