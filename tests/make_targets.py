"""What some tests inspect and pytest does not make: the Makefile's targets, built when a test needs one.

`make test` builds them all before pytest. A plain `python -m pytest` after `pip install -e '.[test]'`
builds a missing one here, the first time a test asks, through the same Makefile target: the tests
inspect what the Makefile makes, never a stand-in. A build uses only the local wheels, as `make` does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The longest target, `make artifacts`, builds three venvs and three bundles: minutes on a loaded machine.
# A test that may start a build says so with @pytest.mark.timeout(BUILD_TIMEOUT + its own time).
BUILD_TIMEOUT = 1200
MAKE_VENV = ".venv-make"  # make's venv beside an install that make did not build (git ignores it)
_failed: dict[str, str] = {}  # a target that failed once is not built again in the same session


def _venv() -> list[str]:
    """The Makefile's venv, unless make did not build `.venv`: then a venv of make's own. Make replaces a
    `.venv` it has no marker for, which here would be the very venv running these tests."""
    return [] if (ROOT / ".venv" / ".installed").exists() else [f"VENV={MAKE_VENV}"]


def made(path: Path, target: str) -> Path:
    """path, which `make target` makes, built first if it is missing; fail naming the command if it can't be."""
    if not path.exists() and target not in _failed:
        result = subprocess.run(
            ["make", *_venv(), target], cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
        if result.returncode != 0:
            _failed[target] = (result.stdout + result.stderr)[-2000:]
    if not path.exists():
        why = _failed.get(target, "it ran, and did not make it")
        pytest.fail(f"{path.relative_to(ROOT)} is missing and `make {target}` could not build it: {why}")
    return path
