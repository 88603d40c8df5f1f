"""The estate audit: IAM and ACM certificates of one or many accounts judged as one pool.

A key that existed before the cutoff stays compromised wherever it went: into another
account, or into ACM. So every account's evidence is gathered first, then the one
verdict function judges the pool, and key reuse is found across accounts and services.

    heartbleed-audit audit --include-acm            this account, IAM and ACM
    heartbleed-audit audit --organization ...       every ACTIVE account of the organization
    heartbleed-audit audit --organization --ledger  the same, with the bodies the key ledger holds (ledger_audit.py)
    ... --ledger TABLE --record                     the same, and records what it read (ledger_backfill.py)

An account that cannot be read is reported as a failure, never skipped in silence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from heartbleed.account import list_account, read_listing
from heartbleed.certificate import CertificateEvidence
from heartbleed.container import WarmContainer
from heartbleed.evidence import KnownBodies
from heartbleed.ledger import Ledger, LedgerRun
from heartbleed.organization_guard import active_accounts
from heartbleed.parameters import RuleParameters
from heartbleed.retry_policy import CLIENT_CONFIG, error_code
from heartbleed.verdict import Verdict, evaluate_account

ACCOUNT_CONCURRENCY = 16  # accounts read at once; each paces its own IAM reads (heartbleed.pacing)
SESSION_NAME = "heartbleed-audit"


@dataclass(frozen=True)
class Target:
    """One account to audit: with the caller's own credentials, or through a role in it."""

    account: str
    role_arn: str | None = None


@dataclass(frozen=True)
class AccountFailure:
    account: str
    reason: str


@dataclass
class EstateAudit:
    verdicts: list[Verdict] = field(default_factory=list)
    failures: list[AccountFailure] = field(default_factory=list)
    bodies_known: int = 0  # with a key ledger: bodies it held, so not read again


@dataclass
class Clients:
    """Builds clients for every account from one session (its service models load once); container is
    what the audit keeps across accounts, as a warm Lambda container does (the bodies read)."""

    session: boto3.session.Session
    endpoint_url: str | None
    region: str
    container: WarmContainer = field(default_factory=WarmContainer)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _own: dict[tuple[str, str], Any] = field(default_factory=dict)  # the caller's clients, made once

    def client(self, service: str, credentials: dict[str, str] | None = None, region: str | None = None) -> Any:
        region = region or self.region
        if credentials is None and (service, region) in self._own:
            return self._own[(service, region)]
        keys = {}
        if credentials:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        with self._lock:  # a boto3 session is not thread-safe; its clients are
            made = self.session.client(  # type: ignore[call-overload]
                service, region_name=region, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG, **keys
            )
        if credentials is None:
            self._own[(service, region)] = made
        return made


def caller(clients: Clients) -> tuple[str, str]:
    """The calling account and its partition."""
    arn = clients.client("sts").get_caller_identity()["Arn"]
    return arn.split(":")[4], arn.split(":")[1]


def organization_accounts(clients: Clients) -> list[str]:
    """The organization's ACTIVE accounts, by the organization guard's own rule."""
    return sorted(active_accounts(clients.client("organizations")))


# evidence, unjudged, bodies known, (service, Region) listed in full
AccountOutcome = tuple[list[CertificateEvidence], list[Verdict], int, frozenset[tuple[str, str]]]
# Records one account's evidence through its LedgerRun (loaded), given what the account listed in full.
Recorder = Callable[[LedgerRun, list[CertificateEvidence], frozenset[tuple[str, str]]], None]


def _gather(
    clients: Clients,
    target: Target,
    params: RuleParameters,
    acm_regions: Sequence[str],
    known: KnownBodies | None = None,
) -> AccountOutcome:
    credentials = None
    if target.role_arn:
        sts = clients.client("sts")
        credentials = sts.assume_role(RoleArn=target.role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
    acm = [clients.client("acm", credentials, region) for region in acm_regions]
    listing = list_account(clients.client("iam", credentials), acm)
    collected = read_listing(listing, params, clients.container, known=known)
    held = 0
    if known and params.check_body:
        held = sum((meta.arn, meta.certificate_id) in known for meta in listing.judged)
    return collected.evidence, collected.unjudged, held, listing.scope


def _reason(error: Exception, limit: int = 300) -> str:
    """One line that names the refused call, the error code and AWS's message."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        text = f"{error.operation_name} refused ({error_code(error)}): {message}"
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def audit_estate(
    clients: Clients,
    targets: Sequence[Target],
    params: RuleParameters,
    acm_regions: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    ledger: Ledger | None = None,
    record: Recorder | None = None,
) -> EstateAudit:
    """Gather every target account concurrently (bounded), then judge the pool at once.

    With a key ledger (read, never written): each account's bodies the ledger holds are not read
    again, and the pool is judged with the ledger's summary of every key in it, so evidence of
    deleted certificates, imported backups and accounts outside the audit counts, as in the rule.
    A ledger that cannot be read raises LedgerError: the audit never judges without it.

    With record (the backfill, which needs a ledger), each account read in full is recorded through its
    loaded LedgerRun before the pool is judged, so the verdicts use what the backfill wrote.
    """
    result = EstateAudit()
    pool: list[CertificateEvidence] = []
    loaded: dict[str, tuple[LedgerRun, KnownBodies]] = {}

    def load(account: str) -> tuple[LedgerRun, KnownBodies]:
        assert ledger is not None
        run = LedgerRun(ledger, account, cutoff=params.cutoff)
        return run, run.load()

    if ledger is not None and targets:  # the first account's alone: a missing table fails before any role
        loaded[targets[0].account] = load(targets[0].account)

    def one(target: Target) -> AccountOutcome | AccountFailure:
        run, known = loaded.get(target.account) or (None, None)
        if run is None and ledger is not None:
            run, known = load(target.account)
        try:
            outcome = _gather(clients, target, params, acm_regions, known)
        except (ClientError, BotoCoreError) as error:
            return AccountFailure(target.account, _reason(error))
        if record is not None and run is not None:
            record(run, outcome[0], outcome[3])  # a LedgerError ends the whole run
        return outcome

    with ThreadPoolExecutor(max_workers=ACCOUNT_CONCURRENCY) as workers:
        for done, outcome in enumerate(workers.map(one, targets), start=1):
            if isinstance(outcome, AccountFailure):
                result.failures.append(outcome)
            else:
                evidence, gone, held, _ = outcome
                pool += evidence
                result.verdicts += gone
                result.bodies_known += held
            if progress:
                progress(done, len(targets))
    summaries = None
    if ledger is not None:
        summaries = ledger.summaries(item.body.key_fingerprint for item in pool if item.body is not None)
    result.verdicts = evaluate_account(pool, params, summaries) + result.verdicts
    return result
