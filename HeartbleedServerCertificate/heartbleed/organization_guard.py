"""The central function of an organization rule serves its own organization's copies of that rule only.

Config in every member account invokes the central function, so its invoke permission cannot
name one source account, and a member's administrator controls the member's Config. Two checks,
both before any role is assumed, anything read or the ledger written:

- check_origin (only when ORGANIZATION_RULE_NAME names the organization rule): the event must come
  from the member's copy of that rule. Config names a member's copy OrgConfigRule-<name>-<suffix>
  and gives it an ARN under config-rule/aws-service-rule/config-multiaccountsetup.amazonaws.com/,
  a path only Config's organization service creates (the AWSConfigMultiAccountSetupPolicy managed
  policy grants PutConfigRule on exactly that path). A member's own custom rule aimed at the
  function has neither. The account in executionRoleArn must be the event's accountId.
- check_account: an event whose accountId is not the function's own account is served only if
  Organizations lists that account as an ACTIVE member (ListAccounts, which the management account
  or a delegated administrator, where the central function runs, may call). active_accounts is also
  how the CLI's organization audit chooses its accounts: one rule for both.

The member list is kept per container (heartbleed/container.py). An account it does not know makes
it be read again, at most once per such account within RECHECK_AFTER_S (ListAccounts has low quotas;
never once per event).
Listed in a list read for it just now: served. Not listed: an outsider, refused (an error document,
which Lambda does not retry). Not read for it (read for it a moment ago, or ListAccounts failed):
MembershipUnknown, raised so that Lambda retries the event a minute or two later, when a member that
joined a moment ago is listed; see docs/deployment.md, "When a member has no results".
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .retry_policy import RetryableFailure

if TYPE_CHECKING:
    from .container import Members

LOG = logging.getLogger(__name__)
ORGANIZATION_RULE_VARIABLE = "ORGANIZATION_RULE_NAME"  # set by rules/organization.yaml on the function
MEMBER_COPY_PREFIX = "OrgConfigRule-"
MEMBER_COPY_PATH = "config-rule/aws-service-rule/config-multiaccountsetup.amazonaws.com/"
# Lambda retries a failed asynchronous event about 1 and 2 minutes later: a re-read for the same
# account is due by the first retry.
RECHECK_AFTER_S = 50.0


class Refused(Exception):
    """The event is not one the function serves; nothing was read or written (an error document)."""


class NotInOrganization(Refused):
    """The event's account is not an ACTIVE account of the function's organization."""


class NotTheOrganizationRule(Refused):
    """The event does not come from a member's copy of the organization rule."""


class MembershipUnknown(RetryableFailure):
    """The member list could not be read for the event's account now; Lambda retries the event."""


def organization_rule() -> str | None:
    """The organization rule this function serves, or None on a route without one."""
    return os.environ.get(ORGANIZATION_RULE_VARIABLE) or None


def member_copy_name(rule: str, name: str) -> bool:
    """Whether name is Config's name for a member's copy of the organization rule `rule`."""
    return re.fullmatch(re.escape(f"{MEMBER_COPY_PREFIX}{rule}-") + r"[A-Za-z0-9]+", name) is not None


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def check_origin(event: Mapping[str, Any], rule: str) -> None:
    """Raise NotTheOrganizationRule unless the event comes from a member's copy of `rule`, run with the
    member's own role."""
    account = str(event.get("accountId", ""))
    name = str(event.get("configRuleName", ""))
    arn = str(event.get("configRuleArn", ""))
    role = str(event.get("executionRoleArn", ""))
    parts = arn.split(":", 5)
    created_by_config = len(parts) == 6 and parts[2] == "config" and parts[5].startswith(MEMBER_COPY_PATH)
    if not member_copy_name(rule, name):
        problem = f"rule {name!r} is not a member's copy of the organization rule ({MEMBER_COPY_PREFIX}{rule}-<suffix>)"
    elif not created_by_config or _arn_account(arn) != account:
        problem = f"rule ARN {arn!r} is not one Config's organization service created in account {account}"
    elif _arn_account(role) != account:
        problem = f"executionRoleArn {role!r} is not a role of the event's account {account}"
    else:
        return
    LOG.warning("refused an event from account %s: %s", account, problem)
    raise NotTheOrganizationRule(f"{problem}: the event was refused, nothing was read or reported")


def own_account(context: Any) -> str | None:
    """The function's account, from its ARN; None outside Lambda (local runs have no context)."""
    arn = getattr(context, "invoked_function_arn", None)
    return arn.split(":")[4] if isinstance(arn, str) and arn.count(":") >= 5 else None


def active_accounts(organizations: Any) -> frozenset[str]:
    """The organization's ACTIVE accounts (ListAccounts, every page), through an Organizations client.

    A suspended, closing or closed account can be neither read nor served: its roles are unusable.
    """
    accounts: set[str] = set()
    for page in organizations.get_paginator("list_accounts").paginate():
        # State replaced Status in 2025; either says ACTIVE for an account in use.
        accounts.update(a["Id"] for a in page["Accounts"] if (a.get("State") or a.get("Status")) == "ACTIVE")
    return frozenset(accounts)


def check_account(
    event_account: str, context: Any, members: Members, clock: Callable[[], float] = time.monotonic
) -> None:
    """Raise NotInOrganization unless the event's account is the function's own or a member of its
    organization, by the container's member list; MembershipUnknown if that cannot be known now
    (module docstring)."""
    mine = own_account(context)
    if mine is None or event_account == mine:
        return  # a local run, or the account the function lives in
    with members.lock:
        if event_account in members.accounts:
            return
        now = clock()
        last = members.read_for.get(event_account)
        if last is not None and now - last < RECHECK_AFTER_S:
            raise MembershipUnknown(
                f"account {event_account} is not in the member list, which was read (or tried) for it "
                f"{now - last:.0f} s ago; it is read again for it after {RECHECK_AFTER_S:.0f} s, "
                "so Lambda retries the event"
            )
        # Counted before the read: a failing ListAccounts is not called again for this account at once either.
        members.read_for = {a: t for a, t in members.read_for.items() if now - t < RECHECK_AFTER_S}
        members.read_for[event_account] = now
        try:
            members.accounts = active_accounts(boto3.client("organizations"))
        except (ClientError, BotoCoreError) as error:
            raise MembershipUnknown(
                f"cannot check that account {event_account} belongs to this organization "
                f"(organizations:ListAccounts failed: {type(error).__name__}); Lambda retries the event"
            ) from None
        if event_account not in members.accounts:
            LOG.warning("refused an event from account %s, not an ACTIVE account of this organization", event_account)
            raise NotInOrganization(
                f"account {event_account} is not an ACTIVE account of this function's organization: "
                "the event was refused, nothing was read or reported"
            )
