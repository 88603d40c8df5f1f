"""heartbleed-audit invoke: the Lambda handler run locally, with the options' AWS session."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from heartbleed.parameters import ParameterError, parse_rule_parameters

from .cli_shared import ERROR, FOUND, NO_REGION, CliError, add_aws_options, aws_errors, client, session_for


def add_parser(commands: Any) -> None:
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
    run.set_defaults(run=invoke)


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
        event["ruleParameters"] = json.dumps(invoke_parameters(_event_parameters(event, args.event), given))
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
