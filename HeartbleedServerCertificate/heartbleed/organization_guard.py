"""The central function of an organization rule acts only for accounts of its own organization.

Config in every member account invokes the central function, so its invoke permission
cannot name one source account. An event from another account's Config would make the
function assume a role of that account's choosing and spend its concurrency. So an event
whose accountId is not the function's own account is served only if Organizations lists
that account as an ACTIVE member of the function's organization (ListAccounts, which the
management account or a delegated administrator, where the central function runs, may call).
active_accounts is also how the CLI's organization audit chooses its accounts: one rule for both.
The list is kept per container and read again, at most once a minute, for an account it lacks.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger(__name__)
REFRESH_AFTER_S = 60.0  # a new member account waits at most this long to be recognised


class NotInOrganization(Exception):
    """The event's account is not one the function serves; nothing was read or written."""


class _Members:
    def __init__(self) -> None:
        self.accounts: frozenset[str] = frozenset()
        self.read_at = float("-inf")
        self.lock = threading.Lock()


_MEMBERS = _Members()


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


def check_account(event_account: str, context: Any) -> None:
    """Raise NotInOrganization unless the event's account is the function's own or a member of its organization."""
    mine = own_account(context)
    if mine is None or event_account == mine:
        return  # a local run, or the account the function lives in
    with _MEMBERS.lock:
        stale = time.monotonic() - _MEMBERS.read_at > REFRESH_AFTER_S
        if event_account not in _MEMBERS.accounts and stale:
            try:
                _MEMBERS.accounts = active_accounts(boto3.client("organizations"))
            except (ClientError, BotoCoreError) as error:
                raise NotInOrganization(
                    f"cannot check that account {event_account} belongs to this organization "
                    f"(organizations:ListAccounts failed: {type(error).__name__}); refused"
                ) from None
            _MEMBERS.read_at = time.monotonic()
        if event_account not in _MEMBERS.accounts:
            LOG.warning("refused an event from account %s, not an ACTIVE account of this organization", event_account)
            raise NotInOrganization(
                f"account {event_account} is not an ACTIVE account of this function's organization: "
                "the event was refused, nothing was read or reported"
            )


def forget() -> None:
    """Drop the kept member list (a new container, in tests)."""
    with _MEMBERS.lock:
        _MEMBERS.accounts, _MEMBERS.read_at = frozenset(), float("-inf")
