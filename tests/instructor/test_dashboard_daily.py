"""The dashboard as a daily tool: each student's history from the gradebook, the submitted code beside the failing
tests (only when it is verifiably what was graded), honest statuses with a "To review" list, and only released
assignments.

Records are sealed with a test key as ``batch`` seals them; the gradebook is a SQLite file written through
``Gradebook.add`` as batch writes it. The course is this repository's (its stubs decide "not started").
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT, git_commit, run_grader

from grader import model
from grader.instructor import dashboard
from grader.instructor.dashboard_code import CHANGED, CODE_LIMIT, submitted_code
from grader.instructor.gradebook import Sighting
from grader.instructor.keys import contract_hash
from grader.instructor.results import RECORD_PURPOSE
from grader.manifest import load_manifest
from grader.records import Key, load_key

MANIFEST = load_manifest(ROOT)
IDS = ("01", "02")
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
HOSTILE_CODE = 'async def main():\n    return "</pre><script>window.hacked=1</script>"\n'
FLAG = "the grader does not allow starting a program (subprocess.Popen) <b>x</b>"


def stub(assignment_id: str) -> bytes:
    """The course's stub of an assignment, as batch compares a submission with it."""
    return (ROOT / "assignments" / assignment_id / MANIFEST.get(assignment_id).module).read_bytes()


def _assignment(assignment_id: str, score: float, status: str = "graded", flags: tuple[str, ...] = (),
                failed: bool = True) -> model.AssignmentResult:
    tests = (model.TestResult("test_ok", "public", "passed", score, score, ""),
             model.TestResult("test_waits", "hidden", "failed", 0.0, 100.0 - score,
                              "Expected: the two sleeps overlap.\nYour code took 2 s"),) if failed else ()
    return model.AssignmentResult(assignment_id, MANIFEST.get(assignment_id).title, score, 100.0,
                                  status, "", tests, flags=flags)  # type: ignore[arg-type]


def record(student: str, scores: dict[str, float], *, key: str = "0" * 40 + "+course", status: str = "graded",
           source: str = "", held: dict[str, tuple[str, ...]] | None = None, not_started: list[str] | None = None,
           not_graded: dict[str, str] | None = None, graded_at: datetime = T0) -> dict[str, Any]:
    """A batch student record (unsealed)."""
    held = held or {}
    result = model.GradeResult(tuple(_assignment(i, s, "flagged" if i in held else "graded", held.get(i, ()))
                                     for i, s in scores.items()), True, sandboxed=True)
    return {"student": student, "source": source or f"https://example.org/{student}.git", "key": key,
            "graded_at": graded_at.isoformat(timespec="seconds"), "status": status, "message": "",
            "not_started": not_started or [], "not_graded": not_graded or {}, "sandboxed": True,
            "result": result.to_dict()}


def write_records(results: Path, key: Key, records: list[dict[str, Any]]) -> Path:
    """Each record sealed into ``results/students/<student>.json``."""
    (results / "students").mkdir(parents=True, exist_ok=True)
    for r in records:
        (results / "students" / f"{r['student']}.json").write_text(
            json.dumps(key.sealed(RECORD_PURPOSE, r)), encoding="utf-8")
    return results


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return load_key(tmp_path_factory.mktemp("state") / "results.key")


def run_dashboard(results: Path, out: Path, key: Key, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_grader("dashboard", str(results), "--out", str(out), *extra, env={"GRADER_KEY_FILE": str(key.path)})


def loaded(results: Path, key: Key, manifest: Any = MANIFEST) -> tuple[list[dashboard.Student], list[Any]]:
    students = dashboard.released_only(dashboard.load_students(results, key), manifest)
    return students, dashboard.assignment_columns(students, manifest)


# --- the class: one known history, one checkout --------------------------------------------------------------


def add_gradings(url: str, key: Key, revisions: list[str]) -> None:
    """alice's gradings: the untouched stub of 01 (not started), then 50, then 80 on 01; 02 always 40."""
    from grader.instructor.gradebook.store import Gradebook

    steps = [("stub", 0.0), ("try", 50.0), ("fix", 80.0)]
    with Gradebook.open(url, key) as book:
        for n, ((what, score), revision) in enumerate(zip(steps, revisions)):
            at = T0 + timedelta(days=n)
            contents = {"01": hashlib.sha256(stub("01") if what == "stub" else what.encode()).hexdigest(),
                        "02": hashlib.sha256(b"02 changed").hexdigest()}
            book.add(record("alice", {"01": score, "02": 40.0}, key=f"{revision}+course", graded_at=at),
                     Sighting(revision, "commit", None, at - timedelta(minutes=1), contents))


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory, key: Key) -> Path:
    """A results folder with alice's git checkout (graded at its HEAD), a gradebook of her three gradings and
    one forged row, bob flagged on 02 and carol out of time on 02; the site built through the command line."""
    base = tmp_path_factory.mktemp("daily")
    results = base / "results"
    head = git_commit(results / "checkouts" / "alice", {"01": HOSTILE_CODE, "02": "x = 1\n"})
    write_records(results, key, [
        record("alice", {"01": 80.0, "02": 40.0}, key=f"{head}+course"),
        record("bob", {"01": 70.0, "02": 90.0}, held={"02": (FLAG,)}),
        record("carol", {"01": 60.0, "02": 0.0}, status="partial", not_graded={"02": "the time budget ran out"}),
    ])
    url = f"sqlite:///{results / 'gradebook.sqlite'}"
    add_gradings(url, key, ["1" * 40, "2" * 40, head])
    from grader.instructor.gradebook.store import Gradebook

    with Gradebook.open(url, key) as book:  # carol's grading, then edited by hand: its seal no longer verifies
        book.add(record("carol", {"01": 10.0, "02": 10.0}, key="3" * 40 + "+course"), None)
    with sqlite3.connect(results / "gradebook.sqlite") as db:
        db.execute("update gradings set score = 200 where student = 'carol'")
        db.execute("update assignment_grades set score = 100 where grading_id = "
                   "(select id from gradings where student = 'carol')")
    done = run_dashboard(results, base / "site", key)
    assert done.returncode == 0, done.stderr
    assert "history of 4 gradings" in done.stdout
    return base / "site"


def page_text(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


# --- history -------------------------------------------------------------------------------------------------


def test_history_lists_every_grading_and_plots_only_grades(daily: Path) -> None:
    """alice's page: a row per grading, oldest first; 01's chart plots 50 and 80, never the stub's 0."""
    html = page_text(daily, "students/alice.html")
    section = html[html.index('<section id="history">'):]
    section = section[:section.index("</section>")]
    rows = re.findall(r"<tr>(.*?)</tr>", section[section.index("<tbody>"):])
    assert len(rows) == 3
    assert "2026-10-01 12:00 UTC" in rows[0] and "<code title=\"" + "1" * 40 + "\">111111111111</code>" in rows[0]
    assert "2026-10-01 11:59 UTC" in rows[0]  # first seen, from the sighting
    assert '<td class="s-unstarted"' in rows[0] and ">not started</td>" in rows[0]
    assert '<td class="s-mid">50</td>' in rows[1] and '<td class="s-high">80</td>' in rows[2]
    charts = re.findall(r'<figure class="trend">(.*?)</figure>', section)
    assert len(charts) == 2
    assert charts[0].count("<circle") == 2 and "2 grades, last 80 / 100" in charts[0]
    points = re.search(r'<polyline class="trend" points="([^"]+)"', charts[0])
    assert points is not None and len(points.group(1).split()) == 2


def test_an_unverified_grading_is_marked_and_never_plotted(daily: Path) -> None:
    """carol's edited row: shown as unverified, no number of it on the page, no chart point."""
    html = page_text(daily, "students/carol.html")
    section = html[html.index('<section id="history">'):]
    section = section[:section.index("</section>")]
    assert '<tr class="unverified">' in section and '<span class="badge">unverified</span>' in section
    assert "200" not in section and ">100<" not in section
    assert "<circle" not in section and "no grade yet" in section


def test_without_a_gradebook_the_pages_say_so_in_one_line(tmp_path: Path, key: Key) -> None:
    results = write_records(tmp_path / "results", key, [record("alice", {"01": 80.0, "02": 40.0})])
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "no history: the results folder has no gradebook (gradebook.sqlite)" in done.stdout
    html = page_text(tmp_path / "site", "students/alice.html")
    assert ('<section id="history"><h2>History</h2><p class="hint">No history: the results folder has no gradebook '
            "(gradebook.sqlite).</p></section>") in html
    assert not (results / "gradebook.sqlite").exists()  # a dashboard never creates one


def test_a_gradebook_asked_for_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path: Path, key: Key) -> None:
    results = write_records(tmp_path / "results", key, [record("alice", {"01": 80.0, "02": 40.0})])
    done = run_dashboard(results, tmp_path / "site", key, "--gradebook", str(tmp_path / "none.sqlite"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no gradebook at" in done.stderr and not (tmp_path / "none.sqlite").exists()
    with sqlite3.connect(tmp_path / "other.sqlite") as db:
        db.execute("create table notes (x)")
    done = run_dashboard(results, tmp_path / "site", key, "--gradebook", str(tmp_path / "other.sqlite"))
    assert done.returncode == 2 and "not a gradebook" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- the code beside the failing tests -----------------------------------------------------------------------


def test_the_graded_checkout_is_shown_escaped_beside_the_failing_tests(daily: Path) -> None:
    html = page_text(daily, "students/alice.html")
    section = html[html.index('<section class="assignment" id="a-01">'):]
    section = section[:section.index("</section>")]
    assert '<div class="beside"><div class="tests"><article class="test failed">' in section
    assert '<details class="code" open><summary>Submitted code: <code>assignments/01/why_async.py</code>' in section
    assert ('<span class="line">    return &quot;&lt;/pre&gt;&lt;script&gt;window.hacked=1&lt;/script&gt;&quot;'
            "</span>") in section
    assert "<script>window" not in html


def test_code_is_shown_only_while_the_checkout_is_what_was_graded(tmp_path: Path) -> None:
    results = tmp_path / "results"
    checkout = results / "checkouts" / "alice"
    head = git_commit(checkout, {"01": "print('graded')\n"})
    shown = submitted_code(results, "alice", "", f"{head}+course", MANIFEST)
    assert shown.note == "" and shown.modules["01"].text == "print('graded')\n"
    module = checkout / "assignments" / "01" / "why_async.py"
    module.write_text("print('changed after grading')\n", encoding="utf-8")  # not committed
    assert submitted_code(results, "alice", "", f"{head}+course", MANIFEST).note == CHANGED
    later = git_commit(checkout, {"01": "print('a later commit')\n"})
    assert submitted_code(results, "alice", "", f"{head}+course", MANIFEST).note == CHANGED
    assert submitted_code(results, "alice", "", f"{later}+course", MANIFEST).modules["01"].text.startswith("print")
    assert "not in the results folder" in submitted_code(results, "bob", "", f"{head}+course", MANIFEST).note


def test_a_folder_is_shown_only_while_its_contract_hash_is_the_graded_one(tmp_path: Path) -> None:
    folder = tmp_path / "class" / "dan"
    (folder / "assignments" / "01").mkdir(parents=True)
    (folder / "assignments" / "01" / "why_async.py").write_bytes(b"x = 1\n" + b"#" * (CODE_LIMIT + 10))
    graded = f"{contract_hash(folder, MANIFEST)}+course"
    shown = submitted_code(tmp_path / "results", "dan", str(folder), graded, MANIFEST)
    assert shown.modules["01"].cut and len(shown.modules["01"].text) == CODE_LIMIT
    html = dashboard._code_view("01", shown, open_=True)
    assert "cut at 200 KB</b> of" in html
    (folder / "assignments" / "01" / "why_async.py").write_text("x = 2\n", encoding="utf-8")
    assert submitted_code(tmp_path / "results", "dan", str(folder), graded, MANIFEST).note == CHANGED


def test_a_folder_graded_for_some_assignments_is_shown(tmp_path: Path, key: Key) -> None:
    """batch --assignment 01 keys a folder on the contract hash of 01 alone: the dashboard checks that one, and
    shows the code, rather than calling an unchanged folder changed."""
    folder = tmp_path / "class" / "erin"
    (folder / "assignments" / "01").mkdir(parents=True)
    (folder / "assignments" / "01" / "why_async.py").write_text("x = 1\n", encoding="utf-8")
    graded = f"{contract_hash(folder, MANIFEST.only(['01']))}+course"
    results = write_records(tmp_path / "results", key, [record("erin", {"01": 50.0}, key=graded, source=str(folder))])
    done = run_dashboard(results, tmp_path / "site", key)
    assert done.returncode == 0, done.stderr
    page = page_text(tmp_path / "site", "students/erin.html")
    assert "x = 1" in page and "has changed since it was graded" not in page


def test_a_module_reached_through_a_link_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'instructor only'\n", encoding="utf-8")
    folder = tmp_path / "class" / "eve"
    (folder / "assignments" / "01").mkdir(parents=True)
    (folder / "assignments" / "01" / "why_async.py").symlink_to(secret)
    graded = f"{contract_hash(folder, MANIFEST)}+course"
    shown = submitted_code(tmp_path / "results", "eve", str(folder), graded, MANIFEST)
    assert "01" not in shown.modules and "symbolic link" in shown.problems["01"]
    (tmp_path / "results" / "checkouts").mkdir(parents=True)
    (tmp_path / "results" / "checkouts" / "eve").symlink_to(folder)  # a linked checkout is no checkout
    assert "01" not in submitted_code(tmp_path / "results", "eve", "", graded, MANIFEST).modules


# --- honest statuses and "To review" -------------------------------------------------------------------------


def test_each_no_grade_has_its_own_look_and_is_out_of_the_statistics(daily: Path) -> None:
    html = page_text(daily, "index.html")
    for cls, label in (("s-unstarted", "not started"), ("s-attempted", "attempted, not graded (time budget)"),
                       ("s-flagged", "flagged: score held for review"), ("s-none", "not graded (error)")):
        assert f'<span class="swatch {cls}"></span>{label}</li>' in html
    bob = re.search(r'<tr data-student="bob">(.*?)</tr>', html).group(1)  # type: ignore[union-attr]
    assert '<td class="s-flagged" data-value=""><a href="students/bob.html#a-02"' in bob and ">held</a>" in bob
    assert "data-stat=\"90\"" not in bob and 'title="not graded in full: no total">–</td>' in bob
    carol = re.search(r'<tr data-student="carol">(.*?)</tr>', html).group(1)  # type: ignore[union-attr]
    assert '<td class="s-attempted" data-value="">' in carol and ">attempted</a>" in carol
    footer = html[html.index("<tfoot>"):html.index("</tfoot>")]
    # 02: only alice's 40 is a grade (bob's 90 held, carol's 0 attempted); the total: alice's alone
    assert footer.startswith('<tfoot><tr><th scope="row" data-kind="mean">Class mean</th><td>70</td><td>40</td>'
                             "<td>120</td>")
    assert "<br>1 students, 1 attempted, 1 held for review; mean 40, median 40" in html


def test_to_review_lists_every_flagged_cell_with_its_findings(daily: Path) -> None:
    html = page_text(daily, "index.html")
    section = html[html.index('<section id="to-review">'):]
    section = section[:section.index("</section>")]
    assert '<a href="students/bob.html#a-02">bob</a>' in section and "90 / 100" in section
    assert "subprocess.Popen) &lt;b&gt;x&lt;/b&gt;" in section and "<b>x</b>" not in section
    assignment = page_text(daily, "assignments/02.html")
    assert '<section id="to-review"><h2>Held for review</h2>' in assignment
    assert "bob</a>: 90 / 100 held; the grader does not allow" in assignment
    assert "1 held for review" in assignment and "1 attempted" in assignment
    student = page_text(daily, "students/bob.html")
    assert '<div class="held"><b>Held for review</b>' in student
    assert "<td class=\"s-flagged\">90 / 100</td><td>flagged: score held for review</td>" in student


def test_nothing_to_review_says_so(tmp_path: Path, key: Key) -> None:
    students, columns = loaded(write_records(tmp_path / "r", key, [record("a", {"01": 1.0, "02": 2.0})]), key)
    assert "Nothing is held for review" in dashboard.render_index(students, columns, "C")


# --- released assignments ------------------------------------------------------------------------------------


def test_an_unreleased_assignment_is_shown_nowhere(tmp_path: Path, key: Key) -> None:
    manifest = replace(MANIFEST, assignments=tuple(replace(a, released=a.id != "02") for a in MANIFEST.assignments))
    results = write_records(tmp_path / "r", key, [record("ann", {"01": 70.0, "02": 30.0, "03": 50.0})])
    students, columns = loaded(results, key, manifest)
    assert [c.id for c in columns] == ["01", "03"]
    assert students[0].total == 120.0 and students[0].result.max_score == 200.0
    rows = list(csv.reader(io.StringIO(dashboard.grades_csv(students, columns))))
    assert rows[0][:4] == ["student", "01", "03", "total"] and rows[1][:4] == ["ann", "70", "50", "120"]
    index = dashboard.render_index(students, columns, "C")
    assert "Coroutines" not in index and "assignments/02.html" not in index and 'id="fail-02"' not in index
    assert "Coroutines" not in dashboard.render_student(students[0], columns)


# --- in a real browser ---------------------------------------------------------------------------------------

SHOTS = Path("/tmp/work/shots")  # for a person to look at


@pytest.mark.slow
def test_browser_history_code_and_review_render_with_no_problem(daily: Path) -> None:
    """Chromium (headless, from disk): no console error or request off the disk; the history charts, the code
    beside the tests (side by side when wide, stacked when narrow), To review; sorting and filtering still work."""
    from test_dashboard import CHROMIUM, CHROMIUM_ARGS  # the dashboard tests' browser, set up the same way

    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_context(viewport={"width": 1300, "height": 900}).new_page()
            page.set_default_timeout(5000)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: None if r.url.startswith("file://") else problems.append(r.url))
            page.goto((daily / "index.html").as_uri())
            assert page.locator("#to-review table.review tbody tr").count() == 1
            page.click("#grades thead th:nth-child(4) button")  # Total, ascending: the no-totals last
            names = page.eval_on_selector_all("#grades tbody tr", "rows => rows.map(r => r.dataset.student)")
            assert names == ["alice", "bob", "carol"]
            page.fill("#filter", "car")
            assert page.eval_on_selector_all("#grades tbody tr", "rows => rows.filter(r => !r.hidden).length") == 1
            page.fill("#filter", "")
            page.screenshot(path=str(SHOTS / "class.png"), full_page=True)
            page.goto((daily / "students" / "alice.html").as_uri())
            assert page.locator("#history figure.trend svg polyline").count() == 2
            assert page.locator("#history table.history tbody tr").count() == 3
            code = page.locator("#a-01 details.code pre.code")
            assert code.is_visible() and "window.hacked=1" in code.inner_text()
            assert page.evaluate("window.hacked") is None
            tests_box = page.locator("#a-01 .beside .tests").bounding_box()
            code_box = page.locator("#a-01 .beside details.code").bounding_box()
            assert tests_box and code_box and code_box["x"] > tests_box["x"] + 100  # side by side
            page.screenshot(path=str(SHOTS / "student.png"), full_page=True)
            page.set_viewport_size({"width": 600, "height": 900})
            tests_box = page.locator("#a-01 .beside .tests").bounding_box()
            code_box = page.locator("#a-01 .beside details.code").bounding_box()
            assert tests_box and code_box and code_box["y"] > tests_box["y"] + tests_box["height"] - 1  # stacked
            page.screenshot(path=str(SHOTS / "student-narrow.png"), full_page=True)
        finally:
            chromium.close()
    assert problems == []
