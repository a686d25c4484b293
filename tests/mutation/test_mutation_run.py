"""``python -m mutation`` end to end on assignment 01: the real grader kills a mutant, the solution survives."""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from repo_support import ROOT

from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests
from mutation import __main__ as cli
from mutation.mutator import Mutant, mutants_of
from mutation.run import AssignmentReport, Equivalent, Outcome, grade_mutants, load_equivalents

MANIFEST = load_manifest(ROOT).only(["01"])
ASSIGNMENT = MANIFEST.assignments[0]
SOLUTION = (ROOT / "solutions" / "01" / ASSIGNMENT.module).read_text(encoding="utf-8")


def _unchanged(mutant_id: str) -> Mutant:
    """The solution itself dressed as a mutant: what a mutant the tests cannot catch looks like to the tool."""
    return Mutant(id=mutant_id, assignment="01", function="fetch_sync", operator="statement", line=16,
                  original="", mutated="", source=SOLUTION)


def test_a_wrong_mutant_is_killed_and_the_solution_survives() -> None:
    [wrong] = [m for m in mutants_of(SOLUTION, "01").mutants
               if m.function == "fetch_sync" and m.operator == "return"]  # returns None, not the label
    survivor, listed = _unchanged("01:fake:statement:0:00000000"), _unchanged("01:fake:statement:1:11111111")
    choice = _unchanged("01:fake:statement:2:22222222")
    equivalents = {listed.id: Equivalent(listed.id, "the solution itself", "equivalent"),
                   choice.id: Equivalent(choice.id, "a choice the README leaves open", "contract"),
                   wrong.id: Equivalent(wrong.id, "listed by mistake", "contract")}
    with Session(MANIFEST, course_tests(MANIFEST, None)) as session, \
            tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(2) as pool:
        outcomes = list(grade_mutants(session, ASSIGNMENT, [wrong, survivor, listed, choice], pool=pool,
                                      scratch=Path(scratch), equivalents=equivalents))
    assert [o.verdict for o in outcomes] == ["killed", "survived", "equivalent", "contract"]
    killed, survived, _, _ = outcomes
    assert killed.score < killed.max_score and "test_fetch_sync_blocks_with_time_sleep" in killed.failed
    assert killed.listed_kind == "contract"  # a wrong listing keeps its kind, to say which list is wrong
    assert survived.score == survived.max_score == 100 and survived.failed == ()

    report = AssignmentReport("01", outcomes=outcomes)
    assert report.percent_killed == 50.0  # the listed mutants, of either kind, count on neither side
    assert [o.mutant.id for o in report.wrongly_equivalent] == [wrong.id]
    text = cli.survivors_text(report, ASSIGNMENT.module)
    assert survivor.id in text and wrong.id not in text and listed.id not in text and choice.id not in text


def test_the_report_counts_each_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    mutant = _unchanged("01:x:statement:0:00000000")
    report = AssignmentReport("01", outcomes=[Outcome(mutant, "killed", 90, 100, ("t",)),
                                              Outcome(mutant, "killed", 0, 100, ("t",)),
                                              Outcome(mutant, "survived", 100, 100, ()),
                                              Outcome(mutant, "equivalent", 100, 100, (), "why", "equivalent"),
                                              Outcome(mutant, "contract", 100, 100, (), "why", "contract"),
                                              Outcome(mutant, "contract", 100, 100, (), "why", "contract")])
    data = report.to_dict()
    assert (data["killed"], data["survived"], data["equivalent"], data["contract"], data["total"]) == (2, 1, 1, 2, 6)
    assert data["percent_killed"] == pytest.approx(200 / 3)  # neither listed kind counts
    assert [m.get("listed_kind") for m in data["mutants"]] == [None, None, None, "equivalent", "contract", "contract"]
    line = cli.summary_line(report)
    assert "equivalent 1, contract choice 2, total 6" in line and line.endswith("66.7 % killed")
    cli._print_report([report], {"01": ASSIGNMENT.module})
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert "equivalent" in header and "contract choice" in header
    assert row.split()[:6] == ["01", "2", "1", "1", "2", "6"]


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_every_listed_equivalent_has_a_reason_and_is_still_generated() -> None:
    equivalents = load_equivalents()
    course = load_manifest(ROOT)
    for assignment_id in sorted({key.split(":")[0] for key in equivalents}):
        assignment = course.get(assignment_id)
        source = (ROOT / "solutions" / assignment.id / assignment.module).read_text(encoding="utf-8")
        generated = {m.id for m in mutants_of(source, assignment.id).mutants}
        for key in (k for k in equivalents if k.startswith(f"{assignment_id}:")):
            assert key in generated, f"mutation/equivalent.toml: {key} is no longer generated (stale)"
            assert len(equivalents[key].why) > 40, key
            if equivalents[key].kind == "contract":  # the choice must be the README's, not the tool's
                assert "README" in equivalents[key].why, f"{key}: a contract choice names the README"


def test_an_equivalent_entry_without_a_reason_or_twice_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "equivalent.toml"
    bad.write_text('[[equivalent]]\nid = "01:f:statement:0:00000000"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="needs an id and a why"):
        load_equivalents(bad)
    entry = '[[equivalent]]\nid = "01:f:statement:0:00000000"\nkind = "equivalent"\nwhy = "a reason long enough"\n'
    bad.write_text(entry * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        load_equivalents(bad)


@pytest.mark.parametrize("kind_line", ["", 'kind = "harmless"\n'], ids=["missing", "unknown"])
def test_an_entry_without_a_valid_kind_is_refused(tmp_path: Path, kind_line: str,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "equivalent.toml"
    bad.write_text(f'[[equivalent]]\nid = "01:f:statement:0:00000000"\n{kind_line}why = "a reason long enough"\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match='needs kind = "equivalent" or "contract"'):
        load_equivalents(bad)
    monkeypatch.setattr(cli, "load_equivalents", lambda: load_equivalents(bad))
    assert cli.main(["--assignment", "01", "--list"]) == 2
    assert "01:f:statement:0:00000000" in capsys.readouterr().err


def test_both_kinds_load(tmp_path: Path) -> None:
    good = tmp_path / "equivalent.toml"
    good.write_text("".join(f'[[equivalent]]\nid = "01:f:statement:{i}:0000000{i}"\nkind = "{kind}"\n'
                            f'why = "a reason long enough"\n' for i, kind in enumerate(["equivalent", "contract"])),
                    encoding="utf-8")
    assert [e.kind for e in load_equivalents(good).values()] == ["equivalent", "contract"]


def test_list_shows_mutants_without_grading(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--assignment", "01", "--list", "--mutant", "01:fetch_sync:return"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("01:fetch_sync:return:0:") and "-    return label\n+    return None" in out


def test_an_unknown_assignment_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--assignment", "99", "--list"]) == 2
    assert "99" in capsys.readouterr().err
