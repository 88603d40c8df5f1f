"""The README's two commands: what `make demo` installs, and which Python the Makefile accepts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from build_tools.bundle import runtime_python

ROOT = Path(__file__).resolve().parents[1]
FINDER = ROOT / "scripts" / "find-python"


def make(*argv: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A make of its own, not a sub-make of `make test` (which would print "Entering directory").
    inherited = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", *argv], cwd=cwd, env=env or inherited, capture_output=True, text=True, check=False, timeout=60
    )


def test_make_demo_installs_only_the_demo_extra() -> None:
    planned = make("-n", "-B", "demo")  # what a first run would do, without doing it
    assert planned.returncode == 0, planned.stderr
    assert "pip install --quiet -e '.[demo]'" in planned.stdout
    assert ".[test]" not in planned.stdout


def fake_python(path: Path, version: str) -> str:
    """An interpreter at `path` that says it is Python `version` (all the finder asks of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.14"])
def test_another_python_is_refused_by_name_not_replaced(tmp_path: Path, version: str) -> None:
    python = fake_python(tmp_path / f"python{version}", version)
    refused = make("-n", "demo", f"PYTHON={python}")
    assert refused.returncode == 2 and refused.stdout == ""
    assert f"PYTHON={python} is {version}: this project needs exactly Python 3.13" in refused.stderr
    found = subprocess.run([FINDER], capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr  # a 3.13 is found when PYTHON names none
    accepted = make("-n", "demo", f"PYTHON={found.stdout.strip()}")
    assert accepted.returncode == 0, accepted.stderr


def isolated_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of what `make .venv/.created` reads, and an environment whose only Pythons are the test's own:
    a pyenv root under HOME (no pyenv command on PATH) and a bin/ directory first on PATH."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "scripts/find-python"):
        shutil.copy2(ROOT / name, checkout / name)
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    env = {"PATH": f"{home / 'bin'}:/usr/bin:/bin", "HOME": str(home)}
    return checkout, env


def test_without_a_313_make_refuses_naming_what_it_found_and_keeps_the_old_venv(tmp_path: Path) -> None:
    checkout, env = isolated_checkout(tmp_path)
    home = Path(env["HOME"])
    for patch in ("3.11.7", "3.12.1"):
        fake_python(home / ".pyenv" / "versions" / patch / "bin" / f"python{patch[:4]}", patch[:4])
    fake_python(home / "bin" / "python3", "3.12")
    # What pyenv puts on PATH for a version it has not activated: a shim that does not run.
    shim = home / "bin" / "python3.13"
    shim.write_text('#!/bin/sh\necho "pyenv: python3.13: command not found" >&2\nexit 127\n')
    shim.chmod(0o755)
    kept = checkout / ".venv" / "bin" / "python"
    fake_python(kept, "3.12")  # a venv from before the move to 3.13

    refused = make(".venv/.created", cwd=checkout, env=env)
    assert refused.returncode == 2
    assert (
        "No Python 3.13 found (pyenv has: 3.11.7, 3.12.1; python3 on PATH is 3.12): "
        "this project needs exactly Python 3.13" in refused.stderr
    )
    assert "pyenv install 3.13" in refused.stderr
    assert kept.exists()  # the refusal comes before the old venv is removed


def test_the_newest_pyenv_313_is_found_first_and_the_version_is_pyprojects(tmp_path: Path) -> None:
    checkout, env = isolated_checkout(tmp_path)
    versions = Path(env["HOME"]) / ".pyenv" / "versions"
    for patch in ("3.13.9", "3.13.10", "3.12.1"):
        fake_python(versions / patch / "bin" / f"python{patch[:4]}", patch[:4])
    fake_python(Path(env["HOME"]) / "bin" / "python3.13", "3.13")
    found = subprocess.run([checkout / "scripts" / "find-python"], env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(versions / "3.13.10" / "bin" / "python3.13")
    # The version is pyproject.toml's, stated nowhere else: change it there and the finder follows.
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires-python = "==3.13.*"', 'requires-python = "==3.12.*"'))
    found = subprocess.run([checkout / "scripts" / "find-python"], env=env, capture_output=True, text=True)
    assert found.stdout.strip() == str(versions / "3.12.1" / "bin" / "python3.12")


def test_a_313_on_path_is_found_when_pyenv_has_none(tmp_path: Path) -> None:
    checkout, env = isolated_checkout(tmp_path)
    fake_python(Path(env["HOME"]) / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    on_path = fake_python(Path(env["HOME"]) / "bin" / "python3.13", "3.13")
    found = subprocess.run([checkout / "scripts" / "find-python"], env=env, capture_output=True, text=True)
    assert (found.returncode, found.stdout.strip()) == (0, on_path), found.stderr


def test_every_statement_of_the_runtime_python_agrees() -> None:
    """pyproject.toml's requires-python is what the finder reads; everything else that states the runtime's
    Python must say the same: the tools' targets, the bundle's wheels, the rdk metadata, every Lambda in rules/."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == "==3.13.*"
    found = subprocess.run([FINDER], capture_output=True, text=True, check=True).stdout.strip()
    version = [found, "-c", "import sys; print(*sys.version_info[:2], sep='.')"]
    assert subprocess.run(version, capture_output=True, text=True).stdout.strip() == "3.13"
    assert pyproject["tool"]["ruff"]["target-version"] == "py313"
    assert pyproject["tool"]["mypy"]["python_version"] == "3.13"
    assert runtime_python() == "3.13"
    rdk = json.loads((ROOT / "HeartbleedServerCertificate" / "parameters.json").read_text())
    assert rdk["Parameters"]["SourceRuntime"] == "python3.13-lib"
    functions = {
        f"{template.name}:{name}": resource["Properties"].get("Runtime")
        for template in sorted((ROOT / "rules").glob("*.yaml"))
        for name, resource in (cfn_yaml.load(str(template)).get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") in ("AWS::Lambda::Function", "AWS::Serverless::Function")
    }
    assert functions and set(functions.values()) == {"python3.13"}, functions
