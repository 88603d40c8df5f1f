"""The key ledger's items: the one place their keys, attributes and version are written down.

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

SCHEMA_VERSION = 1
SUMMARY = "#"
PENDING = "PENDING"
FORGOTTEN = "FORGOTTEN"
IMPORTED = "imported"  # the service of evidence imported from files
NO_ACCOUNT = "-"  # the account and region of imported evidence


class LedgerFormatError(ValueError):
    """A ledger item this code cannot read: another schema version, or a missing attribute."""


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


def account_pk(account: str) -> str:
    return f"A#{account}"


def key_pk(key: str) -> str:
    return f"K#{key}"


def certificate_sk(arn: str, certificate_id: str) -> str:
    return f"C#{arn}#{certificate_id}"


LEASE = "#LEASE"


def pending_sk(account: str, region: str) -> str:
    return f"{account}#{region}"


def rule_sk(region: str) -> str:
    return f"#RULE#{region}"


def run_sk(region: str) -> str:
    return f"#RUN#{region}"


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


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def instant(value: datetime) -> dict[str, str]:
    # ISO 8601 in UTC, fixed width, so that string order is time order (conditional writes compare them).
    return {"S": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def read_instant(text: str) -> datetime:
    """An instant as instant() writes it, or any ISO 8601 instant with a zone (an operator may write one)."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise LedgerFormatError(f"instant {text!r} has no time zone") from None
        return value.astimezone(UTC)


def run_update(account: str, region: str, rule: str, when: datetime, failure: str | None) -> dict[str, Any]:
    """The UpdateItem of a run's outcome (failure None: it delivered its evaluations). An update, not a put:
    a failure keeps the time of the last success, and the other way round."""
    field, values = ("last_failure", {":why": _s(failure[:500])}) if failure else ("last_success", {})
    return {
        "Key": {"pk": _s(account_pk(account)), "sk": _s(run_sk(region))},
        "UpdateExpression": f"SET #a = :a, #r = :r, #rule = :rule, v = :v, {field} = :t"
        + (", failure = :why" if failure else ""),
        "ExpressionAttributeNames": {"#a": "account", "#r": "region", "#rule": "rule"},
        "ExpressionAttributeValues": {
            ":a": _s(account),
            ":r": _s(region),
            ":rule": _s(rule),
            ":v": {"N": str(SCHEMA_VERSION)},
            ":t": instant(when),
            **values,
        },
    }


def member_run_from_item(item: Mapping[str, Any]) -> MemberRun:
    check_version(item)
    return MemberRun(
        account=_text(item, "account") or "",
        region=_text(item, "region") or "",
        rule=_text(item, "rule") or "",
        last_success=_when(item, "last_success"),
        last_failure=_when(item, "last_failure"),
        failure=_text(item, "failure"),
    )


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
        f"{prefix}key": _s(holder.key),
        f"{prefix}account": _s(holder.account),
        f"{prefix}service": _s(holder.service),
        f"{prefix}region": _s(holder.region),
        f"{prefix}arn": _s(holder.arn),
        f"{prefix}certificate_id": _s(holder.certificate_id),
        f"{prefix}name": _s(holder.name),
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
        attributes[f"{prefix}reason"] = _s(holder.reason)
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
    sk = _s(certificate_sk(holder.arn, holder.certificate_id))
    under_key = {"pk": _s(key_pk(holder.key)), "sk": sk, **attributes}
    if holder.service == IMPORTED:
        return [under_key]
    return [{"pk": _s(account_pk(holder.account)), "sk": sk, **attributes}, under_key]


def holder_from_item(item: Mapping[str, Any]) -> Holder:
    check_version(item)
    return _holder_from(item)


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return None if value is None else str(value)


def _when(item: Mapping[str, Any], name: str) -> datetime | None:
    value = _text(item, name)
    return read_instant(value) if value else None


def _claim(item: Mapping[str, Any], owner: str, expires: str) -> Claim | None:
    who, until = _text(item, owner), _when(item, expires)
    return Claim(who, until) if who is not None and until is not None else None


def summary_from_item(item: Mapping[str, Any]) -> KeySummary:
    check_version(item)
    earliest = _holder_from(item, "earliest_")
    token = _text(item, "owed")
    owed = Owed(token, _text(item, "owed_spare"), _claim(item, "owed_owner", "owed_expires")) if token else None
    return KeySummary(earliest.key, earliest, frozenset(item.get("accounts", {}).get("SS", [])), owed)


def kept_request_from_item(item: Mapping[str, Any]) -> KeptRequest:
    check_version(item)
    names = {name: _text(item, name) for name in ("account", "region", "rule")}
    missing = [name for name, value in names.items() if not value]
    if missing:
        raise LedgerFormatError(f"kept request {item.get('sk', {}).get('S', '?')} lacks {', '.join(missing)}")
    return KeptRequest(
        account=str(names["account"]),
        region=str(names["region"]),
        rule=str(names["rule"]),
        role=_text(item, "role"),
        owed=_text(item, "owed"),
        asked=_when(item, "asked"),
        claim=_claim(item, "owner", "expires"),
    )


def kept_request_attributes(request: KeptRequest) -> dict[str, Any]:
    """What a keep writes: the rule to ask, the keep's token and the last ask if given; never a claim,
    so a keep does not take a request from the run asking it (its token tells that run to keep it)."""
    attributes = {
        "account": _s(request.account),
        "region": _s(request.region),
        "rule": _s(request.rule),
        "v": {"N": str(SCHEMA_VERSION)},
    }
    if request.role is not None:
        attributes["role"] = _s(request.role)
    if request.owed is not None:
        attributes["owed"] = _s(request.owed)
    if request.asked is not None:
        attributes["asked"] = instant(request.asked)
    return attributes


def earliest_attributes(holder: Holder) -> dict[str, Any]:
    """The summary attributes that name the earliest holder (for a conditional SET)."""
    return _holder_attributes(holder, "earliest_")


# The optional earliest_* attributes: a new earliest holder that lacks one must remove the old one's.
OPTIONAL_EARLIEST = ("earliest_uploaded", "earliest_deleted_since", "earliest_reason")
