"""The handler's import stays lean (docs/lean-start.md): a cold start without a key ledger, a body to parse
or an ACM certificate to read does not pay for cryptography, the ledger's modules or the ACM module.

Checked in a fresh interpreter: this test process has imported all of them already.
"""

from __future__ import annotations

import json
import subprocess
import sys

# What the handler's import must leave out: a module, or a package with everything under it.
DEFERRED = ("cryptography", "heartbleed.ledger", "heartbleed.acm")


def modules_after(statement: str) -> list[str]:
    """sys.modules of a fresh interpreter (-P: the editable install, not the working directory) after statement."""
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(run.stdout)
    return loaded


def deferred_in(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == d or name.startswith(d + ".") for d in DEFERRED)]


def test_importing_the_handler_leaves_out_cryptography_the_ledger_and_acm() -> None:
    loaded = modules_after("import HeartbleedServerCertificate")
    assert "HeartbleedServerCertificate" in loaded and "heartbleed.account" in loaded  # the import happened
    assert deferred_in(loaded) == []


def test_the_check_sees_a_deferred_module_when_one_is_imported() -> None:
    # The guard's own check: the same fresh interpreter, with the ledger and ACM imported as a run with them does.
    loaded = modules_after("import HeartbleedServerCertificate, heartbleed.ledger.records, heartbleed.acm")
    assert {"heartbleed.ledger", "heartbleed.ledger.records", "heartbleed.acm"} <= set(deferred_in(loaded))
