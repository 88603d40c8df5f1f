"""The rule's runs per account and Region (pk A#<account>, sk #RUN#<region>, schema.py): the item, and the
Ledger's methods that write and read it (heartbleed-audit ledger show --accounts and reevaluate read them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .schema import SCHEMA_VERSION, account_pk, check_version, instant, instant_of, run_sk, string, text_of
from .store import Table


@dataclass(frozen=True)
class MemberRun:
    """What the rule last did for one account in one Region: the copy of the rule that ran, when a run
    last delivered its evaluations, and when one last failed, and why. Each outcome keeps the other's time."""

    account: str
    region: str
    rule: str
    last_success: datetime | None = None
    last_failure: datetime | None = None
    failure: str | None = None

    @property
    def needs_evaluation(self) -> bool:
        """No run has delivered results here, or the latest run failed."""
        if self.last_success is None:
            return True
        return self.last_failure is not None and self.last_failure > self.last_success


def run_update(account: str, region: str, rule: str, when: datetime, failure: str | None) -> dict[str, Any]:
    """The UpdateItem of a run's outcome (failure None: it delivered its evaluations). An update, not a put:
    a failure keeps the time of the last success, and the other way round."""
    field, values = ("last_failure", {":why": string(failure[:500])}) if failure else ("last_success", {})
    return {
        "Key": {"pk": string(account_pk(account)), "sk": string(run_sk(region))},
        "UpdateExpression": f"SET #a = :a, #r = :r, #rule = :rule, v = :v, {field} = :t"
        + (", failure = :why" if failure else ""),
        "ExpressionAttributeNames": {"#a": "account", "#r": "region", "#rule": "rule"},
        "ExpressionAttributeValues": {
            ":a": string(account),
            ":r": string(region),
            ":rule": string(rule),
            ":v": {"N": str(SCHEMA_VERSION)},
            ":t": instant(when),
            **values,
        },
    }


def member_run_from_item(item: Mapping[str, Any]) -> MemberRun:
    check_version(item)
    return MemberRun(
        account=text_of(item, "account") or "",
        region=text_of(item, "region") or "",
        rule=text_of(item, "rule") or "",
        last_success=instant_of(item, "last_success"),
        last_failure=instant_of(item, "last_failure"),
        failure=text_of(item, "failure"),
    )


class MemberRuns:
    """The Ledger's methods for member runs (records.py composes them)."""

    store: Table

    def note_run(self, account: str, region: str, rule: str, when: datetime, failure: str | None = None) -> None:
        """Record that a run for the account and Region delivered its evaluations (failure None) or failed."""
        update = run_update(account, region, rule, when, failure)
        self.store.update(update.pop("Key"), **update)

    def member_runs(self, account: str) -> list[MemberRun]:
        """The account's recorded runs, one per Region the rule ran in."""
        return [member_run_from_item(item) for item in self.store.query(account_pk(account), run_sk(""))]
