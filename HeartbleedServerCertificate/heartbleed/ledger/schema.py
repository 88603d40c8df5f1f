"""The key ledger's items: their keys, attributes and version (the lease's item is leases.py's, a member's
run's member_runs.py's and a logged removal's operator_acts.py's, each beside the one code that writes it).

Pure: turns the ledger's facts into DynamoDB items and back, and makes no calls.

One table, string keys `pk` (partition) and `sk` (sort). Every item carries `v`, the schema
version; an item of another version is refused with LedgerFormatError, never guessed at.

  pk = A#<account>   sk = C#<arn>#<id>     a certificate of the account, as the ledger knows it
  pk = K#<key>       sk = C#<arn>#<id>     the same certificate, under the key it carries
  pk = K#<key>       sk = #                the key's summary: its earliest evidence, its accounts, and
                                           the re-evaluations a lowering still owes (owed_*)
  pk = A#<account>   sk = #RULE#<region>   how to ask that account's rule to evaluate again
  pk = A#<account>   sk = #LEASE           the run reading the account's unknown bodies, until expires
  pk = A#<account>   sk = #RUN#<region>    the rule's last successful and last failed run there (MemberRun)
  pk = PENDING       sk = <account>#<region>
                                           a kept request: a re-evaluation owed and not yet accepted
  pk = FORGOTTEN     sk = <instant>#<key>  an operator's removal of a key's evidence: who, when, why, what;
                                           `done` once every logged item is deleted and the holders queued

<key> is the SHA-256 of the DER SubjectPublicKeyInfo, in hex; <id> the ServerCertificateId (IAM) or,
for ACM, whose re-import keeps the ARN, the ImportedAt instant with the listed NotBefore, NotAfter and
KeyAlgorithm (acm.certificate_id). The certificate items are evidence,
not verdicts: each run judges them against its own CutoffDate. A deleted certificate keeps its items,
with deleted_since set; only an operator's command removes evidence.

Evidence an operator imports from files (`heartbleed-audit ledger import`: certificates long gone from
AWS) has service "imported", account and region "-", and a `reason`; it lives under its key only, since
no account's run lists it. Still version 1: readers of version 1 ignore the attribute they do not know,
and an older rule reads such a holder as a certificate of account "-" (what it judges is unchanged).

The summary's earliest_* attributes name the holder with the earliest evidence date (the earlier of
upload and NotBefore), which is all a cutoff needs: a key is compromised under a cutoff exactly when
that date is before it. They are lowered only by a conditional write, so concurrent runs converge
on the minimum.

The write order that makes a run stopped after any prefix of its writes complete at the next run
(summary before certificate items, repair on read, the owed marker, claimed kept requests) is
docs/ledger.md, "Write order".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .errors import LedgerFormatError

SCHEMA_VERSION = 1
SUMMARY = "#"
PENDING = "PENDING"
FORGOTTEN = "FORGOTTEN"
IMPORTED = "imported"  # the service of evidence imported from files
NO_ACCOUNT = "-"  # the account and region of imported evidence


@dataclass(frozen=True)
class Holder:
    """A certificate that carries, or carried, a key."""

    key: str
    account: str
    service: str  # "iam", "acm" or IMPORTED
    region: str
    arn: str
    certificate_id: str
    name: str
    not_before: datetime
    uploaded: datetime | None
    first_seen: datetime
    last_seen: datetime
    deleted_since: datetime | None = None
    reason: str | None = None  # why an operator imported it (imported evidence only)

    @property
    def evidence_date(self) -> datetime:
        """The earlier of upload and issue: the certificate is evidence under any cutoff after it."""
        return min(self.not_before, self.uploaded) if self.uploaded else self.not_before

    @property
    def evidence_kind(self) -> str:
        if self.uploaded is not None and self.uploaded < self.not_before:
            return "imported" if self.service == "acm" else "uploaded"
        return "issued"

    def seen(self, now: datetime) -> Holder:
        return replace(self, last_seen=now)


@dataclass(frozen=True)
class Claim:
    """A run's hold on shared work (writing out owed re-evaluations, asking a kept request), until expires:
    a run that dies does not hold the work for ever."""

    owner: str
    expires: datetime

    def held(self, now: datetime) -> bool:
        return self.expires >= now


@dataclass(frozen=True)
class Owed:
    """Re-evaluations a lowering of the summary owes to the key's accounts, not yet kept as requests."""

    token: str  # unique per lowering: the marker is removed only by the run that expanded this token
    spare: str | None = None  # the account that needs none: the lowering run reports it itself
    claim: Claim | None = None


@dataclass(frozen=True)
class KeySummary:
    """What the ledger holds against one key: its earliest holder, and every account that carried it."""

    key: str
    earliest: Holder
    accounts: frozenset[str]
    owed: Owed | None = None


# What the ledger holds against each key of a run, by key (a run's findings; the verdicts' evidence).
Summaries = Mapping[str, KeySummary]


@dataclass(frozen=True)
class KeptRequest:
    """A re-evaluation of one account's rule in one Region, owed and not yet accepted by Config."""

    account: str
    region: str
    rule: str
    role: str | None = None  # how to reach the rule; None: kept by an earlier version, look the rule up
    owed: str | None = None  # the token of its last keep: an accepted ask that saw another leaves it kept
    asked: datetime | None = None  # the last ask Config refused (it accepts one a minute per rule)
    claim: Claim | None = None

    @property
    def sk(self) -> str:
        return pending_sk(self.account, self.region)


@dataclass(frozen=True)
class RuleRegistration:
    """How another run asks one account's rule in one Region to evaluate again (pk A#<account>, sk #RULE#)."""

    account: str
    region: str
    rule: str
    role: str = ""  # the execution role to assume for the ask; empty: the function's own credentials


def account_pk(account: str) -> str:
    return f"A#{account}"


def key_pk(key: str) -> str:
    return f"K#{key}"


def certificate_sk(arn: str, certificate_id: str) -> str:
    return f"C#{arn}#{certificate_id}"


LEASE = "#LEASE"


def pending_sk(account: str, region: str) -> str:
    return f"{account}#{region}"


def summary_key(key: str) -> dict[str, Any]:
    return {"pk": string(key_pk(key)), "sk": string(SUMMARY)}


def pending_key(account: str, region: str) -> dict[str, Any]:
    return {"pk": string(PENDING), "sk": string(pending_sk(account, region))}


def rule_sk(region: str) -> str:
    return f"#RULE#{region}"


def run_sk(region: str) -> str:
    return f"#RUN#{region}"


def string(value: str) -> dict[str, str]:
    """A DynamoDB string attribute value."""
    return {"S": value}


def instant(value: datetime) -> dict[str, str]:
    # ISO 8601 in UTC, fixed width, so that string order is time order (conditional writes compare them).
    return {"S": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def owed_token(when: datetime, owner: str) -> str:
    """The token of a lowering or a keep (Owed.token, KeptRequest.owed): unique per owner, in time order."""
    return f"{instant(when)['S']}#{owner}"


def read_instant(text: str) -> datetime:
    """An instant as instant() writes it, or any ISO 8601 instant with a zone (an operator may write one)."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise LedgerFormatError(f"instant {text!r} is not an ISO 8601 instant") from None
        if value.tzinfo is None:
            raise LedgerFormatError(f"instant {text!r} has no time zone") from None
        return value.astimezone(UTC)


def check_version(item: Mapping[str, Any]) -> None:
    version = item.get("v", {}).get("N")
    if version != str(SCHEMA_VERSION):
        where = f"{item.get('pk', {}).get('S', '?')} / {item.get('sk', {}).get('S', '?')}"
        raise LedgerFormatError(
            f"ledger item {where} has schema version {version or 'none'}; this rule reads version {SCHEMA_VERSION}: "
            "deploy the rule version that wrote it, or migrate the table"
        )


def _holder_attributes(holder: Holder, prefix: str = "") -> dict[str, Any]:
    attributes: dict[str, Any] = {
        f"{prefix}key": string(holder.key),
        f"{prefix}account": string(holder.account),
        f"{prefix}service": string(holder.service),
        f"{prefix}region": string(holder.region),
        f"{prefix}arn": string(holder.arn),
        f"{prefix}certificate_id": string(holder.certificate_id),
        f"{prefix}name": string(holder.name),
        f"{prefix}not_before": instant(holder.not_before),
        f"{prefix}evidence_date": instant(holder.evidence_date),
        f"{prefix}first_seen": instant(holder.first_seen),
        f"{prefix}last_seen": instant(holder.last_seen),
    }
    if holder.uploaded is not None:
        attributes[f"{prefix}uploaded"] = instant(holder.uploaded)
    if holder.deleted_since is not None:
        attributes[f"{prefix}deleted_since"] = instant(holder.deleted_since)
    if holder.reason is not None:
        attributes[f"{prefix}reason"] = string(holder.reason)
    return attributes


def _holder_from(item: Mapping[str, Any], prefix: str = "") -> Holder:
    def text(name: str) -> str:
        value = item.get(f"{prefix}{name}", {}).get("S")
        if value is None:
            raise LedgerFormatError(f"ledger item {item.get('pk', {}).get('S', '?')} lacks {prefix}{name}")
        return str(value)

    def maybe(name: str) -> datetime | None:
        value = item.get(f"{prefix}{name}", {}).get("S")
        return read_instant(value) if value else None

    def when(name: str) -> datetime:
        return read_instant(text(name))

    return Holder(
        key=text("key"),
        account=text("account"),
        service=text("service"),
        region=text("region"),
        arn=text("arn"),
        certificate_id=text("certificate_id"),
        name=text("name"),
        not_before=when("not_before"),
        uploaded=maybe("uploaded"),
        first_seen=when("first_seen"),
        last_seen=when("last_seen"),
        deleted_since=maybe("deleted_since"),
        reason=item.get(f"{prefix}reason", {}).get("S"),
    )


def certificate_items(holder: Holder) -> list[dict[str, Any]]:
    """The two items of one certificate: under its account, and under its key (imported: its key only)."""
    attributes = {**_holder_attributes(holder), "v": {"N": str(SCHEMA_VERSION)}}
    sk = string(certificate_sk(holder.arn, holder.certificate_id))
    under_key = {"pk": string(key_pk(holder.key)), "sk": sk, **attributes}
    if holder.service == IMPORTED:
        return [under_key]
    return [{"pk": string(account_pk(holder.account)), "sk": sk, **attributes}, under_key]


def holder_from_item(item: Mapping[str, Any]) -> Holder:
    check_version(item)
    return _holder_from(item)


def text_of(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return None if value is None else str(value)


def instant_of(item: Mapping[str, Any], name: str) -> datetime | None:
    value = text_of(item, name)
    return read_instant(value) if value else None


def _claim(item: Mapping[str, Any], owner: str, expires: str) -> Claim | None:
    who, until = text_of(item, owner), instant_of(item, expires)
    return Claim(who, until) if who is not None and until is not None else None


def summary_from_item(item: Mapping[str, Any]) -> KeySummary:
    check_version(item)
    earliest = _holder_from(item, "earliest_")
    token = text_of(item, "owed")
    owed = Owed(token, text_of(item, "owed_spare"), _claim(item, "owed_owner", "owed_expires")) if token else None
    return KeySummary(earliest.key, earliest, frozenset(item.get("accounts", {}).get("SS", [])), owed)


def kept_request_from_item(item: Mapping[str, Any]) -> KeptRequest:
    check_version(item)
    names = {name: text_of(item, name) for name in ("account", "region", "rule")}
    missing = [name for name, value in names.items() if not value]
    if missing:
        raise LedgerFormatError(f"kept request {item.get('sk', {}).get('S', '?')} lacks {', '.join(missing)}")
    return KeptRequest(
        account=str(names["account"]),
        region=str(names["region"]),
        rule=str(names["rule"]),
        role=text_of(item, "role"),
        owed=text_of(item, "owed"),
        asked=instant_of(item, "asked"),
        claim=_claim(item, "owner", "expires"),
    )


def rule_item(registration: RuleRegistration) -> dict[str, Any]:
    return {
        "pk": string(account_pk(registration.account)),
        "sk": string(rule_sk(registration.region)),
        "account": string(registration.account),
        "region": string(registration.region),
        "rule": string(registration.rule),
        "role": string(registration.role),
        "v": {"N": str(SCHEMA_VERSION)},
    }


def rule_from_item(item: Mapping[str, Any]) -> RuleRegistration:
    # Read as before this type existed: no version check, a missing attribute reads empty.
    fields = {name: text_of(item, name) or "" for name in ("account", "region", "rule", "role")}
    return RuleRegistration(**fields)


def kept_request_attributes(request: KeptRequest) -> dict[str, Any]:
    """What a keep writes: the rule to ask, the keep's token and the last ask if given; never a claim,
    so a keep does not take a request from the run asking it (its token tells that run to keep it)."""
    attributes = {
        "account": string(request.account),
        "region": string(request.region),
        "rule": string(request.rule),
        "v": {"N": str(SCHEMA_VERSION)},
    }
    if request.role is not None:
        attributes["role"] = string(request.role)
    if request.owed is not None:
        attributes["owed"] = string(request.owed)
    if request.asked is not None:
        attributes["asked"] = instant(request.asked)
    return attributes


def earliest_attributes(holder: Holder) -> dict[str, Any]:
    """The summary attributes that name the earliest holder (for a conditional SET)."""
    return _holder_attributes(holder, "earliest_")


# The optional earliest_* attributes: a new earliest holder that lacks one must remove the old one's.
OPTIONAL_EARLIEST = ("earliest_uploaded", "earliest_deleted_since", "earliest_reason")
