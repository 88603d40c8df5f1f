"""The demo: the real rule evaluating a sample account on the AWS double (`make demo`, `audit --demo`).

The double (heartbleed_audit.double) is moto extended, which the `demo` extra installs; the rest of
heartbleed-audit works without it. `heartbleed-demo` and `audit --demo` check for it first, so that a
missing extra is one line that says what to install, not a traceback.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

from heartbleed_audit.cli_shared import ERROR, CliError

DEMO_PACKAGES = ("moto", "flask", "flask_cors")  # what the double imports beyond the rule's dependencies
INSTALL_HINT = "pip install 'heartbleed-server-certificate[demo]'"


def require_demo_extra() -> None:
    """Raise CliError, naming the extra to install, if the double's packages are missing."""
    missing = [name for name in DEMO_PACKAGES if find_spec(name) is None]
    if missing:
        raise CliError(
            f"the demo runs on the AWS double, which needs the demo extra ({INSTALL_HINT}): "
            f"{', '.join(missing)} not installed"
        )


def main() -> None:
    """heartbleed-demo: the walkthrough of `make demo`."""
    try:
        require_demo_extra()
    except CliError as error:
        print(f"heartbleed-demo: {error}", file=sys.stderr)
        sys.exit(ERROR)
    from .walkthrough import walk_through

    walk_through()
