"""The tests run from any install of the project, not only the Makefile's strict editable one.

From the project root the folder HeartbleedServerCertificate/ (no __init__.py) is importable as a namespace
package of the same name as the rule module inside it; only the strict editable install's links hide it.
Each check here runs a fresh interpreter with no install hook at all (-S: the venv's site-packages without
its .pth files, where every editable install, strict or not, puts its hook), so what it imports comes from
the paths the project itself sets: pytest's pythonpath in pyproject.toml, and the benchmark's child env.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

from bench.runs import child_env

ROOT = Path(__file__).resolve().parents[1]
RULE_MODULE = ROOT / "HeartbleedServerCertificate" / "HeartbleedServerCertificate.py"
# This venv's site-packages for the third-party packages, added by hand: site's .pth processing never runs.
WITHOUT_HOOKS = f"import sys; sys.path.extend({site.getsitepackages()!r}); "


def bare_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-c", WITHOUT_HOOKS + code],
        cwd=ROOT,
        env=env or {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_pytest_collects_the_rule_module_without_an_install_hook() -> None:
    files = ["tests/test_end_to_end.py", "tests/test_logs.py", "tests/test_verdict.py"]
    argv = ["--collect-only", "-q", "-p", "no:cacheprovider", *files]
    result = bare_python(f"import pytest; sys.exit(pytest.main({argv!r}))")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " error" not in result.stdout.splitlines()[-1], result.stdout[-3000:]


def test_the_benchmark_child_imports_the_rule_module_not_the_folder() -> None:
    where = "import HeartbleedServerCertificate as rule; print(rule.__file__)"
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = bare_python(where, child_env(environment))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(RULE_MODULE)
    # What the child env is for: from the root without it, the folder is what Python imports.
    assert bare_python(where, environment).stdout.strip() == "None"
