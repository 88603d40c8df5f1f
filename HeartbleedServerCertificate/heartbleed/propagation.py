"""New evidence against a key reaches every account that carries it: StartConfigRulesEvaluation.

A run whose write lowered a key's earliest evidence to before its cutoff asks the rule of each
other account in the key's summary to evaluate again at once, instead of at its next periodic
run; a change event asks its own account's rule too when another of its certificates carries the
key (the change event reports only the changed certificate). Config refuses a rule asked again
within a minute (LimitExceededException), which does not prove that an evaluation covering the new
evidence is under way, so a refused or failed request is kept in the ledger and asked again by a
later run after a minute: never dropped (design section 11).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .certificate import CertificateEvidence
from .ledger import Ledger
from .ledger_run import LedgerFindings
from .ledger_schema import instant
from .parameters import RuleParameters

LOG = logging.getLogger(__name__)
ASK_AGAIN_AFTER = timedelta(minutes=1)  # Config's own limit for one rule

# (account, Region, role ARN or "") -> a Config client acting in that account
ConfigClients = Callable[[str, str, str], Any]


def accounts_to_ask(
    findings: LedgerFindings,
    params: RuleParameters,
    own_account: str,
    evidence: Sequence[CertificateEvidence],
    changed_only: bool,
) -> set[str]:
    """The accounts whose rule must evaluate again because of this run's new evidence."""
    own_holders = Counter(item.body.key_fingerprint for item in evidence if item.body is not None)
    accounts: set[str] = set()
    for key in findings.new_evidence:
        summary = findings.summaries.get(key)
        if summary is None or summary.earliest.evidence_date >= params.cutoff:
            continue
        accounts |= summary.accounts - {own_account}
        if changed_only and own_holders[key] > 1:  # the holder in this account, not reported by this event
            accounts.add(own_account)
    return accounts


def ask(
    ledger: Ledger, accounts: Iterable[str], clients: ConfigClients, now: datetime, own: dict[str, str]
) -> list[str]:
    """Ask each account's recorded rule to evaluate again, and retry the requests kept from earlier runs.

    own is this run's rule (account, region, rule, role), which needs no look-up. Returns the rules
    asked (account/Region/rule) that Config accepted.
    """
    accounts = set(accounts)
    kept = {
        (p["account"], p["region"]): p for p in ledger.pending() if p["asked"] <= instant(now - ASK_AGAIN_AFTER)["S"]
    }
    # How to reach a rule (its role) is in its registration, for kept requests too: a kept request names
    # only the rule, and another account's rule is reached through that account's role.
    own_rule = (own["account"], own["region"])
    registered = {
        (rule["account"], rule["region"]): rule
        for rule in ledger.rules((accounts | {account for account, _ in kept}) - {own["account"]})
    } | {own_rule: own}
    wanted = {where: rule for where, rule in registered.items() if where[0] in accounts}
    for missing in sorted(accounts - {account for account, _ in wanted}):
        LOG.warning("account %s carries a key with new evidence but has no rule recorded in the ledger", missing)
    retried = {where: registered.get(where, pending) for where, pending in kept.items()}
    accepted = []
    for (account, region), rule in sorted({**retried, **wanted}.items()):
        try:
            config = clients(account, region, rule.get("role", ""))
            config.start_config_rules_evaluation(ConfigRuleNames=[rule["rule"]])
        except (ClientError, BotoCoreError) as error:
            code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
            LOG.warning(
                "re-evaluation of %s in account %s (%s) not accepted (%s): kept, a later run asks again",
                rule["rule"],
                account,
                region,
                code or type(error).__name__,
            )
            if (account, region) not in kept:
                ledger.keep_pending(account, region, rule["rule"], instant(now)["S"])
            continue
        if (account, region) in kept:
            ledger.done_pending(account, region)
        accepted.append(f"{account}/{region}/{rule['rule']}")
    return accepted


_REGISTERED: set[tuple[str, str, str, str, str]] = set()  # written once per container, not once per run


def register(ledger: Ledger, rule: dict[str, str]) -> None:
    """Record how another run reaches this account's rule: its name, Region and the role used for it."""
    entry = (ledger.table, rule["account"], rule["region"], rule["rule"], rule["role"])
    if entry not in _REGISTERED:
        ledger.register_rule(rule["account"], rule["region"], rule["rule"], rule["role"])
        _REGISTERED.add(entry)


def forget() -> None:
    """Forget the registrations this container made (tests: a new container, a new table)."""
    _REGISTERED.clear()


def config_clients(own_account: str, own_client: Callable[[str], Any]) -> ConfigClients:
    """Config clients per account: the run's own (rdklib's client factory) for its account, else the
    account's recorded execution role, assumed with the function's own credentials."""

    def make(account: str, region: str, role: str) -> Any:
        import boto3

        if account == own_account or not role:
            return without_retries(own_client(region))
        credentials = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="HeartbleedPropagation")
        keys = credentials["Credentials"]
        client = boto3.client(
            "config",
            region_name=region,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )
        return without_retries(client)

    return make


def without_retries(client: Any) -> Any:
    """The client with botocore's retries removed: a refused request is kept in the ledger instead.

    Standard mode counts LimitExceededException, Config's answer to a rule asked again within a
    minute, as throttling and would retry it for about a minute inside the run (measured: a cold
    change event took 63 s, 4 s without the limit). botocore registers its handler under the unique
    id retry-config-<service> on needs-retry.<service>; the client is a new one, used only here.
    """
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"needs-retry.{service}", unique_id=f"retry-config-{service}")
    return client
