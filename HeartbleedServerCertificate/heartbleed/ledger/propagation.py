"""New evidence against a key reaches every account that carries it: StartConfigRulesEvaluation.

A run whose write lowered a key's earliest evidence to before its cutoff left an owed marker on the
key's summary (protocol.py), in the same write. Any run that reads that summary writes the marker out
as kept requests, one per recorded rule of the key's accounts (except the rule of the run that lowered
it, which reports its own certificates), then removes the marker: the outbox, so a run that dies after
its lowering still leaves every re-evaluation owed (schema.py gives the shape).

Each run then asks a bounded number of kept requests: first the ones it kept, then a window of the
others. It claims each one with a conditional write that expires (like the lease), so concurrent runs
ask different rules, not all the same ones; a run that dies holding a claim holds it only until it
expires. Config refuses a rule asked again within a minute (LimitExceededException), which does not
prove that an evaluation covering the new evidence is under way, so a refused or failed request stays
kept, and a later run asks it after a minute: never dropped. What a run has no time or turn for stays
kept for the next runs, including the runs of the accounts just asked.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..deadline import NO_DEADLINE, Deadline
from ..retry_policy import error_code, without_retries
from .kept_requests import MAX_CONCURRENT_UPDATES
from .protocol import RunFindings
from .records import Ledger
from .schema import KeptRequest, RuleRegistration, Summaries, owed_token, pending_sk

if TYPE_CHECKING:
    from ..container import Registration

LOG = logging.getLogger(__name__)
ASK_AGAIN_AFTER = timedelta(minutes=1)  # Config's own limit for one rule
ASKS_PER_RUN = 25  # kept requests one run claims at most: the rest wait for the next runs
WINDOW_PER_ASK = 4  # a run reads at most this many kept requests per claim it may still make
ASK_TIME_S = 5.0  # time left that one more ask needs (an AssumeRole, the ask, two ledger writes)
CLAIM_FOR = timedelta(minutes=1)  # a claim of a run that died blocks its request this long at most
ACCOUNT_DIGITS = 12

# (account, Region, role ARN or "") -> a Config client acting in that account
ConfigClients = Callable[[str, str, str], Any]


@dataclass
class Propagation:
    """What one run did for re-evaluations (counted in the run's log line)."""

    owed_written_out: int = 0  # owed markers this run turned into kept requests
    kept: int = 0  # kept requests it wrote
    unregistered: int = 0  # accounts owed a re-evaluation with no rule recorded
    claimed: int = 0
    accepted: list[str] = field(default_factory=list)  # account/Region/rule that Config accepted
    refused: int = 0  # stays kept, asked again by a later run
    overtaken: int = 0  # accepted, but kept again meanwhile: stays kept
    out_of_time: int = 0  # claimable requests left for the next runs: no time left in this one

    def counts(self) -> dict[str, int]:
        return {
            "owed_written_out": self.owed_written_out,
            "kept": self.kept,
            "unregistered": self.unregistered,
            "claimed": self.claimed,
            "accepted": len(self.accepted),
            "refused": self.refused,
            "overtaken": self.overtaken,
            "out_of_time": self.out_of_time,
        }


def _claim_until(now: datetime, deadline: Deadline) -> datetime:
    left = deadline.left_s()
    return now + (CLAIM_FOR if left is None else min(CLAIM_FOR, timedelta(seconds=max(left, 1.0))))


def keep_for(
    ledger: Ledger, accounts: Iterable[str], own: RuleRegistration, token: str, spare: str | None = None
) -> tuple[list[KeptRequest], int]:
    """Keep a re-evaluation of every recorded rule of the accounts (the run's own rule as own says,
    none for the rule spare names). Returns the requests kept and the number of accounts without a rule."""
    accounts = set(accounts)
    rules = {(rule.account, rule.region): rule for rule in ledger.rules(accounts)}
    if own.account in accounts:
        rules[(own.account, own.region)] = own
    requests = [
        KeptRequest(account, region, rule.rule, rule.role, owed=token)
        for (account, region), rule in sorted(rules.items())
        if pending_sk(account, region) != spare
    ]
    missing = sorted(accounts - {account for account, _ in rules})
    for account in missing:
        LOG.warning("account %s carries a key with new evidence but has no rule recorded in the ledger", account)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPDATES) as pool:
        list(pool.map(ledger.keep, requests))
    return requests, len(missing)


def write_out_owed(
    ledger: Ledger,
    summaries: Summaries,
    own: RuleRegistration,
    owner: str,
    deadline: Deadline,
    done: Propagation,
) -> list[KeptRequest]:
    """Turn every owed marker among the summaries into kept requests, then remove it. Returns the requests."""
    kept: list[KeptRequest] = []
    for summary in sorted(summaries.values(), key=lambda summary: summary.key):
        owed, now = summary.owed, datetime.now(UTC)
        if owed is None or (owed.claim is not None and owed.claim.held(now) and owed.claim.owner != owner):
            continue
        if not ledger.claim_owed(summary.key, owed.token, owner, now, _claim_until(now, deadline)):
            continue  # another run writes it out, or it is gone
        requests, missing = keep_for(ledger, summary.accounts, own, owed.token, owed.spare)
        ledger.clear_owed(summary.key, owed.token)
        kept += requests
        done.owed_written_out += 1
        done.kept += len(requests)
        done.unregistered += missing
    return kept


def work(
    ledger: Ledger,
    clients: ConfigClients,
    owner: str,
    deadline: Deadline,
    own: RuleRegistration,
    first: Sequence[KeptRequest] = (),
    done: Propagation | None = None,
) -> Propagation:
    """Claim and ask up to ASKS_PER_RUN kept requests: first, then some of a window of the others."""
    done = done or Propagation()
    wanted = list(dict.fromkeys((request.account, request.region) for request in first))
    if len(wanted) < ASKS_PER_RUN:
        now = datetime.now(UTC)
        # A window from a random point (then from the start), taken in random order: concurrent runs
        # mostly claim different requests, even where the accounts' numbers lie close together.
        start = f"{random.randrange(10**ACCOUNT_DIGITS):0{ACCOUNT_DIGITS}d}"  # a spread, not a secret
        window = ledger.kept_window(start, WINDOW_PER_ASK * (ASKS_PER_RUN - len(wanted)))
        random.shuffle(window)
        for request in window:
            claimable = request.claim is None or not request.claim.held(now) or request.claim.owner == owner
            recent = request.asked is not None and request.asked > now - ASK_AGAIN_AFTER
            if claimable and not recent and (request.account, request.region) not in wanted:
                wanted.append((request.account, request.region))
    for number, (account, region) in enumerate(wanted):
        if done.claimed >= ASKS_PER_RUN:
            break
        left = deadline.left_s()
        if left is not None and left < ASK_TIME_S:
            done.out_of_time = len(wanted) - number
            break
        now = datetime.now(UTC)
        claimed = ledger.claim_kept(account, region, owner, now, _claim_until(now, deadline), now - ASK_AGAIN_AFTER)
        if claimed is None:
            continue  # another run holds it, Config refused it within the minute, or it is done
        done.claimed += 1
        _ask_one(ledger, clients, owner, own, claimed, done)
    return done


def _ask_one(
    ledger: Ledger, clients: ConfigClients, owner: str, own: RuleRegistration, request: KeptRequest, done: Propagation
) -> None:
    role = request.role
    if role is None:  # kept by an earlier version, which kept no role: the rule's registration has it
        recorded = [r for r in ledger.rules([request.account]) if r.region == request.region]
        mine = (request.account, request.region) == (own.account, own.region)
        role = own.role if mine else (recorded[0].role if recorded else "")
    try:
        config = clients(request.account, request.region, role)
        config.start_config_rules_evaluation(ConfigRuleNames=[request.rule])
    except (ClientError, BotoCoreError) as error:
        code = error_code(error) if isinstance(error, ClientError) else ""
        LOG.warning(
            "re-evaluation of %s in account %s (%s) not accepted (%s): kept, a later run asks again",
            request.rule,
            request.account,
            request.region,
            code or type(error).__name__,
        )
        ledger.release_kept(request, owner, datetime.now(UTC))
        done.refused += 1
        return
    if ledger.finish_kept(request, owner):
        done.accepted.append(f"{request.account}/{request.region}/{request.rule}")
    else:  # kept again since it was claimed: the evaluation just started may predate that evidence
        ledger.release_kept(request, owner, datetime.now(UTC))
        done.overtaken += 1


def propagate(
    ledger: Ledger,
    findings: RunFindings,
    own: RuleRegistration,
    clients: ConfigClients,
    owner: str,
    deadline: Deadline = NO_DEADLINE,
) -> Propagation:
    """A run's re-evaluations: write out the owed markers it read, then ask kept requests (its own first)."""
    done = Propagation()
    first = write_out_owed(ledger, findings.summaries, own, owner, deadline, done)
    return work(ledger, clients, owner, deadline, own, first, done)


def ask(
    ledger: Ledger,
    accounts: Iterable[str],
    clients: ConfigClients,
    now: datetime,
    own: RuleRegistration,
    deadline: Deadline = NO_DEADLINE,
) -> list[str]:
    """Keep a re-evaluation of each account's recorded rules, then ask kept requests as a run does.

    own is this run's rule (account, region, rule, role), which needs no look-up. Returns the rules
    asked (account/Region/rule) that Config accepted.
    """
    owner = owed_token(now, uuid.uuid4().hex)
    first, _ = keep_for(ledger, accounts, own, owner)
    return work(ledger, clients, owner, deadline, own, first).accepted


def register(ledger: Ledger, rule: RuleRegistration, made: set[Registration]) -> None:
    """Record how another run reaches this account's rule: its name, Region and the role used for it.
    made: the registrations this container already wrote (WarmContainer.registrations), not written again."""
    entry = (ledger.name, rule.account, rule.region, rule.rule, rule.role)
    if entry not in made:
        ledger.register_rule(rule)
        made.add(entry)


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
