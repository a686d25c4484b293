"""``python -m grader publish``: the student template, the hidden tests and the platform autograders.

Each published piece is run the way its platform runs it: the template's own
``pytest``, Classroom 50's ``python3 autograder.py`` in a student's checkout,
Gradescope's ``run_autograder`` in its folder layout (rebased into a
temporary folder). Grading is limited to assignment 01 to stay quick.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from repo_support import (
    CLASSROOM50_ENV,
    ROOT,
    assert_classroom50_rules,
    hidden_source_lines,
    make_submission,
    publish_course,
    run_grader,
    solution_source,
)

sys.path.insert(0, str(ROOT / "tests" / "grader"))

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
COURSE = tomllib.loads((ROOT / "course.toml").read_text(encoding="utf-8"))
ASSIGNMENTS = COURSE["assignment"]
FIRST = ASSIGNMENTS[0]  # assignment 01: every grading test uses only this one
# result.json field -> the variable Classroom 50 sets it from (design.md, "Platforms").
CLASSROOM50_FIELDS = {"classroom": "CLASSROOM", "assignment": "ASSIGNMENT", "submission": "SUBMISSION_TAG",
                      "commit": "COMMIT_URL", "release": "RELEASE_URL", "review": "REVIEW_URL"}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course published once, as an instructor would."""
    return publish_course(tmp_path_factory)


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything a CI runner's own GITHUB_* files could receive."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CLASSROOM", "AUTOGRADER_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def _texts(folder: Path) -> dict[Path, str]:
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            texts[path.relative_to(folder)] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def _test_names(*folders: Path) -> set[str]:
    """Names of the test functions in the test files of ``folders``."""
    names = set()
    for path in (p for folder in folders for p in folder.glob("test_*.py")):
        names |= set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    return names


# --- what publish writes ----------------------------------------------------------------------


def test_publish_writes_every_part(published):
    """Template, hidden-test repository, one Classroom 50 folder per slug, Gradescope zips, and an index."""
    assert (published / "README.md").is_file()
    for assignment in ASSIGNMENTS:
        nn, slug = assignment["id"], assignment["slug"]
        course_hidden = sorted(p.name for p in (ROOT / "tests" / nn).glob("test_*.py"))
        bundled = sorted(p.name for p in (published / "hidden-tests" / "tests" / nn).glob("*.py"))
        assert bundled == course_hidden and course_hidden, nn
        for name in course_hidden:
            assert (published / "hidden-tests" / "tests" / nn / name).read_bytes() == (ROOT / "tests" / nn / name).read_bytes()
        folder = published / "classroom50" / "autograders" / slug
        assert (folder / "autograder.py").is_file() and (folder / "requirements.txt").is_file()
        assert sorted(p.name for p in (folder / "tests" / nn).glob("*.py")) == course_hidden
        assert zipfile.is_zipfile(published / "gradescope" / slug / "autograder.zip")
    assert zipfile.is_zipfile(published / "gradescope" / "autograder.zip")
    assert "private" in (published / "hidden-tests" / "README.md").read_text(encoding="utf-8")


def test_publish_refuses_a_non_empty_folder(tmp_path):
    """--out must be empty or new: one line on stderr, exit 2, and what was there is untouched."""
    (tmp_path / "notes.txt").write_text("keep me")
    done = run_grader("publish", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not empty" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def _course_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "course"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".grader-cache",
                                                              "results", ".ruff_cache"))
    return copy


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_publish_refuses_a_leak_and_leaves_nothing(tmp_path):
    """A hidden test line that would reach the template (here through the README's introduction) stops
    publishing: exit 1, the leak named on one line, and the new output folder removed."""
    course = _course_copy(tmp_path)
    secret = min(hidden_source_lines())
    readme = course / "README.md"
    title, rest = readme.read_text(encoding="utf-8").split("\n", 1)
    readme.write_text(f"{title}\n\n{secret}\n{rest}", encoding="utf-8")
    out = tmp_path / "out"
    done = run_grader("publish", "--out", str(out), cwd=course)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refusing to publish template" in done.stderr and repr(secret) in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not out.exists()


def test_publish_refuses_stale_stubs(tmp_path):
    """A stub that no longer matches its solution is never published."""
    course = _course_copy(tmp_path)
    stub = course / "assignments" / FIRST["id"] / FIRST["module"]
    stub.write_text(stub.read_text(encoding="utf-8") + "\nEXTRA = 1\n", encoding="utf-8")
    done = run_grader("publish", "--out", str(tmp_path / "out"), cwd=course)
    assert done.returncode == 1 and "stale stubs" in done.stderr and FIRST["module"] in done.stderr
    assert not (tmp_path / "out").exists()


# --- the student template ------------------------------------------------------------------------


def test_template_is_a_student_repository(published):
    """The manifest, every assignment's README, stub and public tests, the test kit, the grader and the workflow."""
    template = published / "template"
    assert (template / "course.toml").read_bytes() == (ROOT / "course.toml").read_bytes()
    for assignment in ASSIGNMENTS:
        nn, module = assignment["id"], assignment["module"]
        for name in ["README.md", module, *(p.name for p in (ROOT / "assignments" / nn).glob("test_*.py"))]:
            assert (template / "assignments" / nn / name).read_bytes() == (ROOT / "assignments" / nn / name).read_bytes()
    for name in ("coursekit/__init__.py", "coursekit/pytest_plugin.py", "grader/__main__.py", "grader/cli.py",
                 "README.md", "pyproject.toml", ".gitignore"):
        assert (template / name).is_file(), name
    workflow = Path(".github/workflows/classroom.yml")
    assert (template / workflow).read_bytes() == (ROOT / workflow).read_bytes()
    assert [p.name for p in (template / workflow.parent).iterdir()] == ["classroom.yml"]


def test_template_holds_nothing_secret(published):
    """No solution, hidden test (file, name or line of code), solution marker, conftest.py, dev.py or tests/."""
    template = published / "template"
    paths = [p.relative_to(template) for p in template.rglob("*")]
    assert not [p for p in paths if p.parts[0] in ("solutions", "tests", "dev.py")]
    assert not [p for p in paths if p.name == "conftest.py" or p.name.startswith("test_hidden_")]
    texts = _texts(template)
    everything = "\n".join(texts.values())
    assert not [(name, m) for name, text in texts.items() for m in MARKERS if m in text]
    leaked = [line for line in hidden_source_lines() if line in everything]
    assert not leaked, f"hidden test source in the template: {leaked[:3]}"
    solutions = {(ROOT / "solutions" / a["id"] / a["module"]).read_text(encoding="utf-8") for a in ASSIGNMENTS}
    assert not [name for name, text in texts.items() if text in solutions]


def test_template_pyproject_is_the_courses_without_dev_extras(published):
    """Same pinned runtime dependencies and pytest settings; no dev extras; packages that exist."""
    course = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    text = (published / "template" / "pyproject.toml").read_text(encoding="utf-8")
    student = tomllib.loads(text)
    assert student["project"]["dependencies"] == course["project"]["dependencies"]
    assert "optional-dependencies" not in student["project"]
    for requirement in course["project"]["optional-dependencies"]["dev"]:
        assert requirement.split("==")[0] not in text
    ini, course_ini = student["tool"]["pytest"]["ini_options"], course["tool"]["pytest"]["ini_options"]
    assert {k: v for k, v in ini.items() if k != "testpaths"} == {k: v for k, v in course_ini.items() if k != "testpaths"}
    assert ini["testpaths"] == ["assignments"]
    packages = student["tool"]["setuptools"]["packages"]
    assert {"grader", "grader.report", "coursekit"} <= set(packages)
    for package in packages:
        assert (published / "template" / package.replace(".", "/") / "__init__.py").is_file(), package


def test_template_readme_is_for_students(published):
    """The course map links every assignment's README; the guide is the student's, nothing of the instructor's."""
    text = (published / "template" / "README.md").read_text(encoding="utf-8")
    for assignment in ASSIGNMENTS:
        link = f"(assignments/{assignment['id']}/README.md)"
        assert f"| {assignment['id']} | [{assignment['title']}]{link}" in text
    assert "pytest assignments/" in text and "python -m grader grade" in text
    for instructor_only in ("solutions/", "dev.py", "--against", "Instructor guide", "grader check", "publish", "tests/"):
        assert instructor_only not in text, instructor_only


def test_template_runs_its_public_tests(published, tmp_path):
    """In the template, `python -m pytest assignments/01` fails on the stub and passes on the reference solution."""
    template = tmp_path / "template"
    shutil.copytree(published / "template", template)
    args = [sys.executable, "-m", "pytest", f"assignments/{FIRST['id']}", "-q", "-p", "no:randomly"]
    stub = subprocess.run(args, cwd=template, capture_output=True, text=True, env=_clean_env(), timeout=120, check=False)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert re.search(r"\d+ failed", stub.stdout) and " passed" not in stub.stdout
    (template / "assignments" / FIRST["id"] / FIRST["module"]).write_text(solution_source(FIRST["id"]), encoding="utf-8")
    solved = subprocess.run(args, cwd=template, capture_output=True, text=True, env=_clean_env(), timeout=120, check=False)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert re.search(r"\d+ passed", solved.stdout)


# --- Classroom 50 --------------------------------------------------------------------------------


def _classroom50_bundle(published: Path) -> Path:
    return published / "classroom50" / "autograders" / FIRST["slug"]


def _run_classroom50(bundle: Path, checkout: Path, script: Path | None = None, **extra: str) -> dict[str, Any]:
    """Run the autograder as Classroom 50 does; its exit status must be 0 and result.json valid."""
    env = _clean_env(**CLASSROOM50_ENV, CLASSROOM50_BUNDLE_DIR=str(bundle), **extra)
    script = script or bundle / "autograder.py"
    done = subprocess.run([sys.executable, str(script)], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((checkout / "result.json").read_text(encoding="utf-8"))
    _assert_classroom50_rules(document)
    assert (checkout / "release-body.md").read_text(encoding="utf-8").strip()
    return document


def _assert_classroom50_rules(document: dict[str, Any]) -> None:
    """Classroom 50's rules for result.json, with the platform's values where they belong."""
    assert_classroom50_rules(document)
    for field, var in CLASSROOM50_FIELDS.items():
        assert document[field] == CLASSROOM50_ENV[var]


def test_classroom50_reference_solution_gets_full_marks(published, tmp_path):
    """`python3 autograder.py` in a checkout of the reference solution: exit 0, valid result.json, 100/100."""
    checkout = make_submission(tmp_path, {})
    document = _run_classroom50(_classroom50_bundle(published), checkout)
    assert document["score"] == document["max-score"] == FIRST["points"]
    assert all(t["passed"] and t["score"] == t["max-score"] for t in document["tests"])
    assert {t["visibility"] for t in document["tests"]} == {"public", "hidden"}
    assert {t["test-name"].split("/")[0] for t in document["tests"]} == {FIRST["id"]}
    body = (checkout / "release-body.md").read_text(encoding="utf-8")
    assert body.startswith(f"## Score: {FIRST['points']} / {FIRST['points']}")


def test_classroom50_stub_scores_zero(published, tmp_path):
    """The stub earns nothing, and the autograder still exits 0 with a valid result."""
    stub = (ROOT / "assignments" / FIRST["id"] / FIRST["module"]).read_text(encoding="utf-8")
    checkout = make_submission(tmp_path, {FIRST["id"]: stub})
    document = _run_classroom50(_classroom50_bundle(published), checkout)
    assert document["score"] == 0 and document["max-score"] == FIRST["points"]
    assert not any(t["passed"] for t in document["tests"])


FORGED_CONFTEST = '''\
import pathlib
import pytest

pathlib.Path(__file__).with_name("FORGED_CONFTEST_RAN").write_text("yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
'''
FORGED_MODULE = 'import pathlib\npathlib.Path("FORGED_{name}_RAN").write_text("yes")\n'
FORGED_TESTS = 'import pytest\n\n\n@pytest.mark.points(100)\ndef test_forged():\n    """Free points."""\n'


def test_classroom50_trusts_nothing_but_the_contract_file(published, tmp_path):
    """A stub checkout with a forged conftest.py, public tests, grader, coursekit and a shadowing json.py
    scores what the stub earned (nothing) on the course's own tests, even run as `python3 autograder.py`
    from inside the checkout."""
    bundle = _classroom50_bundle(published)
    stub = (ROOT / "assignments" / FIRST["id"] / FIRST["module"]).read_text(encoding="utf-8")
    checkout = make_submission(tmp_path, {FIRST["id"]: stub})
    folder = checkout / "assignments" / FIRST["id"]
    for where in (checkout, folder):
        (where / "conftest.py").write_text(FORGED_CONFTEST)
    for public in folder.glob("test_*.py"):
        public.write_text(FORGED_TESTS)
    for package in ("grader", "coursekit"):
        (checkout / package).mkdir()
        (checkout / package / "__init__.py").write_text(FORGED_MODULE.format(name=package.upper()))
    (checkout / "json.py").write_text(FORGED_MODULE.format(name="JSON"))
    shutil.copyfile(bundle / "autograder.py", checkout / "autograder.py")

    document = _run_classroom50(bundle, checkout, script=checkout / "autograder.py")
    assert document["score"] == 0 and document["max-score"] == FIRST["points"]
    graded = {t["test-name"].split("/", 1)[1] for t in document["tests"]}
    assert graded == _test_names(bundle / "assignments" / FIRST["id"], bundle / "tests" / FIRST["id"])
    assert not list(checkout.rglob("FORGED_*_RAN"))


def test_classroom50_failure_still_writes_a_valid_result(published, tmp_path):
    """When grading itself fails (here: a broken bundle) the autograder exits 0 with status error, says why,
    and writes a valid result.json with no score (0 of 0, no tests)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(_classroom50_bundle(published), bundle)
    (bundle / "grader" / "pipeline.py").unlink()
    checkout = make_submission(tmp_path, {})
    outputs = tmp_path / "github_output"
    document = _run_classroom50(bundle, checkout, GITHUB_OUTPUT=str(outputs))
    assert (document["score"], document["max-score"], document["tests"]) == (0, 0, [])
    assert "Grading failed" in (checkout / "release-body.md").read_text(encoding="utf-8")
    assert "status=error" in outputs.read_text(encoding="utf-8")


# --- Gradescope ----------------------------------------------------------------------------------


def _unzip(archive: Path, dest: Path) -> None:
    """Extract like unzip does, keeping the executable bits."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            path = dest / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(opened.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def _run_gradescope(archive: Path, root: Path, upload: dict[str, str]) -> dict[str, Any]:
    """Gradescope's layout under ``root``: the zip in source/, the upload in submission/; run run_autograder."""
    _unzip(archive, root / "source")
    for name, text in upload.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text, encoding="utf-8")
    (root / "results").mkdir()
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    env = _clean_env(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _assert_full_marks_on_first(results: dict[str, Any]) -> None:
    assert set(results) >= {"score", "execution_time", "output", "tests"}
    assert results["score"] == FIRST["points"]
    assert {t["name"].split(" ")[0] for t in results["tests"]} == {FIRST["id"]}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed" and test["score"] == test["max_score"] > 0
    hidden = {t["name"].split(" ", 1)[1] for t in results["tests"] if t["visibility"] == "after_due_date"}
    visible = {t["name"].split(" ", 1)[1] for t in results["tests"] if t["visibility"] == "visible"}
    assert hidden == _test_names(ROOT / "tests" / FIRST["id"])
    assert visible == _test_names(ROOT / "assignments" / FIRST["id"])


def test_gradescope_zip_is_an_autograder(published):
    """setup.sh and run_autograder at the zip's root, executable and valid shell; pinned requirements; no solutions."""
    for archive in [published / "gradescope" / "autograder.zip", published / "gradescope" / FIRST["slug"] / "autograder.zip"]:
        with zipfile.ZipFile(archive) as opened:
            infos = {info.filename: info for info in opened.infolist()}
            for script in ("setup.sh", "run_autograder"):
                assert (infos[script].external_attr >> 16) & 0o111, script
                check = subprocess.run(["bash", "-n"], input=opened.read(script).decode(), capture_output=True, text=True,
                                       check=False)
                assert check.returncode == 0, check.stderr
            course = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
            assert opened.read("requirements.txt").decode().split() == course["project"]["dependencies"]
            assert not [n for n in infos if n.startswith("solutions/") or n.endswith("conftest.py")]
            assert not [n for n in infos if any(m.encode() in opened.read(n) for m in MARKERS)]


def test_gradescope_grades_a_repository_upload(published, tmp_path):
    """The assignment's zip grades a whole-repository upload (zipped inside a top folder) on that
    assignment only: full marks, hidden tests hidden."""
    upload = make_submission(tmp_path / "repo", {})
    files = {f"student-repo/{p.relative_to(upload)}": p.read_text(encoding="utf-8") for p in upload.rglob("*.py")}
    results = _run_gradescope(published / "gradescope" / FIRST["slug"] / "autograder.zip", tmp_path / "autograder", files)
    _assert_full_marks_on_first(results)


def test_gradescope_grades_a_loose_file_upload(published, tmp_path):
    """The whole-course zip grades what a loose-file upload holds: the module of 01 alone, full marks."""
    results = _run_gradescope(published / "gradescope" / "autograder.zip", tmp_path,
                              {FIRST["module"]: solution_source(FIRST["id"])})
    _assert_full_marks_on_first(results)
