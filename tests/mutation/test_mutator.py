"""The mutator of ``python -m mutation``: what it mutates, that every mutant is valid and different, stable ids."""
from __future__ import annotations

import ast
import textwrap

import pytest
from repo_support import ROOT

from grader.manifest import Assignment, load_manifest
from mutation.mutator import OPERATORS, Mutant, mutants_of, solution_regions

# Every operator has something to do here, and code outside the markers must stay untouched.
SAMPLE = textwrap.dedent('''\
    import asyncio


    def outside(a, b):
        return a + b < 3


    async def inside(items, lock, task, flags):
        """Docstring: never mutated."""
        ### BEGIN SOLUTION
        total = 0
        for item in items[1:]:
            if item is None or not flags:
                continue
            if item > 10:
                break
            total += item * 2
        try:
            async with lock as held:
                await asyncio.sleep(0)
        finally:
            task.cancel()
        label = "done" if True else ""
        return total, label, items[total - 1]
        ### END SOLUTION
''')


def _by_operator(mutants: list[Mutant]) -> dict[str, list[Mutant]]:
    out: dict[str, list[Mutant]] = {}
    for m in mutants:
        out.setdefault(m.operator, []).append(m)
    return out


def test_regions_are_the_lines_between_the_markers() -> None:
    lines = SAMPLE.splitlines()
    [region] = solution_regions(SAMPLE)
    assert lines[region.first - 2].strip() == "### BEGIN SOLUTION"
    assert lines[region.last].strip() == "### END SOLUTION"
    assert lines[region.first - 1].strip() == "total = 0"


@pytest.mark.parametrize("assignment", [a for a in load_manifest(ROOT).assignments], ids=lambda a: a.id)
def test_every_solution_region_of_the_course_is_found(assignment: Assignment) -> None:
    source = (ROOT / "solutions" / assignment.id / assignment.module).read_text(encoding="utf-8")
    lines = source.splitlines()
    regions = solution_regions(source)
    assert len(regions) == source.count("### BEGIN SOLUTION") > 0
    for r in regions:
        assert lines[r.first - 2].strip() == "### BEGIN SOLUTION" and lines[r.last].strip() == "### END SOLUTION"


def test_mutants_of_a_solution_change_only_lines_inside_its_regions() -> None:
    source = (ROOT / "solutions" / "01" / "why_async.py").read_text(encoding="utf-8")
    inside = {n for r in solution_regions(source) for n in range(r.first, r.last + 1)}
    mutants = mutants_of(source, "01").mutants
    assert len(mutants) > 20
    for m in mutants:
        assert set(range(m.line, m.line + len(m.original.splitlines()))) <= inside, m.id
        before = source.splitlines(keepends=True)
        after = m.source.splitlines(keepends=True)
        assert before[: m.line - 1] == after[: m.line - 1], m.id


def test_every_operator_makes_valid_code_that_differs() -> None:
    generated = mutants_of(SAMPLE, "xx")
    found = _by_operator(generated.mutants)
    assert set(found) == set(OPERATORS), f"no mutant for {set(OPERATORS) - set(found)}"
    original_tree = ast.dump(ast.parse(SAMPLE))
    head = SAMPLE.split("### BEGIN SOLUTION")[0]
    dumps = set()
    for m in generated.mutants:
        compile(m.source, m.id, "exec", dont_inherit=True)
        dump = ast.dump(ast.parse(m.source))
        assert dump != original_tree, m.id
        dumps.add(dump)
        assert m.source.startswith(head), f"{m.id} changed code outside the solution region"
        assert "Docstring: never mutated." in m.source
    assert len(dumps) == len(generated.mutants), "two mutants are the same program"


@pytest.mark.parametrize(("operator", "before", "after"), [
    ("compare", "if item > 10:", "if item >= 10:"),
    ("boolean", "if item is None or not flags:", "if item is None and (not flags):"),
    ("boolean", "if item is None or not flags:", "if item is None or flags:"),
    ("arith", "total += item * 2", "total += item / 2"),
    ("constant", "total = 0", "total = 1"),
    ("constant", 'label = "done" if True else ""', 'label = \'\' if True else ""'),
    ("constant", 'label = "done" if True else ""', 'label = "done" if False else ""'),
    ("constant", 'label = "done" if True else ""', """label = "done" if True else 'mutant'"""),
    ("loop", "continue", "break"),
    ("loop", "break", "continue"),
    ("await", "await asyncio.sleep(0)", "asyncio.sleep(0)"),
    ("return", "return total, label, items[total - 1]", "return None"),
    ("index", "for item in items[1:]:", "for item in items[0:]:"),
    ("index", "return total, label, items[total - 1]", "return total, label, items[total - 1 + 1]"),
    ("cleanup", "task.cancel()", "pass"),
    ("cleanup", "async with lock as held:", "held = await lock.__aenter__()"),
    ("statement", "total += item * 2", "pass"),
])
def test_operator_makes_the_expected_change(operator: str, before: str, after: str) -> None:
    mutants = _by_operator(mutants_of(SAMPLE, "xx").mutants)[operator]
    pairs = {(m.original.strip().splitlines()[0].strip(), m.mutated.strip().splitlines()[0].strip()) for m in mutants}
    assert (before, after) in pairs, sorted(pairs)


def test_the_with_body_still_runs_without_its_exit() -> None:
    [mutant] = [m for m in mutants_of(SAMPLE, "xx").mutants if "__aenter__" in m.mutated]
    assert mutant.mutated == "        held = await lock.__aenter__()\n        await asyncio.sleep(0)\n"


def test_the_finally_body_is_emptied() -> None:
    removed = [m for m in mutants_of(SAMPLE, "xx").mutants if m.operator == "cleanup" and "finally" not in m.original]
    assert any(m.original.strip() == "task.cancel()" and m.mutated.strip() == "pass" for m in removed)


@pytest.mark.parametrize(("expression", "mutated"), [
    ("x & y ^ z", "(x | y) ^ z"),  # bare "x | y ^ z" would group as x | (y ^ z)
    ("a * b ** c", "a * (b * c)"),  # bare "a * b * c" would group as (a * b) * c
])
def test_parentheses_are_added_when_the_bare_text_would_group_differently(expression: str, mutated: str) -> None:
    source = f"def f(a, b, c, x, y, z):\n    ### BEGIN SOLUTION\n    return {expression}\n    ### END SOLUTION\n"
    texts = {m.mutated.strip() for m in mutants_of(source, "xx").mutants if m.operator == "arith"}
    assert f"return {mutated}" in texts, texts


def test_ids_are_stable_unique_and_survive_edits_elsewhere() -> None:
    first = [m.id for m in mutants_of(SAMPLE, "xx").mutants]
    assert first == [m.id for m in mutants_of(SAMPLE, "xx").mutants]
    assert len(set(first)) == len(first)
    assert all(i.startswith("xx:inside:") for i in first)
    edited = SAMPLE.replace("def outside(a, b):\n", "def outside(a, b):\n    a = a * 1\n")
    assert [m.id for m in mutants_of(edited, "xx").mutants] == first
    assert [m.line for m in mutants_of(edited, "xx").mutants] == [m.line + 1 for m in mutants_of(SAMPLE, "xx").mutants]


def test_the_id_names_function_operator_index_and_hash() -> None:
    source = "class C:\n    def m(self):\n        ### BEGIN SOLUTION\n        return 1 + 2\n        ### END SOLUTION\n"
    ids = [m.id.split(":") for m in mutants_of(source, "07").mutants]
    assert [i[:4] for i in ids] == [["07", "C.m", "return", "0"], ["07", "C.m", "arith", "0"],
                                    ["07", "C.m", "constant", "0"], ["07", "C.m", "constant", "1"]]
    assert all(len(i[4]) == 8 for i in ids)


def test_exception_messages_and_asserts_are_left_alone() -> None:
    source = textwrap.dedent('''\
        def f(x):
            ### BEGIN SOLUTION
            assert x is not None
            if x < 0:
                raise ValueError(f"negative: {x}")
            raise KeyError("missing", "two")
            ### END SOLUTION
    ''')
    mutants = mutants_of(source, "xx").mutants
    assert not any("assert" in m.original for m in mutants if m.operator == "statement")
    assert not any(m.operator == "constant" and "raise" in m.original for m in mutants)
    # The raise itself is still removed, and its condition still changed.
    assert {m.original.strip() for m in mutants if m.operator == "statement"} >= {
        'raise ValueError(f"negative: {x}")', 'raise KeyError("missing", "two")'}
    assert any(m.mutated.strip() == "if x <= 0:" for m in mutants)


def test_a_change_that_does_not_compile_is_skipped_and_counted() -> None:
    source = textwrap.dedent('''\
        def f():
            ### BEGIN SOLUTION
            count = 0

            def bump():
                nonlocal count
                count += 1
            bump()
            return count
            ### END SOLUTION
    ''')
    generated = mutants_of(source, "xx")
    # Without `count = 0`, `nonlocal count` has no binding: a SyntaxError at compile time, not at parse time.
    assert generated.skipped["statement: does not compile"] == 1
    assert not any(m.original.strip() == "count = 0" and m.operator == "statement" for m in generated.mutants)
    for m in generated.mutants:
        compile(m.source, m.id, "exec", dont_inherit=True)
