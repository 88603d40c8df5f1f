"""heartbleed-audit: the rule's verdicts from a terminal, local invocation, and safe remediation.

    heartbleed-audit [audit] [--output table|json|text|asff] [--cutoff DATE] [--no-body-check] [--exempt LIST]
    heartbleed-audit audit --demo
    heartbleed-audit audit --organization [--role-name NAME] [--accounts IDS] [--include-acm [--acm-regions RS]]
                           [--ledger [TABLE]]
    heartbleed-audit invoke (--event FILE | --scheduled | --change NAME [--deleted]) [--parameter K=V ...]
    heartbleed-audit replace OLD_NAME --certificate-body F --private-key F [--certificate-chain F] [--apply]
    heartbleed-audit ledger (show [--accounts] | import FILE_OR_DIR... | forget FINGERPRINT) [--table NAME]
    heartbleed-audit reevaluate --organization [--rule-name NAME] [--role-name NAME] [--exclude IDS] [--table NAME]

audit and invoke use the evaluation core of the Lambda, so they cannot disagree with it. One module per
subcommand (audit_command, invoke_command, replace_command, ledger_command, reevaluate_command); what they
share is in cli_shared.
Exit codes: 0 nothing found (or done), 1 findings, 2 an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from heartbleed.clients import quiet_sdk_logging

from . import audit_command, invoke_command, ledger_command, reevaluate_command, remediation, replace_command
from .cli_shared import ERROR, CliError

COMMANDS = ("audit", "invoke", "replace", "ledger", "reevaluate")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="heartbleed-audit",
        description="Find IAM server certificates exposed by Heartbleed (CVE-2014-0160), as the "
        "HeartbleedServerCertificate AWS Config rule does, and replace them safely.",
        epilog="Exit codes: 0 nothing found (or done), 1 findings, 2 an error. 'audit' is the default subcommand.",
    )
    commands = top.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for module in (audit_command, invoke_command, replace_command, ledger_command, reevaluate_command):
        module.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments.insert(0, "audit")  # the default subcommand; any other word must name a subcommand
    args = parser().parse_args(arguments)
    quiet_sdk_logging()
    try:
        code: int = args.run(args)
    except (CliError, remediation.RemediationError) as error:
        print(f"heartbleed-audit: {error}", file=sys.stderr)
        return ERROR
    return code


def entry() -> None:
    sys.exit(main())
