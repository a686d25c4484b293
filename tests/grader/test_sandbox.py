"""The OS sandbox (bubblewrap) of graded runs: what a process inside can see and do.

The probes run plain Python inside ``sandbox.command`` with no guard, so
what they show is the operating system's boundary alone. The session tests
grade through a sandboxed runner (``Session(..., sandboxed=True)``, what
``--sandbox auto`` or ``required`` gives where bubblewrap runs).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT, solution_source

from grader import sandbox
from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests
from grader.run import open_runner
from grader.stage import new_runtime

pytestmark = pytest.mark.skipif(sandbox.unavailable() is not None, reason=str(sandbox.unavailable()))

MANIFEST = load_manifest(ROOT).only(["01"])
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}


def _probe(tmp_path: Path, code: str) -> dict[str, Any]:
    """Run ``code`` (which fills the dict ``seen``) inside a sandbox of a fresh runtime and stage."""
    runtime = new_runtime(_fresh(tmp_path / "runtime"), MANIFEST)
    stage = _fresh(tmp_path / "stage")
    script = stage / "probe.py"
    script.write_text(f"import json, os, sys\nseen = {{}}\n{code}\nprint(json.dumps(seen))\n")
    command = [*sandbox.command(runtime=runtime.root, stage=stage, env=ENV),
               sys.executable, "-I", str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_the_grading_process_and_everything_outside_are_invisible(tmp_path: Path) -> None:
    """Inside, /proc lists only the sandbox's own processes: neither the grader nor any classmate's run."""
    seen = _probe(tmp_path, "seen['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
                            f"seen['grader'] = os.path.exists('/proc/{os.getpid()}/environ') and "
                            f"open('/proc/{os.getpid()}/cmdline', 'rb').read().decode(errors='replace')")
    assert len(seen["pids"]) <= 3 and max(seen["pids"]) < 10, seen  # bwrap's init, the probe (and its shell)
    assert "pytest" not in str(seen["grader"]) and "grader" not in str(seen["grader"])


def test_signals_and_pidfds_cannot_reach_the_grader(tmp_path: Path) -> None:
    """The grader's pid names no process inside: kill and pidfd_open find nothing to signal."""
    seen = _probe(tmp_path, f"pid = {os.getpid()}\n"
                            "try:\n    os.kill(pid, 0)\n    seen['kill'] = 'reached'\n"
                            "except OSError as e:\n    seen['kill'] = type(e).__name__\n"
                            "try:\n    os.close(os.pidfd_open(pid))\n    seen['pidfd'] = 'reached'\n"
                            "except OSError as e:\n    seen['pidfd'] = type(e).__name__\n")
    assert seen == {"kill": "ProcessLookupError", "pidfd": "ProcessLookupError"}


def test_the_environment_is_only_what_the_grader_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret in the grader's environment (a roster token) is not in the sandbox's."""
    monkeypatch.setenv("ROSTER_TOKEN", "s3cret-token")
    seen = _probe(tmp_path, "seen['env'] = dict(os.environ)")
    assert seen["env"] == {**ENV, "PWD": str(tmp_path / "stage")}  # bwrap sets PWD to the working folder


def test_the_course_and_other_folders_do_not_exist_inside(tmp_path: Path) -> None:
    """Neither the course repository, its hidden tests, nor a folder beside the stage (a classmate's) is there."""
    other = _fresh(tmp_path / "other-stage")
    (other / "why_async.py").write_text("classmate's work")
    paths = [str(ROOT / "solutions"), str(ROOT / "tests"), str(ROOT / "course.toml"), str(other)]
    seen = _probe(tmp_path, f"seen['exists'] = [p for p in {paths!r} if os.path.exists(p)]")
    assert seen["exists"] == [], seen


def test_nothing_in_the_sandbox_itself_is_writable(tmp_path: Path) -> None:
    """Appending to the shared runtime's pytest.ini fails (read-only file system), and so does writing to the stage,
    /tmp, /dev or the root: a run writes only to the tmpfs it mounts itself (tests/grader/test_sandbox_runs.py)."""
    code = ("import errno\n"
            f"ini = {str(tmp_path / 'runtime' / 'pytest.ini')!r}\n"
            "stage = os.path.dirname(sys.argv[0])\n"
            "for name, path in (('ini', ini), ('stage', os.path.join(stage, 'mine.txt')), ('tmp', '/tmp/x'),\n"
            "                   ('dev', '/dev/x'), ('shm', '/dev/shm/x'), ('root', '/x')):\n"
            "    try:\n        open(path, 'a').write('addopts = -p no:everything\\n')\n        seen[name] = 'written'\n"
            "    except OSError as e:\n        seen[name] = errno.errorcode[e.errno]\n")
    seen = _probe(tmp_path, code)
    assert seen == dict.fromkeys(("ini", "stage", "tmp", "dev", "shm", "root"), "EROFS")
    assert "no:everything" not in (tmp_path / "runtime" / "pytest.ini").read_text()
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == ["probe.py"]


def test_only_loopback_is_there(tmp_path: Path) -> None:
    """The network namespace has only ``lo``: a remote address is unreachable at once."""
    code = ("import socket\nseen['interfaces'] = [name for _, name in socket.if_nameindex()]\n"
            "try:\n    socket.create_connection(('10.255.255.1', 80), timeout=30)\n    seen['remote'] = 'connected'\n"
            "except OSError as e:\n    seen['remote'] = type(e).__name__\n")
    seen = _probe(tmp_path, code)
    assert seen["interfaces"] == ["lo"] and seen["remote"] == "OSError", seen


def test_a_setsid_daemon_dies_with_the_sandbox(tmp_path: Path) -> None:
    """A daemon (fork, setsid, fork) holding a pipe open is gone once the sandboxed process ends."""
    read_end, write_end = os.pipe()
    code = ("fd = int(os.environ['HOLD'])\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        import time\n        time.sleep(3600)\n    os._exit(0)\nos.close(fd)\nseen['parent'] = 'done'\n")
    runtime = new_runtime(_fresh(tmp_path / "runtime"), MANIFEST)
    stage = _fresh(tmp_path / "stage")
    script = stage / "probe.py"
    script.write_text(f"import json, os\nseen = {{}}\n{code}\nprint(json.dumps(seen))\n")
    env = {**ENV, "HOLD": str(write_end)}
    command = [*sandbox.command(runtime=runtime.root, stage=stage, env=env),
               sys.executable, "-I", str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, pass_fds=(write_end,), check=False)
    os.close(write_end)
    assert done.returncode == 0, done.stderr
    ended = threading.Event()

    def wait_for_eof() -> None:
        while os.read(read_end, 1024):
            pass
        ended.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    # End of file means every holder of the pipe is gone; a daemon that survived would hold it for an hour.
    assert ended.wait(60), "the daemon outlived the sandbox"


SOLUTION = solution_source("01")


def _submission(root: Path, source: str) -> Path:
    module = root / "assignments" / "01" / "why_async.py"
    module.parent.mkdir(parents=True)
    module.write_text(source, encoding="utf-8")
    return root


# Opened from a thread-pool thread, whose stack holds only the standard library's frames: the kind of way past the
# in-process guard that only the OS boundary stops for sure.
HOSTILE = SOLUTION + """
import glob, os
from concurrent.futures import ThreadPoolExecutor


def _append(path, data):
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(open, path, 'a').result().write(data)
    except OSError:
        pass


import coursekit
_append(os.path.join(os.path.dirname(os.path.dirname(coursekit.__file__)), 'pytest.ini'),
        'addopts = -k nothing_matches_this\\n')
for _cwd in glob.glob('/proc/*/cwd'):
    _append(os.path.join(_cwd, 'why_async.py'), '\\nraise SystemExit(3)\\n')
"""


def test_a_hostile_classmate_in_a_sandboxed_session_changes_no_one_elses_result(tmp_path: Path) -> None:
    """Graded at the same time in one sandboxed session, a submission that attacks its classmates' modules (through
    /proc) and the shared runtime's pytest.ini leaves the reference solution at exactly what it earns alone.

    Today the in-process guard refuses these writes too; the probes above show that the OS stops them without it.
    """
    alone_root = _submission(tmp_path / "alone", SOLUTION)
    with Session(MANIFEST, course_tests(MANIFEST, None)) as session:
        alone = session.grade(alone_root).to_dict()
    pairs = [(_submission(tmp_path / f"good{i}", SOLUTION), _submission(tmp_path / f"bad{i}", HOSTILE))
             for i in range(2)]
    with Session(MANIFEST, course_tests(MANIFEST, None), sandboxed=True) as session:
        assert session.runner.sandboxed  # type: ignore[attr-defined]
        results: dict[Path, Any] = {}

        def grade(root: Path) -> None:
            results[root] = session.grade(root).to_dict()

        threads = [threading.Thread(target=grade, args=(root,)) for pair in pairs for root in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = session.grade(alone_root).to_dict()
    for good, _ in pairs:
        assert _scores(results[good]) == _scores(alone) == [(100.0, "graded")]
    assert _scores(after) == _scores(alone)


def _scores(result: dict[str, Any]) -> list[tuple[float, str]]:
    return [(a["score"], a["status"]) for a in result["assignments"]]


def test_open_runner_refuses_when_no_sandbox_can_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for a sandbox where bubblewrap is missing, the runner refuses (an environment error: one line on the
    command line, exit status 1) instead of running unconfined."""
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    sandbox.unavailable.cache_clear()
    try:
        runtime = new_runtime(_fresh(tmp_path / "runtime"), MANIFEST)
        with pytest.raises(sandbox.SandboxUnavailable, match="^cannot sandbox the graded runs: bubblewrap \\(bwrap\\) "
                                                             "is not installed"), open_runner(runtime, sandboxed=True):
            pass
    finally:
        sandbox.unavailable.cache_clear()
