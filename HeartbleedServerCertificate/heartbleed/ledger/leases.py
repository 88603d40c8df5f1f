"""An account's lease (pk A#<account>, sk #LEASE, schema.py): the one run reading the account's
certificate bodies the ledger lacks, until it expires (protocol.py says why)."""

from __future__ import annotations

from datetime import datetime

from .schema import LEASE, SCHEMA_VERSION, account_pk, instant, string
from .store import Table, unless_held


class Leases:
    """The Ledger's lease methods (records.py composes them)."""

    store: Table

    def take_lease(self, account: str, owner: str, now: datetime, expires: datetime) -> bool:
        """Take the account's lease for reading its bodies, unless another run holds an unexpired one."""
        item = {
            "pk": string(account_pk(account)),
            "sk": string(LEASE),
            "owner": string(owner),
            "expires": instant(expires),
            "v": {"N": str(SCHEMA_VERSION)},
        }
        return self.store.put(item, **unless_held(owner, now, either="attribute_not_exists(pk)"))

    def lease_held(self, account: str, now: datetime) -> bool:
        """Whether a run holds the account's lease now (a cheap read: one item)."""
        items = self.store.query(account_pk(account), LEASE)
        return any(item.get("expires", {}).get("S", "") >= instant(now)["S"] for item in items)

    def release_lease(self, account: str, owner: str) -> None:
        """Give the lease up, if it is still this run's (an expired one may have passed to another run)."""
        self.store.delete(
            {"pk": string(account_pk(account)), "sk": string(LEASE)},
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": string(owner)},
        )
