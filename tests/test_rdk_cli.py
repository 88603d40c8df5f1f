"""rdk's own CLI on the rule folder, cfn-lint on the template it makes, and the rule metadata."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rdk.rdk import PYTHON_LIB_RUNTIMES

ROOT = Path(__file__).resolve().parents[1]
RULE = "HeartbleedServerCertificate"
BIN = Path(sys.executable).parent


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([str(c) for c in command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def metadata() -> dict[str, Any]:
    parameters: dict[str, Any] = json.loads((ROOT / RULE / "parameters.json").read_text())["Parameters"]
    return parameters


def rdk_tests() -> list[str]:
    """The test methods of the rule folder's rdk test file, as unittest finds them (test* in its classes)."""
    tree = ast.parse((ROOT / RULE / f"{RULE}_test.py").read_text())
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    return [f.name for c in classes for f in c.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test")]


@pytest.mark.timeout(660)  # its own subprocess may take the 300 s it is given, and then some
def test_rdk_test_local_passes() -> None:
    result = run(BIN / "rdk", "test-local", RULE)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Ran {len(rdk_tests())} tests" in output
    assert "errors=0 failures=0" in output


@pytest.mark.timeout(1260)  # two subprocesses, each given 300 s
def test_rdk_rule_template_passes_cfn_lint(tmp_path: Path) -> None:
    template_path = tmp_path / "rule.json"
    result = run(BIN / "rdk", "create-rule-template", RULE, "--rules-only", "-o", template_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lint = run(BIN / "cfn-lint", template_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    template = json.loads(template_path.read_text())
    rule = template["Resources"][f"{RULE}ConfigRule"]["Properties"]
    assert rule["Scope"]["ComplianceResourceTypes"] == ["AWS::IAM::ServerCertificate", "AWS::ACM::Certificate"]
    assert {d["MessageType"] for d in rule["Source"]["SourceDetails"]} == {
        "ConfigurationItemChangeNotification",
        "ScheduledNotification",
    }
    defaults = {
        name[len(RULE) :]: spec.get("Default") for name, spec in template["Parameters"].items() if name.startswith(RULE)
    }
    top_level = json.loads((ROOT / "parameters.json").read_text())
    assert {name: defaults[name] for name in top_level} == top_level
    assert "ExemptCertificates" in defaults
    # Empty: the per-account check until the operator creates rules/key-ledger.yaml and names it (docs/deployment.md).
    assert defaults["KeyLedgerTable"] == ""


def test_top_level_parameters_equal_the_rdk_input_parameters() -> None:
    top_level = json.loads((ROOT / "parameters.json").read_text())
    assert top_level == json.loads(metadata()["InputParameters"])
    assert all(isinstance(value, str) for value in top_level.values())


def test_rdk_metadata_matches_the_design() -> None:
    meta = metadata()
    assert meta["RuleName"] == RULE
    assert meta["SourceRuntime"] == "python3.13-lib"
    # On the pinned rdk's own list: rdk test-local skips a rule whose runtime is not on it.
    assert meta["SourceRuntime"] in PYTHON_LIB_RUNTIMES
    assert meta["SourceEvents"] == "AWS::IAM::ServerCertificate,AWS::ACM::Certificate"
    assert meta["SourcePeriodic"] == "TwentyFour_Hours"
    assert "Heartbleed" in meta["Description"] and len(meta["Description"]) <= 256


def test_default_parameters_are_accepted_by_the_rule() -> None:
    from heartbleed.parameters import DEFAULT_CUTOFF, parse_rule_parameters

    top_level = json.loads((ROOT / "parameters.json").read_text())
    assert top_level["CutoffDate"] == DEFAULT_CUTOFF
    optional = json.loads(metadata()["OptionalParameters"])
    parse_rule_parameters({**top_level, **optional})
