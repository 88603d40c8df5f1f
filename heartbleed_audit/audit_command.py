"""heartbleed-audit audit: one account's verdicts, or the estate's (an organization, ACM imports), read-only."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from heartbleed.account import assess_account
from heartbleed.container import WarmContainer
from heartbleed.parameters import ROLE_NAME, RuleParameters, shown
from heartbleed.verdict import Compliance, Verdict

from . import asff, estate, ledger_audit, ledger_backfill
from .cli_shared import (
    ERROR,
    FOUND,
    CliError,
    add_aws_options,
    add_rule_options,
    aws_errors,
    client,
    progress_line,
    rule_parameters,
    session_for,
)

DEFAULT_MEMBER_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates in a new account


def add_parser(commands: Any) -> None:
    check = commands.add_parser(
        "audit",
        help="evaluate an account read-only (never calls PutEvaluations)",
        description="Evaluate every IAM server certificate of an account, read-only.",
    )
    check.add_argument(
        "--output",
        choices=["table", "json", "text", "asff"],
        default="table",
        help="table (default), json, text (tab-separated), or asff (Security Hub findings)",
    )
    check.add_argument("--demo", action="store_true", help="audit the embedded sample account on the AWS double")
    estate_options = check.add_argument_group("the estate: organization accounts and ACM imports, judged as one pool")
    estate_options.add_argument(
        "--organization",
        action="store_true",
        help="audit every ACTIVE account of the organization (run from the management account or a delegated "
        "administrator): this account with your credentials, the others through --role-name",
    )
    estate_options.add_argument(
        "--role-name",
        metavar="NAME",
        help=f"with --organization: the role assumed in each member account (default {DEFAULT_MEMBER_ROLE}, an "
        "administrator role; rules/audit-role.yaml is a read-only one)",
    )
    estate_options.add_argument(
        "--accounts", metavar="ID,ID...", help="with --organization: audit only these accounts of the organization"
    )
    estate_options.add_argument(
        "--include-acm",
        action="store_true",
        help="also judge ACM imported certificates (ACM-issued ones have keys made after the cutoff)",
    )
    estate_options.add_argument(
        "--acm-regions", metavar="R,R...", help="with --include-acm: the Regions to read (default: the session's)"
    )
    ledger_audit.add_option(estate_options)
    ledger_backfill.add_option(estate_options)
    add_rule_options(check)
    add_aws_options(check)
    check.set_defaults(run=audit)


def audit(args: argparse.Namespace) -> int:
    params = rule_parameters(args)
    if args.demo:
        return _audit_demo(args, params)
    check_estate_options(args)
    session = session_for(args)
    region = session.region_name or "us-east-1"
    show = progress_line(sys.stderr) if sys.stdout.isatty() else None
    with aws_errors():
        if args.organization or args.include_acm:
            return _audit_estate(args, estate.Clients(session, args.endpoint_url, region), params)
        verdicts = assess_account(client(args, session, "iam"), params, WarmContainer(), progress=show)
    return report(verdicts, args.output, region)


def _listed(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def check_estate_options(args: argparse.Namespace) -> None:
    """The organization and ACM options, checked before any AWS call; each error names the value."""
    if not args.organization and (args.accounts or args.role_name):
        raise CliError("--accounts and --role-name need --organization")
    ledger_audit.check_option(args)
    ledger_backfill.check_option(args)
    if args.acm_regions and not args.include_acm:
        raise CliError("--acm-regions needs --include-acm")
    args.role_name = args.role_name or DEFAULT_MEMBER_ROLE
    if not ROLE_NAME.fullmatch(args.role_name):
        raise CliError(f"--role-name {shown(args.role_name)} is not an IAM role name: use 1-64 of A-Z a-z 0-9 +=,.@_-")
    args.accounts = _listed(args.accounts)
    malformed = [account for account in args.accounts if not re.fullmatch(r"\d{12}", account)]
    if malformed:
        raise CliError(f"--accounts {shown(malformed[0])} is not an AWS account ID: use 12 digits")
    args.acm_regions = _listed(args.acm_regions)
    if not args.acm_regions:
        return
    session = boto3.session.Session()  # its endpoint data names the Regions where ACM runs
    known = {r for p in session.get_available_partitions() for r in session.get_available_regions("acm", p)}
    unknown = [region for region in args.acm_regions if region not in known]
    if unknown:
        raise CliError(f"--acm-regions {shown(unknown[0])} is not a Region where ACM runs: use codes such as us-east-1")


def _audit_estate(args: argparse.Namespace, clients: estate.Clients, params: RuleParameters) -> int:
    ledger = ledger_audit.ledger_of(args)
    own, partition = estate.caller(clients)
    targets = [estate.Target(own)]
    if args.organization:
        members = estate.organization_accounts(clients)
        strangers = sorted(set(args.accounts) - set(members))
        if strangers:
            raise CliError(f"--accounts {shown(strangers[0])} is not an ACTIVE account of this organization")
        chosen = args.accounts or members
        targets = [
            estate.Target(account, None if account == own else f"arn:{partition}:iam::{account}:role/{args.role_name}")
            for account in chosen
        ]
    regions = (args.acm_regions or [clients.region]) if args.include_acm else []
    show = progress_line(sys.stderr, "accounts") if sys.stdout.isatty() and args.organization else None
    backfill = ledger_backfill.Backfill(ledger) if ledger is not None and args.record else None
    with ledger_backfill.ledger_errors() if backfill else ledger_audit.ledger_errors():
        record = backfill.record if backfill else None
        result = estate.audit_estate(clients, targets, params, regions, show, ledger, record)
    code = report(result.verdicts, args.output, clients.region, wide=True)
    if ledger is not None:
        print(f"{result.bodies_known} certificate bodies taken from the key ledger {args.ledger}", file=sys.stderr)
    if backfill is not None:
        backfill.report(args.ledger, [failure.account for failure in result.failures])
    for failure in result.failures:
        print(f"account {failure.account} not audited: {failure.reason}", file=sys.stderr)
    if result.failures:  # a partial audit must never look clean
        print(f"incomplete: {len(result.failures)} of {len(targets)} accounts could not be audited", file=sys.stderr)
        return ERROR
    return code


def _audit_demo(args: argparse.Namespace, params: RuleParameters) -> int:
    from .demo import require_demo_extra

    require_demo_extra()
    from .demo import sample_account
    from .double import AwsDouble

    with AwsDouble() as aws, aws.environment():
        sample_account.build(aws)
        args.endpoint_url = aws.endpoint_url
        verdicts = assess_account(client(args, session_for(args), "iam"), params, WarmContainer())
    return report(verdicts, args.output, "us-east-1")


def account(verdict: Verdict) -> str:
    return verdict.arn.split(":")[4]


def where(verdict: Verdict) -> str:
    """IAM, or ACM and its Region, from the ARN."""
    parts = verdict.arn.split(":")
    return f"ACM {parts[3]}" if parts[2] == "acm" else "IAM"


def report(verdicts: Sequence[Verdict], output: str, region: str, *, wide: bool = False) -> int:
    """Print the verdicts; wide adds each certificate's account and service (the estate audit)."""
    if output == "json":
        rows = [
            {
                "account": account(v),
                "name": v.name,
                "arn": v.arn,
                "compliance": v.compliance.value,
                "annotation": v.annotation,
            }
            for v in verdicts
        ]
        print(json.dumps(rows, indent=2))
    elif output == "text":
        for v in verdicts:
            print((f"{account(v)}\t{where(v)}\t" if wide else "") + f"{v.arn}\t{v.compliance.value}\t{v.annotation}")
    elif output == "asff":
        # JSON Lines: one BatchImportFindings request per line, each within its limit of 100 findings.
        for batch in asff.batches(asff.findings(verdicts, region, datetime.now(UTC))):
            print(json.dumps({"Findings": batch}))
    else:
        width = max([len(v.name) for v in verdicts] + [11])
        lead = f"{'ACCOUNT':<12}  {'IN':<14}  " if wide else ""
        print(f"{lead}{'CERTIFICATE':<{width}}  {'VERDICT':<14}  WHY")
        for v in verdicts:
            lead = f"{account(v):<12}  {where(v):<14}  " if wide else ""
            print(f"{lead}{v.name:<{width}}  {v.compliance.value:<14}  {v.annotation}")
        counts = {kind: sum(v.compliance is kind for v in verdicts) for kind in Compliance}
        print(f"\n{len(verdicts)} certificates: " + ", ".join(f"{n} {k.value}" for k, n in counts.items()))
    for action in ("iam:GetServerCertificate", "acm:GetCertificate"):
        denied = [v.name for v in verdicts if f"{action} was denied" in v.annotation]
        if denied:
            print(f"missing permission: {action} was refused for {', '.join(denied)}", file=sys.stderr)
            return ERROR
    return FOUND if any(v.compliance is Compliance.NON_COMPLIANT for v in verdicts) else 0
