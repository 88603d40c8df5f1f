"""heartbleed-audit: the rule's verdicts from a terminal, local invocation, and safe remediation.

    heartbleed-audit [audit] [--output table|json|text|asff] [--cutoff DATE] [--no-body-check] [--exempt LIST]
    heartbleed-audit audit --demo
    heartbleed-audit invoke (--event FILE | --scheduled | --change NAME [--deleted]) [--parameter K=V ...]
    heartbleed-audit replace OLD_NAME --certificate-body F --private-key F [--certificate-chain F] [--apply]

audit and invoke use the evaluation core of the Lambda, so they cannot disagree with it.
Exit codes: 0 nothing found (or done), 1 findings, 2 an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from heartbleed.account import assess_account
from heartbleed.certificate import BodyError, read_body
from heartbleed.clients import CLIENT_CONFIG, quiet_sdk_logging
from heartbleed.parameters import ROLE_NAME, ParameterError, RuleParameters, parse_rule_parameters, shown
from heartbleed.verdict import Compliance, Verdict

from . import asff, estate, remediation

FOUND, ERROR = 1, 2
PROGRESS_FROM = 50  # certificates; fewer finish before a progress line would help
DEFAULT_MEMBER_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates in a new account
NO_REGION = "no AWS Region: pass --region, set AWS_REGION, or set region in your AWS profile"
COMMANDS = ("audit", "invoke", "replace")


class CliError(Exception):
    """A failure the user can act on; printed as one line, exit code 2."""


# ---- AWS access, as the AWS CLI does it ---------------------------------------------------------


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS (as in the AWS CLI)")
    group.add_argument("--profile", help="a named profile from your AWS config")
    group.add_argument("--region", help="the Region (default: the profile's; IAM is global)")
    group.add_argument("--endpoint-url", help="send requests to this URL (a local AWS double, say)")


def session_for(args: argparse.Namespace) -> boto3.session.Session:
    try:
        return boto3.session.Session(profile_name=args.profile, region_name=args.region or None)
    except BotoCoreError as error:
        raise CliError(f"AWS profile: {error}") from None


def client(args: argparse.Namespace, session: boto3.session.Session, service: str) -> Any:
    region = session.region_name or "us-east-1"  # IAM is global; us-east-1 is its home Region
    return session.client(  # type: ignore[call-overload]
        service, region_name=region, endpoint_url=args.endpoint_url, config=CLIENT_CONFIG
    )


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn the SDK's failures into one line that names what is missing."""
    try:
        yield
    except NoCredentialsError:
        raise CliError(
            "no AWS credentials found: set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an instance or container role is available"
        ) from None
    except NoRegionError:
        raise CliError(NO_REGION) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        action = error.operation_name
        if "AccessDenied" in code or code in ("UnauthorizedOperation", "InvalidClientTokenId"):
            needed = ACTIONS.get(action, action)
            raise CliError(f"missing permission: {action} was refused ({code}); grant {needed}") from None
        raise CliError(f"{action} failed: {code}: {error.response.get('Error', {}).get('Message', '')}") from None
    except BotoCoreError as error:
        raise CliError(f"AWS: {error}") from None


# The IAM action behind each API call the CLI makes, for "missing permission" messages.
ACTIONS = {
    "ListServerCertificates": "iam:ListServerCertificates",
    "GetServerCertificate": "iam:GetServerCertificate",
    "UploadServerCertificate": "iam:UploadServerCertificate",
    "DeleteServerCertificate": "iam:DeleteServerCertificate",
    "DescribeLoadBalancers": "elasticloadbalancing:DescribeLoadBalancers",
    "DescribeListeners": "elasticloadbalancing:DescribeListeners",
    "DescribeListenerCertificates": "elasticloadbalancing:DescribeListenerCertificates",
    "ListDistributions": "cloudfront:ListDistributions",
}


# ---- audit ------------------------------------------------------------------------------------


def rule_parameters(args: argparse.Namespace) -> RuleParameters:
    """The CLI flags as the rule's own parameters, through the rule's own parser."""
    raw = {"CheckCertificateBody": "false" if args.no_body_check else "true"}
    if args.cutoff:
        raw["CutoffDate"] = args.cutoff
    if args.exempt:
        raw["ExemptCertificates"] = args.exempt
    try:
        return parse_rule_parameters(raw)
    except ParameterError as error:
        raise CliError(str(error).replace("CutoffDate", "--cutoff").replace("ExemptCertificates", "--exempt")) from None


def progress_line(stream: TextIO, what: str = "certificate bodies") -> Any:
    def show(done: int, total: int) -> None:
        if total >= PROGRESS_FROM:
            stream.write(f"\rread {done}/{total} {what}")
            if done == total:
                stream.write("\n")
            stream.flush()

    return show


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
        verdicts = assess_account(client(args, session, "iam"), params, progress=show)
    return report(verdicts, args.output, region)


def _listed(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def check_estate_options(args: argparse.Namespace) -> None:
    """The organization and ACM options, checked before any AWS call; each error names the value."""
    if not args.organization and (args.accounts or args.role_name):
        raise CliError("--accounts and --role-name need --organization")
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
    session = boto3.session.Session()
    known = {r for p in session.get_available_partitions() for r in session.get_available_regions("acm", p)}
    unknown = [region for region in args.acm_regions if region not in known]
    if unknown:
        raise CliError(f"--acm-regions {shown(unknown[0])} is not a Region where ACM runs: use codes such as us-east-1")


def _audit_estate(args: argparse.Namespace, clients: estate.Clients, params: RuleParameters) -> int:
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
    result = estate.audit_estate(clients, targets, params, regions, show)
    code = report(result.verdicts, args.output, clients.region, wide=True)
    for failure in result.failures:
        print(f"account {failure.account} not audited: {failure.reason}", file=sys.stderr)
    if result.failures:  # a partial audit must never look clean
        print(f"incomplete: {len(result.failures)} of {len(targets)} accounts could not be audited", file=sys.stderr)
        return ERROR
    return code


def _audit_demo(args: argparse.Namespace, params: RuleParameters) -> int:
    from awsdouble import AwsDouble

    from . import sample_account

    with AwsDouble() as aws, aws.environment():
        sample_account.build(aws)
        args.endpoint_url = aws.endpoint_url
        verdicts = assess_account(client(args, session_for(args), "iam"), params)
    return report(verdicts, args.output, "us-east-1")


def where(verdict: Verdict) -> str:
    """IAM, or ACM and its Region, from the ARN."""
    parts = verdict.arn.split(":")
    return f"ACM {parts[3]}" if parts[2] == "acm" else "IAM"


def report(verdicts: Sequence[Verdict], output: str, region: str, *, wide: bool = False) -> int:
    """Print the verdicts; wide adds each certificate's account and service (the estate audit)."""
    if output == "json":
        rows = [
            {
                "account": v.arn.split(":")[4],
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
            print(
                ("\t".join([v.arn.split(":")[4], where(v)]) + "\t" if wide else "")
                + f"{v.arn}\t{v.compliance.value}\t{v.annotation}"
            )
    elif output == "asff":
        # JSON Lines: one BatchImportFindings request per line, each within its limit of 100 findings.
        for batch in asff.batches(asff.findings(verdicts, region, datetime.now(UTC))):
            print(json.dumps({"Findings": batch}))
    else:
        width = max([len(v.name) for v in verdicts] + [11])
        lead = f"{'ACCOUNT':<12}  {'IN':<14}  " if wide else ""
        print(f"{lead}{'CERTIFICATE':<{width}}  {'VERDICT':<14}  WHY")
        for v in verdicts:
            lead = f"{v.arn.split(':')[4]:<12}  {where(v):<14}  " if wide else ""
            print(f"{lead}{v.name:<{width}}  {v.compliance.value:<14}  {v.annotation}")
        counts = {kind: sum(v.compliance is kind for v in verdicts) for kind in Compliance}
        print(f"\n{len(verdicts)} certificates: " + ", ".join(f"{n} {k.value}" for k, n in counts.items()))
    for action in ("iam:GetServerCertificate", "acm:GetCertificate"):
        denied = [v.name for v in verdicts if f"{action} was denied" in v.annotation]
        if denied:
            print(f"missing permission: {action} was refused for {', '.join(denied)}", file=sys.stderr)
            return ERROR
    return FOUND if any(v.compliance is Compliance.NON_COMPLIANT for v in verdicts) else 0


# ---- invoke -----------------------------------------------------------------------------------


def invoke(args: argparse.Namespace) -> int:
    from HeartbleedServerCertificate import lambda_handler

    from . import events

    session = session_for(args)
    region = session.region_name
    if not region:  # Config is regional, and rdklib builds its clients for AWS_REGION, as in Lambda
        raise CliError(NO_REGION)
    given = dict(_pair(p) for p in args.parameter)
    if args.event:
        event = _read_event(args.event)
        parameters = invoke_parameters(_event_parameters(event, args.event), given)
        event["ruleParameters"] = json.dumps(parameters)
    elif args.scheduled:
        event = events.scheduled_event("TESTMODE", invoke_parameters({}, given))
    else:
        with aws_errors():
            got = client(args, session, "iam").get_server_certificate(ServerCertificateName=args.change)
        meta = got["ServerCertificate"]["ServerCertificateMetadata"]
        status = "ResourceDeleted" if args.deleted else "OK"
        item = events.configuration_item(meta["ServerCertificateName"], meta["Arn"], meta["Path"], status)
        event = events.change_event(item, "TESTMODE", invoke_parameters({}, given))
    if not args.send:
        event["resultToken"] = "TESTMODE"  # Config validates the evaluations and stores nothing
    # The handler builds its clients as in Lambda: from the environment, which the options set here.
    environment = {
        "AWS_PROFILE": args.profile,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": args.endpoint_url,
    }
    with _environment(environment), aws_errors():
        try:
            result = lambda_handler(event, None)
        except (BotoCoreError, ClientError):
            raise  # named by aws_errors
        except Exception as error:  # the handler failed: one line, never a traceback
            message = " ".join(str(error).split())
            raise CliError(f"the handler failed: {type(error).__name__}: {message}") from None
    print(json.dumps(result, indent=2, default=str))
    if not isinstance(result, list):
        return ERROR
    return FOUND if any(e.get("ComplianceType") == "NON_COMPLIANT" for e in result) else 0


def invoke_parameters(from_event: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """The rule parameters of a local run: your own credentials by default, then the event's, then --parameter."""
    from . import events

    parameters = {**events.LOCAL_ROLE, **from_event, **given}
    try:
        parse_rule_parameters(parameters)  # the rule's own check, before anything runs
    except ParameterError as error:
        raise CliError(str(error)) from None
    return parameters


def _read_event(path: str) -> dict[str, Any]:
    try:
        with open(path) as source:
            event = json.load(source)
    except (OSError, ValueError) as error:
        raise CliError(f"the event file {path} cannot be read as JSON: {type(error).__name__}") from None
    if not isinstance(event, dict):
        raise CliError(f"the event file {path} holds a JSON {type(event).__name__}: an event is a JSON object")
    return event


def _event_parameters(event: dict[str, Any], path: str) -> dict[str, str]:
    text = event.get("ruleParameters") or "{}"
    try:
        parameters = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        parameters = None
    if not isinstance(parameters, dict):
        raise CliError(f"the event file {path}: ruleParameters must be a string holding a JSON object")
    return parameters


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise CliError(f"--parameter {text!r} is not NAME=VALUE")
    return name, value


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set the environment variables that have a value for the block, then restore them."""
    chosen = {name: value for name, value in values.items() if value}
    saved = {name: os.environ.get(name) for name in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---- replace ----------------------------------------------------------------------------------


def replace(args: argparse.Namespace) -> int:
    cutoff = rule_parameters(args).cutoff
    material = remediation.check_material(args.certificate_body, args.private_key, args.certificate_chain, cutoff)
    session = session_for(args)
    with aws_errors():
        clients = {s: client(args, session, s) for s in ("iam", "elb", "elbv2", "cloudfront")}
        old = clients["iam"].get_server_certificate(ServerCertificateName=args.old_name)["ServerCertificate"]
        meta = old["ServerCertificateMetadata"]
        try:
            old_key = read_body(old["CertificateBody"]).key_fingerprint
        except BodyError:
            raise CliError(f"the body of {args.old_name} cannot be read, so re-keying cannot be checked") from None
        if old_key == material.key_fingerprint:
            raise CliError(
                f"the new certificate has the same key as {args.old_name}: it was reissued, not re-keyed; "
                "generate a new private key and have the certificate reissued for it"
            )
        users = remediation.find_users(clients, meta["Arn"], meta["ServerCertificateId"])
        print(f"old: {meta['Arn']} (id {meta['ServerCertificateId']}, uploaded {meta['UploadDate']:%Y-%m-%d})")
        print(
            f"new: checked: key matches, issued {material.not_before:%Y-%m-%d} (after the cutoff), valid now, "
            "a key type IAM's users serve, new key" + (", chain links" if material.chain else "")
        )
        for user in users:
            print(f"in use: {user.where}")
        name = args.new_name or (remediation.new_name(args.old_name) if users else args.old_name)
        if not users:
            plan = [f"delete {args.old_name}", f"upload the new certificate as {name} at path {meta['Path']}"]
        else:
            plan = [f"upload the new certificate as {name} at path {meta['Path']} (the old one is in use: kept)"]
        print("plan: " + "; then ".join(plan))
        if not args.apply:
            print("dry run: nothing changed; run again with --apply")
            return 0
        if not users:  # the seed's steps: the name is free only once the old one is gone
            clients["iam"].delete_server_certificate(ServerCertificateName=args.old_name)
        upload = {
            "ServerCertificateName": name,
            "Path": meta["Path"],
            "CertificateBody": material.body,
            "PrivateKey": material.private_key,
        }
        if material.chain:
            upload["CertificateChain"] = material.chain
        try:
            new = clients["iam"].upload_server_certificate(**upload)["ServerCertificateMetadata"]
        except ClientError as error:
            if users:
                raise
            code = error.response.get("Error", {}).get("Code", "")
            raise CliError(
                f"{args.old_name} (unused) was deleted, but the upload failed ({code}); upload it again with: "
                f"aws iam upload-server-certificate --server-certificate-name {name} --path {meta['Path']} "
                f"--certificate-body file://{args.certificate_body} --private-key file://{args.private_key}"
            ) from None
    print(f"uploaded {new['Arn']} (id {new['ServerCertificateId']})")
    for user in users:
        command = user.switch_command.replace("NEW_ARN", new["Arn"]).replace("NEW_ID", new["ServerCertificateId"])
        print(f"switch {user.where}:\n  {command}")
    if users:
        print(
            f"then, once nothing uses it: aws iam delete-server-certificate --server-certificate-name {args.old_name}"
        )
    return 0


# ---- the command line -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="heartbleed-audit",
        description="Find IAM server certificates exposed by Heartbleed (CVE-2014-0160), as the "
        "HeartbleedServerCertificate AWS Config rule does, and replace them safely.",
        epilog="Exit codes: 0 nothing found (or done), 1 findings, 2 an error. 'audit' is the default subcommand.",
    )
    commands = top.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")

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
    add_rule_options(check)
    add_aws_options(check)

    run = commands.add_parser(
        "invoke",
        help="run the Lambda handler locally on an event",
        description="Run lambda_handler locally and print the evaluations it would send "
        "(TestMode: Config validates them and stores nothing, unless --send).",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--event", metavar="FILE", help="an event document, as AWS Config sends it")
    source.add_argument("--scheduled", action="store_true", help="a generated ScheduledNotification")
    source.add_argument("--change", metavar="NAME", help="a generated change notification for this certificate")
    run.add_argument("--deleted", action="store_true", help="with --change: the certificate was deleted")
    run.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a rule parameter (repeatable); AssumeRoleMode=false is the default here",
    )
    run.add_argument("--send", action="store_true", help="keep the event's resultToken: really report")
    add_aws_options(run)

    fix = commands.add_parser(
        "replace",
        help="replace a certificate safely (dry run unless --apply)",
        description="Check the new certificate, find where the old one is used "
        "(ELB, ELBv2, CloudFront), and replace it without breaking a live listener.",
    )
    fix.add_argument("old_name", metavar="OLD_NAME", help="the IAM server certificate to replace")
    fix.add_argument("--certificate-body", required=True, metavar="FILE", help="the new certificate (PEM)")
    fix.add_argument("--private-key", required=True, metavar="FILE", help="its new private key (PEM, never shown)")
    fix.add_argument("--certificate-chain", metavar="FILE", help="the chain (PEM), first the issuer")
    fix.add_argument(
        "--new-name",
        help="name for the new certificate (default: OLD_NAME, or OLD_NAME-YYYYMMDD while the old one is in use)",
    )
    fix.add_argument("--cutoff", help="the new certificate must be issued after this (default: the rule's)")
    fix.add_argument("--apply", action="store_true", help="make the changes (default: a dry run)")
    add_aws_options(fix)
    return top


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the rule's parameters")
    group.add_argument(
        "--cutoff", help="CutoffDate: ISO 8601 date or date-time with zone (default 2014-04-08T00:00:00Z)"
    )
    group.add_argument("--no-body-check", action="store_true", help="CheckCertificateBody=false: upload dates only")
    group.add_argument("--exempt", metavar="LIST", help="ExemptCertificates: comma-separated names or ARNs")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments.insert(0, "audit")  # the default subcommand; any other word must name a subcommand
    args = parser().parse_args(arguments)
    if args.command == "replace":
        args.no_body_check, args.exempt = False, None
    quiet_sdk_logging()
    try:
        return {"audit": audit, "invoke": invoke, "replace": replace}[args.command](args)
    except (CliError, remediation.RemediationError) as error:
        print(f"heartbleed-audit: {error}", file=sys.stderr)
        return ERROR


def entry() -> None:
    sys.exit(main())
