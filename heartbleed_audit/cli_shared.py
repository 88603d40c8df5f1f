"""What every heartbleed-audit subcommand shares: AWS access as the AWS CLI does it, the rule's
parameters as options, errors as one line, and the exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from heartbleed.parameters import ParameterError, RuleParameters, parse_rule_parameters
from heartbleed.retry_policy import CLIENT_CONFIG, error_code

FOUND, ERROR = 1, 2  # exit codes: findings; an error (0: nothing found, or done)
PROGRESS_FROM = 50  # items; fewer finish before a progress line would help
NO_REGION = "no AWS Region: pass --region, set AWS_REGION, or set region in your AWS profile"


class CliError(Exception):
    """A failure the user can act on; printed as one line, exit code 2."""


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


def client(args: argparse.Namespace, session: boto3.session.Session, service: str, region: str | None = None) -> Any:
    region = region or session.region_name or "us-east-1"  # IAM is global; us-east-1 is its home Region
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
        code = error_code(error)
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
    "DescribeRegions": "ec2:DescribeRegions",
}


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


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the rule's parameters")
    group.add_argument(
        "--cutoff", help="CutoffDate: ISO 8601 date or date-time with zone (default 2014-04-08T00:00:00Z)"
    )
    group.add_argument("--no-body-check", action="store_true", help="CheckCertificateBody=false: upload dates only")
    group.add_argument("--exempt", metavar="LIST", help="ExemptCertificates: comma-separated names or ARNs")
