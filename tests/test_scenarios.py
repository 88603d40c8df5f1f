"""The verdict's scenarios are numbered once, in heartbleed/verdict.py's docstring: every number has a test of
the pure function (tests/test_verdict.py) and of the rule as rdk runs it (the rule folder's rdk test), each
named test_scenario_N_..., and no test anywhere names a number the docstring does not have."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from heartbleed import verdict

ROOT = Path(__file__).resolve().parents[1]
RDK_TEST = ROOT / "HeartbleedServerCertificate" / "HeartbleedServerCertificate_test.py"
UNIT_TEST = ROOT / "tests" / "test_verdict.py"
SCENARIO = re.compile(r"^  (\d+) +\S", re.MULTILINE)  # "  N  what  verdict": a numbered line of the list
NAMED = re.compile(r"^test_scenario_(\d+)_")
MENTIONED = re.compile(r"\b[Ss]cenarios? (\d+)\b|\btest_scenario_(\d+)_")  # in any test's name or docstring


def numbered(docstring: str) -> list[int]:
    return [int(number) for number in SCENARIO.findall(docstring)]


def scenario_tests(path: Path) -> dict[int, list[str]]:
    """The test functions and methods of path that name a scenario, by its number."""
    found: dict[int, list[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and (match := NAMED.match(node.name)):
            found.setdefault(int(match.group(1)), []).append(node.name)
    return found


def test_the_docstring_numbers_its_scenarios_once_from_1() -> None:
    numbers = numbered(verdict.__doc__ or "")
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    assert len(numbers) >= 15  # IAM dates, key reuse, missing evidence, clean, not applicable, ACM, ledger


@pytest.mark.parametrize("path", [UNIT_TEST, RDK_TEST], ids=["test_verdict", "rdk_test"])
def test_every_scenario_has_a_test_naming_it(path: Path) -> None:
    tests = scenario_tests(path)
    missing = [n for n in numbered(verdict.__doc__ or "") if n not in tests]
    assert not missing, f"{path.relative_to(ROOT)} has no test_scenario_N_... for scenarios {missing}"


def test_no_test_names_a_scenario_the_docstring_does_not_have() -> None:
    known = set(numbered(verdict.__doc__ or ""))
    unknown = []
    for path in [RDK_TEST, *sorted((ROOT / "tests").glob("test_*.py"))]:
        for number in {int(a or b) for a, b in MENTIONED.findall(path.read_text())} - known:
            unknown.append(f"{path.relative_to(ROOT)}: scenario {number}")
    assert not unknown, unknown


def test_the_checks_see_a_missing_test_and_an_unknown_number(tmp_path: Path) -> None:
    """The parsing the tests above rely on: a numbered line is found, and so is a test naming it."""
    assert numbered("Scenarios:\n  1  one   NON_COMPLIANT\n  12 two\n     more of 12\n") == [1, 12]
    source = "def test_scenario_3_x() -> None: ...\nclass T:\n    def test_scenario_14_y(self) -> None: ...\n"
    path = tmp_path / "test_probe.py"
    path.write_text(source)
    assert scenario_tests(path) == {3: ["test_scenario_3_x"], 14: ["test_scenario_14_y"]}
