"""heartbleed-audit reevaluate --organization: ask the members the rule has not served to evaluate now.

    heartbleed-audit reevaluate --organization [--rule-name NAME] [--role-name NAME] [--exclude IDS] [--table T]

The organization rule reaches every member as soon as it is created; the StackSet that deploys the
member execution role may reach it later. The first runs of such a member fail (Lambda retries them,
then keeps them in the dead-letter queue), and Config runs the rule again only at its next trigger.
Run this after the StackSet completes: it lists the organization's ACTIVE accounts (minus --exclude),
finds in the key ledger those with no recorded success or whose last run failed, and calls
StartConfigRulesEvaluation on each one's copy of the organization rule (OrgConfigRule-<name>-<suffix>),
through the member's re-evaluation role (rules/member-execution-role.yaml creates it for the principals
named in OperatorPrincipalArns; the execution role, which can report evaluations, trusts the central
function alone; rules/ledger-operator-policy.json is the operator's side). A copy's name comes from
the member's recorded run; a member with none is looked up with DescribeConfigRules. Exit codes: 0 every
member asked (or none needed it), 1 some could not be asked (each is printed), 2 bad input or no access.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from heartbleed.ledger import MemberRun
from heartbleed.organization_guard import member_copy_name
from heartbleed.parameters import ROLE_NAME, shown
from heartbleed.retry_policy import error_code
from heartbleed.verdict import stamp

from . import estate
from .cli_shared import CliError, add_aws_options, aws_errors, session_for
from .ledger_command import TABLE_VARIABLE, open_table, table_errors

DEFAULT_RULE_NAME = "HeartbleedServerCertificate"  # OrganizationConfigRuleName in rules/organization.yaml
DEFAULT_ROLE_NAME = "HeartbleedServerCertificateReevaluate"  # ReevaluationRoleName in rules/member-execution-role.yaml
_RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the OrganizationConfigRuleName pattern of the Config API
_ACCOUNT = re.compile(r"\d{12}")
NEEDS = "dynamodb:Query on the ledger, organizations:ListAccounts and sts:GetCallerIdentity"


@dataclass(frozen=True)
class Wanted:
    """One member and Region to ask, and why."""

    account: str
    region: str
    rule: str | None  # the member's copy of the organization rule, when a run recorded it
    why: str


def add_parser(commands: Any) -> None:
    again = commands.add_parser(
        "reevaluate",
        help="ask members the organization rule has not served (no result, or a failed last run) to evaluate now",
        description="After the member-role StackSet completes: StartConfigRulesEvaluation on each member's copy "
        "of the organization rule where the key ledger records no success, or a failure since.",
    )
    again.add_argument(
        "--organization", action="store_true", required=True, help="the organization's ACTIVE accounts (required)"
    )
    again.add_argument(
        "--rule-name",
        default=DEFAULT_RULE_NAME,
        help=f"the OrganizationConfigRuleName (default {DEFAULT_RULE_NAME})",
    )
    again.add_argument(
        "--role-name",
        default=DEFAULT_ROLE_NAME,
        help=f"the member role that trusts the caller and may re-evaluate (default {DEFAULT_ROLE_NAME})",
    )
    again.add_argument("--exclude", metavar="ID,ID...", help="accounts to leave out (the rule's ExcludedAccounts)")
    again.add_argument(
        "--table",
        default=os.environ.get(TABLE_VARIABLE),
        help=f"the key ledger's table name or ARN (${TABLE_VARIABLE})",
    )
    add_aws_options(again)
    again.set_defaults(run=reevaluate)


def check_options(args: argparse.Namespace) -> list[str]:
    """The options, checked before any AWS call; returns the excluded accounts."""
    if not _RULE_NAME.fullmatch(args.rule_name):
        raise CliError(
            f"--rule-name {shown(args.rule_name)} is not an organization rule name: use 1-64 of A-Z a-z 0-9 _-"
        )
    if not ROLE_NAME.fullmatch(args.role_name):
        raise CliError(f"--role-name {shown(args.role_name)} is not an IAM role name: use 1-64 of A-Z a-z 0-9 +=,.@_-")
    excluded = [item.strip() for item in (args.exclude or "").split(",") if item.strip()]
    malformed = [account for account in excluded if not _ACCOUNT.fullmatch(account)]
    if malformed:
        raise CliError(f"--exclude {shown(malformed[0])} is not an AWS account ID: use 12 digits, comma-separated")
    return excluded


def wanted(account: str, runs: list[MemberRun], region: str) -> list[Wanted]:
    """What to ask of one member: each Region whose last run failed or never succeeded; with no run
    recorded anywhere, the command's Region."""
    if not runs:
        return [Wanted(account, region, None, "no run recorded")]
    asked = []
    for run in runs:
        if not run.needs_evaluation:
            continue
        failed = f"last run failed {stamp(run.last_failure)}: {run.failure}" if run.last_failure else ""
        asked.append(Wanted(account, run.region, run.rule, failed or "no successful run recorded"))
    return asked


def _copy_name(config: Any, rule_name: str) -> str | None:
    """The member's copy of the organization rule, found among its Config rules."""
    for page in config.get_paginator("describe_config_rules").paginate():
        for rule in page.get("ConfigRules", []):
            if member_copy_name(rule_name, str(rule.get("ConfigRuleName", ""))):
                return str(rule["ConfigRuleName"])
    return None


def ask(clients: estate.Clients, own: str, partition: str, role_name: str, rule_name: str, one: Wanted) -> str:
    """Ask one member's copy to evaluate; returns its name. Raises CliError with what went wrong."""
    try:
        credentials = None
        if one.account != own:
            role = f"arn:{partition}:iam::{one.account}:role/{role_name}"
            got = clients.client("sts").assume_role(RoleArn=role, RoleSessionName="HeartbleedReevaluate")
            credentials = got["Credentials"]
        config = clients.client("config", credentials, one.region)
        rule = one.rule or _copy_name(config, rule_name)
        if rule is None:
            raise CliError(f"no copy of the organization rule {rule_name} here (not deployed yet, or excluded)")
        config.start_config_rules_evaluation(ConfigRuleNames=[rule])
        return rule
    except (ClientError, BotoCoreError) as error:
        if isinstance(error, ClientError):
            code = error_code(error)
            raise CliError(f"{error.operation_name} refused: {code}") from None
        raise CliError(f"{type(error).__name__}") from None


def reevaluate(args: argparse.Namespace) -> int:
    excluded = check_options(args)
    ledger = open_table(args)
    session = session_for(args)
    clients = estate.Clients(session, args.endpoint_url, session.region_name or "us-east-1")
    with aws_errors():
        own, partition = estate.caller(clients)
        members = estate.organization_accounts(clients)
    strangers = sorted(set(excluded) - set(members))
    if strangers:
        raise CliError(f"--exclude {shown(strangers[0])} is not an ACTIVE account of this organization")
    chosen = [account for account in members if account not in excluded]
    with table_errors("--table", f"'reevaluate' needs {NEEDS}"):
        todo = [item for account in chosen for item in wanted(account, ledger.member_runs(account), clients.region)]
    could_not = 0
    for one in todo:
        try:
            rule = ask(clients, own, partition, args.role_name, args.rule_name, one)
        except CliError as error:
            could_not += 1
            print(f"could not ask {one.account} ({one.region}): {error} [{one.why}]")
            continue
        print(f"asked {rule} in {one.account} ({one.region}) to evaluate [{one.why}]")
    served = len(chosen) - len({one.account for one in todo})
    print(
        f"{len(chosen)} ACTIVE accounts ({len(excluded)} excluded): {served} served, "
        f"{len(todo) - could_not} asked, {could_not} could not be asked"
    )
    return 1 if could_not else 0
