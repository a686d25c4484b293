"""Judged assignments: the student process sees no test, and what it is sent holds no hidden test text.

A judged assignment (``judged = true`` in course.toml) is graded as two
processes: the judge (pytest, the course's tests) never imports the
student's module, and the student process, which holds it, answers the
judge's scenario requests over a socket (``coursekit.judge``,
``grader/student_server.py``). These tests check the boundary from the
student's side: what its files and processes show, and every request it
receives.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from repo_support import ROOT, by_id, grade_json, make_submission

from grader import sandbox
from grader.manifest import load_manifest
from grader.redact import secret_lines

JUDGED = [a for a in load_manifest(ROOT).assignments if a.judged]
_NO_SANDBOX = sandbox.unavailable()

# A stub of 01 whose fetch_sync reports what the student process can see: its folders and every process
# whose /proc files it can read beyond the command line.
SPY = '''
import os

def _look():
    here = os.path.dirname(os.path.abspath(__file__))
    seen = ["cwd=" + ",".join(sorted(os.listdir("."))), "here=" + ",".join(sorted(os.listdir(here))),
            "stage=" + ",".join(sorted(os.listdir(os.path.dirname(here))))]
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        for name in ("environ", "mem", "cwd"):
            try:
                if name == "cwd":
                    seen.append(pid + "/cwd=" + ",".join(os.listdir(f"/proc/{pid}/cwd")))
                else:
                    with open(f"/proc/{pid}/{name}", "rb") as file:
                        file.read(1)
                    seen.append(pid + "/" + name)
            except OSError:
                pass
    return " | ".join(seen)

def fetch_sync(label, delay):
    raise RuntimeError("SEEN " + _look())
'''


def _seen(feedback: str) -> str:
    return feedback[feedback.index("SEEN "):]


@pytest.mark.skipif(_NO_SANDBOX is not None, reason=f"no sandbox here: {_NO_SANDBOX}")
def test_the_sandboxed_student_process_sees_its_module_and_nothing_of_the_judge(tmp_path: Path) -> None:
    stub = (ROOT / "assignments" / "01" / "why_async.py").read_text()
    source = stub.replace("def fetch_sync(", "def _stub_fetch_sync(", 1) + SPY
    result = by_id(grade_json(make_submission(tmp_path, {"01": source}), "01", extra=("--sandbox", "required")))
    [feedback] = [t["feedback"] for t in result["01"]["tests"] if t["name"] == "test_fetch_sync_blocks_with_time_sleep"]
    seen = _seen(feedback)
    assert "here=why_async.py |" in seen and "cwd=why_async.py |" in seen, seen
    # The stage shows the assignment's folder and the student's own scratch folder: no report pipe, no test.
    stage = seen.split("stage=")[1].split(" |")[0].split(",")
    assert stage[0] == "01" and all(name.startswith("scratch-") for name in stage[1:]), seen
    assert "test_" not in seen and ".jsonl" not in seen, seen
    # A process whose /proc files it can read is one of its own (its folder is the module's), or, where the
    # grader runs as root and bubblewrap's /proc shows the session sandbox, the session's fork server, whose
    # environment is the clean one every run gets; never the judge, whose folder holds the tests.
    readable: dict[str, set[str]] = {}
    for part in seen.split(" | ")[3:]:
        pid, _, entry = part.partition("/")
        readable.setdefault(pid, set()).add(entry)
    for pid, entries in readable.items():
        if "cwd=why_async.py" not in entries:
            assert entries == {"environ"}, seen
    assert "/mem" not in seen, seen


def _requests_of(assignment_id: str, tmp_path: Path) -> list[dict]:
    """Every request the tests of an assignment send to the student's side (scenarios and the scripts of fresh
    interpreters), recorded on the way out."""
    log = tmp_path / "requests.jsonl"
    plugin = tmp_path / "record_requests.py"
    plugin.write_text(
        "import json, coursekit.judge as judge\n"
        "_call = judge.LocalTransport.call\n"
        "def call(self, ref, params, module, limit):\n"
        f"    with open({str(log)!r}, 'a') as f:\n"
        "        f.write(json.dumps({'scenario': ref, 'params': params, 'module': module}) + '\\n')\n"
        "    return _call(self, ref, params, module, limit)\n"
        "judge.LocalTransport.call = call\n"
        "_fresh = judge.LocalTransport.fresh\n"
        "def fresh(self, script, module, limit):\n"
        f"    with open({str(log)!r}, 'a') as f:\n"
        "        f.write(json.dumps({'fresh': script, 'module': module}) + '\\n')\n"
        "    return _fresh(self, script, module, limit)\n"
        "judge.LocalTransport.fresh = fresh\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "record_requests", "--against", "solutions",
         f"tests/{assignment_id}", f"assignments/{assignment_id}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "COURSE_LANG": "en", "COURSE_SEED": "7"},
    )
    assert done.returncode == 0, done.stdout[-2000:]
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.slow  # runs each judged assignment's whole suite once more
@pytest.mark.parametrize("assignment", JUDGED, ids=[a.id for a in JUDGED])
def test_nothing_the_student_process_is_sent_holds_hidden_test_text(assignment, tmp_path: Path) -> None:
    hidden = [p.read_text() for p in sorted((ROOT / "tests" / assignment.id).glob("test_*.py"))]
    public = (ROOT / "assignments" / assignment.id / f"test_{assignment.module}").read_text()
    secrets = secret_lines(hidden, public)
    requests = _requests_of(assignment.id, tmp_path)
    assert requests, "the tests sent no request at all"
    assert {r["module"] for r in requests} == {assignment.module_name}
    sent = "\n".join(json.dumps(r, ensure_ascii=False) for r in requests)
    leaked = sorted(line for line in secrets if line in sent)
    assert not leaked, f"hidden test text sent to the student process: {leaked[:3]}"
    assert "test_hidden_" not in sent and "solutions/" not in sent


def test_the_probe_runtime_holds_no_hidden_test_text() -> None:
    """The scenarios ship to students (coursekit/probes): mechanics only, never a hidden test's own lines.

    An assignment's scenarios (``pNN.py``) are checked against its own hidden tests, the shared runtime against
    all of them; imports are left out (a scenario and a test may import the same helper).
    """
    public = "\n".join(p.read_text() for p in sorted((ROOT / "assignments").glob("*/test_*.py")))

    def secrets_of(pattern: str) -> set[str]:
        hidden = [p.read_text() for p in sorted((ROOT / "tests").glob(f"{pattern}/test_*.py"))]
        return {line for line in secret_lines(hidden, public) if not line.startswith(("from ", "import "))}

    everything = secrets_of("0[1-9]")
    for probe in sorted((ROOT / "coursekit" / "probes").glob("*.py")):
        own = probe.stem[1:] if probe.stem[:1] == "p" and probe.stem[1:].isdigit() else None
        secrets = secrets_of(own) if own else everything
        text = probe.read_text()
        leaked = sorted(line for line in secrets if line in text)
        assert not leaked, f"{probe.name} quotes hidden tests: {leaked[:3]}"


def test_judged_tests_never_import_the_students_module() -> None:
    """Each judged assignment's tests reach the module through scenarios only, and name it in STUDENT_MODULE."""
    for assignment in JUDGED:
        files = [ROOT / "assignments" / assignment.id / f"test_{assignment.module}",
                 *sorted((ROOT / "tests" / assignment.id).glob("test_*.py"))]
        for path in files:
            text = path.read_text()
            assert f'STUDENT_MODULE = "{assignment.module_name}"' in text, path
            for line in text.splitlines():
                words = line.replace(",", " ").split()
                if words[:1] in (["import"], ["from"]):
                    assert assignment.module_name not in words, f"{path}: {line}"


# 03's run_legacy, made to say which process started the fresh interpreter it runs in, and its run_modern which
# process runs scenarios.
WHO_STARTED = '''
import os as _os

def run_legacy(coro_fn, /, *args):
    return "STARTED-BY-" + str(_os.getppid())

def run_modern(coro_fn, /, *args, debug=False):
    raise RuntimeError("SCENARIOS-IN-" + str(_os.getpid()))
'''


@pytest.mark.parametrize("sandboxed", ["required", "off"])
def test_a_fresh_interpreter_is_started_for_the_judge_outside_the_scenarios_process(tmp_path: Path, sandboxed: str) -> None:
    """03's fresh-Python checks: the judge's script runs in an interpreter the student process's server starts,
    not the worker that holds the probes (what student code did to them there plays no part)."""
    if sandboxed == "required" and _NO_SANDBOX is not None:
        pytest.skip(f"no sandbox here: {_NO_SANDBOX}")
    source = (ROOT / "solutions" / "03" / "event_loop.py").read_text() + WHO_STARTED
    result = by_id(grade_json(make_submission(tmp_path, {"03": source}), "03", extra=("--sandbox", sandboxed)))
    feedback = {t["name"]: t["feedback"] for t in result["03"]["tests"]}
    fresh = feedback["test_run_legacy_emits_no_deprecation_warning"]
    worker = feedback["test_run_modern_returns_result_and_honours_debug"]
    started_by = fresh.split("STARTED-BY-")[1].split("'")[0]
    scenarios_in = worker.split("SCENARIOS-IN-")[1].split()[0].rstrip(".")
    assert started_by.isdigit() and scenarios_in.isdigit(), (fresh, worker)
    assert started_by != scenarios_in, (fresh, worker)
