"""The README's two commands: what `make demo` installs, and which Python the Makefile accepts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(*argv: str) -> subprocess.CompletedProcess[str]:
    # A make of its own, not a sub-make of `make test` (which would print "Entering directory").
    env = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_make_demo_installs_only_the_demo_extra() -> None:
    planned = make("-n", "-B", "demo")  # what a first run would do, without doing it
    assert planned.returncode == 0, planned.stderr
    assert "pip install --quiet -e '.[demo]'" in planned.stdout
    assert ".[test]" not in planned.stdout


def fake_python(tmp_path: Path, version: str) -> str:
    """An interpreter that reports `version` and is not 3.12."""
    path = tmp_path / f"python{version}"
    path.write_text(f'#!/bin/sh\ncase "$2" in *exit*) exit 1;; *) echo {version};; esac\n')
    path.chmod(0o755)
    return str(path)


def test_another_python_is_refused_by_name_not_replaced(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "3.11")
    refused = make("-n", "demo", f"PYTHON={python}")
    assert refused.returncode == 2 and refused.stdout == ""
    assert f"PYTHON={python} is 3.11: this project needs exactly Python 3.12" in refused.stderr
    found = subprocess.run([ROOT / "scripts" / "find-python3.12"], capture_output=True, text=True, check=False)
    assert found.returncode == 0  # a 3.12 is found when PYTHON names none
    accepted = make("-n", "demo", f"PYTHON={found.stdout.strip()}")
    assert accepted.returncode == 0, accepted.stderr


def test_pyproject_asks_for_the_python_the_makefile_builds() -> None:
    assert 'requires-python = "==3.12.*"' in (ROOT / "pyproject.toml").read_text()
