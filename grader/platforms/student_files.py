"""The student template's own files: README.md, pyproject.toml and .gitignore, generated.

The README comes from course.toml (the course map) and the course README's
introduction; pyproject.toml is the course's own, minus what only the
instructor needs, so the two never drift apart.
"""
from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

from grader.catalog import CourseError
from grader.manifest import Manifest

GITIGNORE = """\
.venv/
__pycache__/
*.pyc
*.egg-info/
.pytest_cache/
build/
dist/
.grader-cache/
results/
.hidden-tests/
"""

PYPROJECT_HEADER = """\
# Written by `python -m grader publish` from the course's own pyproject.toml:
# the same pinned dependencies and pytest settings the grader uses, so a test
# that passes here passes when graded. Exact pins on purpose: keep them.
"""


def gitignore() -> str:
    """The template's .gitignore."""
    return GITIGNORE


def student_pyproject(course_pyproject: Path, packages: list[str]) -> str:
    """The course's pyproject.toml for students: no dev extras, the template's packages, tests under assignments/."""
    data = tomllib.loads(course_pyproject.read_text(encoding="utf-8"))
    student = copy.deepcopy(data)
    student["project"].pop("optional-dependencies", None)
    student.setdefault("tool", {}).setdefault("setuptools", {})["packages"] = packages
    # The template has no tests/ folder: a bare `pytest` runs the public tests.
    student["tool"].setdefault("pytest", {}).setdefault("ini_options", {})["testpaths"] = ["assignments"]
    try:
        text = PYPROJECT_HEADER + dumps_toml(student)
        same = tomllib.loads(text) == student
    except (TypeError, tomllib.TOMLDecodeError) as exc:
        raise CourseError(f"cannot write the student pyproject.toml: {exc}") from None
    if not same:
        raise CourseError("the student pyproject.toml does not read back as the course's: report this bug")
    return text


def dumps_toml(data: dict[str, Any]) -> str:
    """TOML for nested tables of strings, numbers, booleans and lists (what a pyproject.toml holds)."""
    lines: list[str] = []
    _table(lines, [], data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], path: list[str], table: dict[str, Any], *, array_item: bool = False) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) and not _is_table_array(v)}
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in table.items() if _is_table_array(v)}
    name = ".".join(_key(part) for part in path)
    if array_item:
        lines += ["", f"[[{name}]]"]
    elif path and (plain or not (nested or arrays)):
        lines += ["", f"[{name}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in plain.items()]
    for key, value in nested.items():
        _table(lines, [*path, key], value)
    for key, items in arrays.items():
        for item in items:
            _table(lines, [*path, key], item, array_item=True)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        items = [_value(item) for item in value]
        one_line = f"[{', '.join(items)}]"
        if len(one_line) <= 80:
            return one_line
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def readme(manifest: Manifest, course_readme: Path, *, classroom50: bool = False) -> str:
    """The student README: what the course is, the course map, and the student guide (for a template
    graded by its own *Autograding* workflow, or with ``classroom50`` by Classroom 50's)."""
    first = manifest.assignments[0]
    out = [f"# {manifest.title}", "", _introduction(manifest, course_readme), ""]
    out += [
        "This repository is your copy of the course: each assignment's instructions, the module you",
        "complete, its public tests, and the grader that scores your work.",
        "",
        "## Quick start",
        "",
        "With Python 3.11, 3.12 or 3.13:",
        "",
        "```",
        "python3 -m venv .venv",
        ".venv/bin/pip install -e .                      # once: the pinned dependencies",
        f".venv/bin/python -m pytest assignments/{first.id}         # the public tests of assignment {first.id}",
        f".venv/bin/python -m grader grade --assignment {first.id}  # your score, as the grader sees it",
        "```",
        "",
        "## Course map",
        "",
        "| # | Assignment | Article | Topics |",
        "|---|---|---|---|",
    ]
    for a in manifest.assignments:
        link = f"[{_cell(a.title)}](assignments/{a.id}/README.md)"
        out.append(f"| {a.id} | {link} | {_cell(a.article)} | {_cell(a.topics)} |")
    out += ["", *_guide(manifest, classroom50)]
    return "\n".join(out) + "\n"


def _introduction(manifest: Manifest, course_readme: Path) -> str:
    """The course README's opening paragraphs (before its first section), else one line from course.toml."""
    try:
        text = course_readme.read_text(encoding="utf-8")
    except OSError:
        text = ""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        body = []
        for line in lines[1:]:
            if line.startswith("## "):
                break
            body.append(line)
        intro = "\n".join(body).strip()
        if intro:
            return intro
    return f"{len(manifest.assignments)} auto-graded assignments on {manifest.title}."


def _grading_step(classroom50: bool) -> list[str]:
    if classroom50:
        return [
            "5. Commit and submit (`gh student submit`, or push if your course grades every push).",
            "   Classroom 50 grades the submission: the public tests, plus the hidden tests of your",
            "   course, and publishes your score and feedback as the submission's release. For a",
            "   hidden test you see its name, what it expected and what your code raised, never its source.",
        ]
    return [
        "5. Commit and push. The *Autograding* workflow grades every push: the public tests, plus",
        "   hidden tests if your course provides them, and shows your score and feedback in the",
        "   run's summary. For a hidden test you see its name, what it expected and what your",
        "   code raised, never its source. (If your course grades on Classroom 50 or Gradescope",
        "   instead, the same grader and tests run there.)",
    ]


def _guide(manifest: Manifest, classroom50: bool = False) -> list[str]:
    example = manifest.assignments[min(2, len(manifest.assignments) - 1)]
    nn, module = example.id, example.module
    return [
        "## Student guide",
        "",
        "1. Set up once: `python3 -m venv .venv && .venv/bin/pip install -e .` (then",
        "   `source .venv/bin/activate`, or prefix the commands below with `.venv/bin/`).",
        f"2. Read `assignments/{nn}/README.md`, then fill in every `# YOUR CODE HERE` in",
        f"   `assignments/{nn}/{module}`. Keep the names and signatures; add helpers freely.",
        "   Only the standard library and aiohttp may be imported.",
        f"3. Run the public tests: `python -m pytest assignments/{nn}` (or `python -m pytest` for all).",
        "   A failing test prints what was expected and, for the usual asyncio mistakes, a",
        "   **Hint** section. Tests run on a virtual clock: `await asyncio.sleep(30)` takes no",
        "   real time, and a `time.sleep` inside a coroutine fails at once.",
        f"4. See what the grader sees: `python -m grader grade --assignment {nn}` grades your module",
        "   in isolation, the way the graded run does (it needs Linux or macOS; on Windows, use WSL).",
        *_grading_step(classroom50),
        "",
        "Only `assignments/NN/<module>.py` is graded. Changing the tests, adding a `conftest.py`",
        "or editing the grader changes nothing in your grade: grading always uses the course's",
        "own copies. The public tests here are a part of what is graded; the hidden tests",
        "check the same contract more thoroughly, so make the public tests pass, then make sure",
        "your code does what the README asks in every case it describes.",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
