"""The rule's input parameters: the one place they are named, defaulted and parsed.

AWS Config passes ruleParameters as a JSON object of strings. Every value is
checked here; a bad value or an unknown name raises ParameterError with a message
that names the parameter, the value given and what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

DEFAULT_CUTOFF = "2014-04-08T00:00:00Z"

# Parameters rdklib reads itself (role assumption); we only validate them.
RDKLIB_PARAMETERS = ("ExecutionRoleName", "ExecutionRoleRegion", "AssumeRoleMode")
RULE_PARAMETERS = ("CutoffDate", "CheckCertificateBody", "ExemptCertificates", "KeyLedgerTable", "HomeRegion")
KNOWN_PARAMETERS = RULE_PARAMETERS + RDKLIB_PARAMETERS

ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")  # IAM role names: 1-64 of these characters
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
# DynamoDB table names: 3-255 of these characters; a table ARN names the table's Region too.
_TABLE = re.compile(r"[\w.-]{3,255}|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[\w.-]{3,255}", re.ASCII)
_BOOLEANS = {"true": True, "false": False}


def shown(value: object, limit: int = 60) -> str:
    """A value quoted back in an error message: strings in quotes, and never more than limit characters."""
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ParameterError(ValueError):
    """A rule parameter is unknown or has a value the rule cannot use."""


@dataclass(frozen=True)
class RuleParameters:
    """The rule's parameters, parsed and checked (docs/design.md, Parameters)."""

    cutoff: datetime
    check_body: bool = True
    exempt: frozenset[str] = frozenset()
    ledger_table: str | None = None  # the key ledger's table name or ARN; None: judge one account alone
    home_region: str | None = None  # where IAM's rows are reported; None: wherever the rule runs

    def is_exempt(self, name: str, arn: str) -> bool:
        return name in self.exempt or arn in self.exempt

    def reports_iam(self, region: str) -> bool:
        """Whether the rule in region reports IAM's certificates: IAM is global, ACM is per Region, so a
        rule deployed in several Regions reports IAM in one of them and each Region's ACM there."""
        return self.home_region is None or self.home_region == region


def parse_cutoff(text: str, now: datetime | None = None) -> datetime:
    """Parse an ISO 8601 date (00:00 UTC) or a date-time with a zone; reject the future."""
    value = text.strip()
    accepted = "an ISO 8601 date such as 2014-04-08, or a date-time with a zone such as 2014-04-08T00:00:00Z"
    try:
        day: date | None = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        cutoff = datetime.combine(day, time(), UTC)
    else:
        try:
            cutoff = datetime.fromisoformat(value)
        except ValueError:
            raise ParameterError(f"CutoffDate {shown(text)} is not valid: use {accepted}") from None
        if cutoff.tzinfo is None:
            # A zone-less time would silently shift by the reader's offset.
            raise ParameterError(f"CutoffDate {shown(text)} has no time zone: use {accepted}")
    cutoff = cutoff.astimezone(UTC)
    if cutoff > (now or datetime.now(UTC)):
        raise ParameterError(f"CutoffDate {shown(text)} is in the future: use a past instant, default {DEFAULT_CUTOFF}")
    return cutoff


def _parse_bool(name: str, text: str) -> bool:
    try:
        return _BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ParameterError(f"{name} {shown(text)} is not valid: use true or false") from None


def _check_pattern(name: str, text: str, pattern: re.Pattern[str], accepted: str) -> None:
    if not pattern.fullmatch(text.strip()):
        raise ParameterError(f"{name} {shown(text)} is not valid: use {accepted}")


def parse_rule_parameters(raw: Mapping[str, object], now: datetime | None = None) -> RuleParameters:
    """Validate every parameter Config passed and return the rule's own settings."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"ruleParameters must be a JSON object of strings, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KNOWN_PARAMETERS))
    if unknown:
        names = ", ".join(shown(name) for name in unknown[:5])
        raise ParameterError(f"unknown parameter {names}: accepted names are {', '.join(KNOWN_PARAMETERS)}")
    values: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise ParameterError(
                f"{name} {shown(value)} is a {type(value).__name__}: Config passes every parameter as a string"
            )
        # An empty value (a blank CloudFormation parameter) means the default.
        if value.strip():
            values[name] = value

    if "ExecutionRoleName" in values:
        _check_pattern(
            "ExecutionRoleName",
            values["ExecutionRoleName"],
            ROLE_NAME,
            "an IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)",
        )
    if "ExecutionRoleRegion" in values:
        _check_pattern(
            "ExecutionRoleRegion", values["ExecutionRoleRegion"], _REGION, "an AWS Region code such as us-east-1"
        )
    if "HomeRegion" in values:
        _check_pattern(
            "HomeRegion",
            values["HomeRegion"],
            _REGION,
            "an AWS Region code such as us-east-1, or empty for this Region",
        )
    if "AssumeRoleMode" in values:
        _parse_bool("AssumeRoleMode", values["AssumeRoleMode"])

    if "KeyLedgerTable" in values:
        _check_pattern(
            "KeyLedgerTable",
            values["KeyLedgerTable"],
            _TABLE,
            "a DynamoDB table name (3-255 of A-Z a-z 0-9 _.-) or table ARN, or empty for no ledger",
        )
    exempt = frozenset(item.strip() for item in values.get("ExemptCertificates", "").split(",") if item.strip())
    return RuleParameters(
        cutoff=parse_cutoff(values.get("CutoffDate", DEFAULT_CUTOFF), now),
        check_body=_parse_bool("CheckCertificateBody", values.get("CheckCertificateBody", "true")),
        exempt=exempt,
        ledger_table=values["KeyLedgerTable"].strip() if "KeyLedgerTable" in values else None,
        home_region=values["HomeRegion"].strip() if "HomeRegion" in values else None,
    )
