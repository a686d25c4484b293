"""Each sandboxed run's own namespaces (grader/zygote.py's ``isolate``): what a graded run can write, reach and undo.

The probes are pytest tests staged like an assignment's, beside a
classmate's stage, and run by the session's runners: forked from the
sandboxed fork server that sees every stage of the session, and spawned in a
sandbox of their own, with no ``--grader-module``: the guard is never armed,
so what they show is the operating system's boundary alone. A probe fills
the dict ``seen`` and prints it; the parent reads it from the run's output.
"""
from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT

from grader import sandbox
from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests
from grader.pytest_options import command_args
from grader.run import Job, RunNotIsolated, RunOutput, SpawnRunner, open_runner
from grader.stage import Stage, new_runtime

pytestmark = pytest.mark.skipif(sandbox.unavailable() is not None, reason=str(sandbox.unavailable()))

MANIFEST = load_manifest(ROOT).only(["01"])
# Spawned runs (the fall-back) are slower: they run in `dev.py check`.
WAYS = pytest.mark.parametrize("fork", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["forked", "spawned"])
MARK = "SEEN:"


def _stage(tmp_path: Path) -> tuple[Stage, Path]:
    """A stage in a session's folder of stages, beside a classmate's."""
    stage = Stage(tmp_path / "stages" / "mine", new_runtime(tmp_path / "runtime", MANIFEST))
    stage.root.mkdir(parents=True)
    classmate = tmp_path / "stages" / "classmate" / "01"
    classmate.mkdir(parents=True)
    (classmate / "why_async.py").write_text("SECRET = 'classmate'\n")
    folder = stage.root / "01"
    folder.mkdir()
    (folder / "why_async.py").write_text("ANSWER = 42\n")
    (stage.root / "02").mkdir()  # another assignment's folder
    return stage, folder


def _probe_file(folder: Path, code: str) -> None:
    body = textwrap.indent(textwrap.dedent(code), "    ")
    (folder / "test_probe.py").write_text(
        "import errno, json, os, socket, sys\n\n\ndef test_probe():\n    seen = {}\n"
        f"{body}\n    print({MARK!r} + json.dumps(seen), flush=True)\n")


def _run(tmp_path: Path, code: str, *, fork: bool = True, network: str = "none", disk_mb: int = 64,
         scratch: str | None = None, then: Callable[[], object] = lambda: None) -> tuple[dict[str, Any], RunOutput,
                                                                                         Stage]:
    """Run the probe ``code`` in one sandboxed run; what it saw, the run's output, and the stage.

    ``then`` is called once the run has ended, while the runner (and its fork server) is still open.
    """
    stage, folder = _stage(tmp_path)
    _probe_file(folder, code)
    limits = replace(MANIFEST.limits, disk_mb=disk_mb)
    with open_runner(stage.runtime, fork=fork, sandboxed=True, stages=stage.root.parent) as runner:
        job = Job(stage, [*command_args(shuffle_seed=None), str(folder)], cwd=folder,
                  scratch=stage.scratch("probe") if scratch is None else stage.root / scratch,
                  report=stage.root / "probe.jsonl", limits=limits, network=network)
        output = runner.run(job)
        then()
    lines = [line for line in output.stderr_tail.splitlines() if line.startswith(MARK)]
    assert lines, output.stderr_tail
    return json.loads(lines[-1][len(MARK):]), output, stage


@WAYS
def test_a_run_writes_nothing_to_the_stage_and_its_scratch_stays_in_memory(tmp_path: Path, fork: bool) -> None:
    """Its own module, a test file, a conftest.py in another assignment's folder: EROFS. Its HOME and TMPDIR take
    writes, and none of them, nor anything else the run made, is in the stage folder on the host afterwards. Of
    the session's stages it sees its own only: a classmate's does not exist."""
    code = """
    here = os.path.dirname(__file__)
    other = os.path.join(os.path.dirname(here), '02')
    targets = {'module': os.path.join(here, 'why_async.py'), 'test': __file__,
               'conftest': os.path.join(other, 'conftest.py'), 'new': os.path.join(here, 'new.py')}
    for name, path in targets.items():
        try:
            with open(path, 'a') as file:
                file.write('raise SystemExit(3)\\n')
            seen[name] = 'written'
        except OSError as error:
            seen[name] = errno.errorcode[error.errno]
    for name in ('HOME', 'TMPDIR'):
        with open(os.path.join(os.environ[name], name.lower() + '.txt'), 'w') as file:
            file.write('mine')
    seen['scratch'] = sorted(os.listdir(os.environ['TMPDIR']))
    stages = os.path.dirname(os.path.dirname(here))
    seen['stages'] = sorted(os.listdir(stages))
    seen['classmate'] = os.path.exists(os.path.join(stages, 'classmate', '01', 'why_async.py'))
    try:
        open(os.path.join(stages, 'new.txt'), 'w')
        seen['beside'] = 'written'
    except OSError as error:
        seen['beside'] = errno.errorcode[error.errno]
    """
    seen, _, stage = _run(tmp_path, code, fork=fork)
    assert {k: seen[k] for k in ("module", "test", "conftest", "new")} == dict.fromkeys(
        ("module", "test", "conftest", "new"), "EROFS")
    assert seen["scratch"] == ["home.txt", "tmpdir.txt"]
    assert (seen["stages"], seen["classmate"], seen["beside"]) == (["mine"], False, "EROFS")
    # What the grader put there, and nothing else: no file of the run's, no report or pipe left behind.
    assert sorted(str(p.relative_to(stage.root)) for p in stage.root.rglob("*")) == [
        "01", "01/test_probe.py", "01/why_async.py", "02", "scratch-probe"]
    assert (stage.root / "01" / "why_async.py").read_text() == "ANSWER = 42\n"


@WAYS
def test_the_scratch_holds_at_most_disk_mb(tmp_path: Path, fork: bool) -> None:
    """Files each below disk_mb (RLIMIT_FSIZE allows them) fill the scratch tmpfs: past disk_mb, ENOSPC."""
    code = """
    written = 0
    try:
        for number in range(8):
            with open(os.path.join(os.environ['TMPDIR'], f'part{number}'), 'wb') as file:
                for _ in range(6):
                    file.write(b'x' * 65536)
            written += 1
        seen['fill'] = 'written'
    except OSError as error:
        seen['fill'] = errno.errorcode[error.errno]
    seen['files'] = written
    """
    seen, _, _ = _run(tmp_path, code, fork=fork, disk_mb=1)
    assert seen == {"fill": "ENOSPC", "files": 2}  # 384 KB each: two fit in 1 MB, the third does not


NETWORK_PROBE = """
seen['interfaces'] = [name for _, name in socket.if_nameindex()]
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen()
try:
    client = socket.create_connection(server.getsockname(), timeout=10)
    client.sendall(b'ping')
    connection, _ = server.accept()
    seen['loopback'] = connection.recv(4).decode()
except OSError as error:
    seen['loopback'] = errno.errorcode[error.errno]
try:
    socket.create_connection(('10.255.255.1', 80), timeout=10)
    seen['remote'] = 'connected'
except OSError as error:
    seen['remote'] = errno.errorcode.get(error.errno, 'timeout')
"""


@WAYS
def test_network_none_has_no_interface_up(tmp_path: Path, fork: bool) -> None:
    """With ``network = "none"`` not even 127.0.0.1 can be reached (``lo`` exists but is down), nor anything else."""
    seen, _, _ = _run(tmp_path, NETWORK_PROBE, fork=fork, network="none")
    assert seen == {"interfaces": ["lo"], "loopback": "ENETUNREACH", "remote": "ENETUNREACH"}


@WAYS
def test_network_loopback_has_lo(tmp_path: Path, fork: bool) -> None:
    """With ``network = "loopback"`` a server on 127.0.0.1 answers a client in the same run; nothing else answers."""
    seen, _, _ = _run(tmp_path, NETWORK_PROBE, fork=fork, network="loopback")
    assert seen == {"interfaces": ["lo"], "loopback": "ping", "remote": "ENETUNREACH"}


UNDO_PROBE = """
import ctypes, fcntl, struct
libc = ctypes.CDLL(None, use_errno=True)

def outcome(result):
    return 'done' if result == 0 else errno.errorcode[ctypes.get_errno()]

scratch = os.environ['TMPDIR'].encode()
stage = os.path.dirname(os.path.dirname(__file__)).encode()
MS_REMOUNT, MS_BIND = 32, 4096
seen['umount_scratch'] = outcome(libc.umount2(scratch, 2))
seen['grow_scratch'] = outcome(libc.mount(b'none', scratch, None, MS_REMOUNT, b'size=1073741824'))
seen['stage_rw'] = outcome(libc.mount(b'none', stage, None, MS_REMOUNT | MS_BIND, None))
seen['umount_stage'] = outcome(libc.umount2(stage, 2))
seen['new_tmpfs'] = outcome(libc.mount(b'tmpfs', stage, b'tmpfs', 0, None))
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    try:
        fcntl.ioctl(sock, 0x8914, struct.pack('16sH22x', b'lo', 1))
        seen['lo_up'] = 'done'
    except OSError as error:
        seen['lo_up'] = errno.errorcode[error.errno]
seen['pid'] = os.getpid()
"""


@WAYS
def test_graded_code_cannot_undo_its_mounts_or_bring_lo_up(tmp_path: Path, fork: bool) -> None:
    """The run holds every capability in its own user namespace, which owns none of its mounts or its network:
    unmounting or growing the scratch tmpfs, making the stage writable, mounting over it, bringing ``lo`` up fail."""
    seen, _, _ = _run(tmp_path, UNDO_PROBE, fork=fork)
    pid = seen.pop("pid")
    assert seen == {"umount_scratch": "EPERM", "grow_scratch": "EPERM", "stage_rw": "EPERM", "umount_stage": "EPERM",
                    "new_tmpfs": "EPERM", "lo_up": "EPERM"}
    assert pid == 2  # the run's test process, under the init of a PID namespace of its own


@WAYS
def test_nothing_a_run_starts_outlives_it(tmp_path: Path, fork: bool) -> None:
    """A daemon (fork, setsid, exec sleep) escapes the run's session, but not its PID namespace: once the run has
    ended no such process exists, though the sandbox of the fork server that forked the run is still there."""
    marker = f"{os.getpid() % 1000}.{len(str(tmp_path)):03d}417"
    code = f"""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sleep', ['sleep', '{marker}'])
        os._exit(0)
    os.wait()
    seen['started'] = True
    """
    left: list[list[int]] = []
    seen, _, _ = _run(tmp_path, code, fork=fork, then=lambda: left.append(_processes_with(marker)))
    assert seen == {"started": True}
    assert left == [[]]


def _processes_with(argument: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argument.encode() in words:
                found.append(int(entry.name))
    return found


@WAYS
def test_a_run_that_could_not_be_isolated_is_the_graders_fault(tmp_path: Path, fork: bool) -> None:
    """A run whose namespaces could not be made (here: its scratch folder is missing) raises RunNotIsolated, an
    environment fault, instead of returning an exit status that would be scored as the student's."""
    stage, folder = _stage(tmp_path)
    _probe_file(folder, "seen['ran'] = True")
    with open_runner(stage.runtime, fork=fork, sandboxed=True, stages=stage.root.parent) as runner, \
            pytest.raises(RunNotIsolated):
        runner.run(Job(stage, [*command_args(shuffle_seed=None), str(folder)], cwd=folder,
                       scratch=stage.root / "no-such-folder", report=stage.root / "probe.jsonl",
                       limits=MANIFEST.limits))


def test_one_sandboxed_fork_server_serves_every_submission_of_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submissions graded one after another in a sandboxed session all run forked from the session's one server.

    bubblewrap's --die-with-parent ends a sandbox with the thread that started it: a server started by the first
    submission's worker thread died with that submission, and every later run was spawned, a second slower each.
    """
    def refuse(runner: SpawnRunner, job: Job) -> RunOutput:
        raise AssertionError(f"a run was spawned: {job.report.name}")

    monkeypatch.setattr(SpawnRunner, "run", refuse)
    with Session(MANIFEST, course_tests(MANIFEST, None), sandboxed=True) as session:
        scores = [session.grade(ROOT / "solutions").score for _ in range(3)]
    assert scores == [100, 100, 100]
