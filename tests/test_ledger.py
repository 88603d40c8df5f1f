"""The key ledger module against two DynamoDB implementations: moto over HTTP (the double the rule's
tests run on) and dynalite (independent of moto; it checks the requests' shapes: expression syntax,
ConsistentRead, batch limits). Unprocessed keys and items are injected on one backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ledger_table import create_table

from heartbleed.ledger import Ledger, LedgerError, LedgerFormatError, RuleRegistration
from heartbleed.ledger import store as ledger_store
from heartbleed.ledger.schema import SCHEMA_VERSION, Holder, KeptRequest, Owed, certificate_sk, read_instant
from heartbleed.ledger.store import BATCH_GET_LIMIT, BATCH_WRITE_LIMIT
from heartbleed.retry_policy import UNPROCESSED_ROUNDS
from heartbleed_audit.double import AwsDouble

A, B = "111111111111", "222222222222"
REGION = "us-east-1"
SEEN = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def holder(
    key: str,
    account: str = A,
    name: str = "shop",
    *,
    issued: datetime = datetime(2020, 5, 1, tzinfo=UTC),
    upload: bool = True,
    deleted_since: datetime | None = None,
) -> Holder:
    certificate_id = f"ASCA{uuid.uuid5(uuid.NAMESPACE_DNS, f'{account}/{name}/{key}').hex[:17].upper()}"
    return Holder(
        key=key,
        account=account,
        service="iam",
        region=REGION,
        arn=f"arn:aws:iam::{account}:server-certificate/{name}",
        certificate_id=certificate_id,
        name=name,
        not_before=issued,
        uploaded=issued.replace(microsecond=250000) if upload else None,  # uploaded just after issue
        first_seen=SEEN,
        last_seen=SEEN,
        deleted_since=deleted_since,
    )


def key_of(n: int) -> str:
    return f"{n:064x}"


@dataclass
class Backend:
    name: str
    client: Any
    table: str
    calls: list[tuple[str, Mapping[str, Any]]]  # (operation, request) of every call, recorded by botocore's events

    def ledger(self) -> Ledger:
        return Ledger(self.client, self.table)

    def requests(self, operation: str) -> list[Mapping[str, Any]]:
        return [request for name, request in self.calls if name == operation]


@pytest.fixture(params=["moto", "dynalite"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """An empty ledger table on one implementation, with every DynamoDB request it receives recorded."""
    if request.param == "moto":
        aws: AwsDouble = request.getfixturevalue("aws")
        client = aws.client("dynamodb")
    else:
        client = request.getfixturevalue("dynalite_server").client()
    table = f"key-ledger-{uuid.uuid4().hex[:12]}"
    create_table(client, table)
    calls: list[tuple[str, Mapping[str, Any]]] = []

    def record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb.*", record)
    try:
        yield Backend(request.param, client, table, calls)
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", record)
        with suppress(ClientError):
            client.delete_table(TableName=table)


# --- Certificates -----------------------------------------------------------------------------


def test_certificates_read_back_as_written(backend: Backend) -> None:
    ledger = backend.ledger()
    shop = holder(key_of(1))
    legacy = holder(key_of(1), name="legacy", issued=datetime(2013, 6, 1, tzinfo=UTC), upload=False)
    gone = holder(key_of(2), name="gone", deleted_since=datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    elsewhere = holder(key_of(1), B, name="b-shop")
    ledger.put_certificates([shop, legacy, gone, elsewhere])

    assert ledger.account_certificates(A) == {(h.arn, h.certificate_id): h for h in (shop, legacy, gone)}
    assert ledger.account_certificates(B) == {(elsewhere.arn, elsewhere.certificate_id): elsewhere}
    assert ledger.account_certificates("333333333333") == {}
    assert sorted(ledger.key_holders(key_of(1)), key=lambda h: h.name) == [elsewhere, legacy, shop]
    assert ledger.key_holders(key_of(2)) == [gone]
    assert all(request["ConsistentRead"] is True for request in backend.requests("Query"))


def test_more_than_25_items_are_written_in_batches_of_25(backend: Backend) -> None:
    ledger = backend.ledger()
    holders = [holder(key_of(n), name=f"cert-{n}") for n in range(40)]  # two items each: 80 items
    ledger.put_certificates(holders)

    sizes = [len(request["RequestItems"][backend.table]) for request in backend.requests("BatchWriteItem")]
    assert sizes == [BATCH_WRITE_LIMIT, BATCH_WRITE_LIMIT, BATCH_WRITE_LIMIT, 80 - 3 * BATCH_WRITE_LIMIT]
    assert ledger.account_certificates(A) == {(h.arn, h.certificate_id): h for h in holders}
    assert all(ledger.key_holders(h.key) == [h] for h in holders[::13])


def test_summaries_of_more_than_100_keys_are_read_in_batches_of_100(backend: Backend) -> None:
    ledger = backend.ledger()
    holders = [
        holder(key_of(n), name=f"cert-{n}", issued=datetime(2010 + n % 10, 1, 1, tzinfo=UTC)) for n in range(230)
    ]
    ledger.put_certificates(holders)
    for each in holders:
        assert ledger.add_evidence(each) is True
    unknown = [key_of(n) for n in range(1000, 1020)]  # no summary: simply absent from the answer

    found = ledger.summaries([h.key for h in holders] + unknown + [holders[0].key])

    assert {key: summary.earliest for key, summary in found.items()} == {h.key: h for h in holders}
    assert all(summary.accounts == {A} for summary in found.values())
    requests = backend.requests("BatchGetItem")
    assert [len(request["RequestItems"][backend.table]["Keys"]) for request in requests] == [
        BATCH_GET_LIMIT,
        BATCH_GET_LIMIT,
        250 - 2 * BATCH_GET_LIMIT,
    ]
    assert all(request["RequestItems"][backend.table]["ConsistentRead"] is True for request in requests)
    assert ledger.summaries([]) == {}


# --- Evidence ---------------------------------------------------------------------------------

EARLY = holder(key_of(7), A, "legacy-2013", issued=datetime(2013, 6, 1, tzinfo=UTC))
LATE = holder(key_of(7), B, "reissue-2020", issued=datetime(2020, 6, 1, tzinfo=UTC))


@pytest.mark.parametrize("order", [(EARLY, LATE), (LATE, EARLY)], ids=["early-first", "late-first"])
def test_two_holders_in_either_order_converge_on_the_earliest(backend: Backend, order: tuple[Holder, Holder]) -> None:
    ledger = backend.ledger()
    first, second = order
    assert ledger.add_evidence(first) is True  # the summary is new
    assert ledger.add_evidence(second) is (second is EARLY)  # lowered only by earlier evidence

    summary = ledger.summaries([EARLY.key])[EARLY.key]
    assert summary.earliest == EARLY
    assert summary.accounts == {A, B}
    assert ledger.add_evidence(EARLY) is False  # the same date again is not new evidence
    assert ledger.add_evidence(replace(LATE, account="333333333333")) is False
    assert ledger.summaries([EARLY.key])[EARLY.key].accounts == {A, B, "333333333333"}
    assert ledger.summaries([EARLY.key])[EARLY.key].earliest == EARLY


def test_record_writes_facts_and_returns_the_keys_with_new_evidence(backend: Backend) -> None:
    ledger = backend.ledger()
    assert ledger.write_evidence([EARLY], [], []) == {EARLY.key}
    other = holder(key_of(8), B, "other")
    assert ledger.write_evidence([LATE, other], [EARLY.seen(SEEN.replace(day=2))], []) == {other.key}
    assert ledger.account_certificates(A)[(EARLY.arn, EARLY.certificate_id)].last_seen == SEEN.replace(day=2)
    assert set(ledger.summaries([EARLY.key, other.key])) == {EARLY.key, other.key}


def test_a_deleted_holder_is_kept_and_marks_the_summary_only_when_earliest(backend: Backend) -> None:
    ledger = backend.ledger()
    ledger.write_evidence([EARLY], [], [])  # one account's run each, as the rule records
    ledger.write_evidence([LATE], [], [])
    late_gone = replace(LATE, deleted_since=datetime(2025, 2, 1, tzinfo=UTC))
    ledger.write_evidence([], [], [late_gone])

    assert ledger.account_certificates(B)[(LATE.arn, LATE.certificate_id)] == late_gone
    assert ledger.summaries([EARLY.key])[EARLY.key].earliest.deleted_since is None  # LATE is not the evidence

    early_gone = replace(EARLY, deleted_since=datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    ledger.mark_deleted(early_gone)
    assert sorted(ledger.key_holders(EARLY.key), key=lambda h: h.name) == [early_gone, late_gone]
    summary = ledger.summaries([EARLY.key])[EARLY.key]
    assert summary.earliest == early_gone  # still the evidence: deletion never clears a key
    assert summary.accounts == {A, B}

    # Earlier evidence that still exists replaces it, and the summary no longer says "deleted".
    older = holder(key_of(7), B, "legacy-2011", issued=datetime(2011, 1, 1, tzinfo=UTC))
    assert ledger.add_evidence(older) is True
    assert ledger.summaries([EARLY.key])[EARLY.key].earliest == older


def test_deleting_a_certificate_whose_key_has_no_summary_writes_no_summary(backend: Backend) -> None:
    ledger = backend.ledger()
    gone = holder(key_of(9), deleted_since=datetime(2025, 1, 1, tzinfo=UTC))
    ledger.mark_deleted(gone)
    assert ledger.summaries([gone.key]) == {}
    assert ledger.key_holders(gone.key) == [gone]


# --- Format and failures ----------------------------------------------------------------------


def test_an_unreadable_instant_is_a_ledger_error() -> None:
    """Every failure to read an item is a LedgerError (LedgerFormatError), so one except catches them all."""
    for text in ("not an instant", "2026-03-01T12:00:00"):  # unparsable; no time zone
        with pytest.raises(LedgerFormatError, match=f"instant '{text}'") as refused:
            read_instant(text)
        assert isinstance(refused.value, LedgerError)


def test_an_item_of_another_schema_version_is_refused_by_name(backend: Backend) -> None:
    ledger = backend.ledger()
    ledger.write_evidence([EARLY], [], [])
    sk = certificate_sk(EARLY.arn, EARLY.certificate_id)
    backend.client.update_item(
        TableName=backend.table,
        Key={"pk": {"S": f"A#{A}"}, "sk": {"S": sk}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    with pytest.raises(LedgerFormatError, match=rf"A#{A} / C#.*legacy-2013.* version 2; this rule reads version 1"):
        ledger.account_certificates(A)
    assert ledger.key_holders(EARLY.key) == [EARLY]  # its twin under the key is still version 1

    backend.client.update_item(
        TableName=backend.table,
        Key={"pk": {"S": f"K#{EARLY.key}"}, "sk": {"S": "#"}},
        UpdateExpression="REMOVE v",
    )
    with pytest.raises(
        LedgerFormatError, match=rf"K#{EARLY.key} / # has schema version none; .* version {SCHEMA_VERSION}"
    ):
        ledger.summaries([EARLY.key])


def test_a_missing_table_is_named(backend: Backend) -> None:
    missing = Ledger(backend.client, "no-such-key-ledger")
    calls: list[Callable[[], object]] = [
        lambda: missing.account_certificates(A),
        lambda: missing.key_holders(EARLY.key),
        lambda: missing.summaries([EARLY.key]),
        lambda: missing.put_certificates([EARLY]),
        lambda: missing.add_evidence(EARLY),
        lambda: missing.mark_deleted(replace(EARLY, deleted_since=SEEN)),
        lambda: missing.rules([A]),
        lambda: missing.register_rule(RuleRegistration(A, REGION, "HeartbleedServerCertificate")),
        lambda: missing.keep(KeptRequest(A, REGION, "HeartbleedServerCertificate", asked=SEEN)),
        lambda: missing.kept_requests(),
        lambda: missing.release_lease(A, "a run"),
    ]
    for call in calls:
        with pytest.raises(LedgerError, match="KeyLedgerTable 'no-such-key-ledger' does not exist"):
            call()


# --- Rules and pending re-evaluations -----------------------------------------------------------


def test_registered_rules_are_read_back_per_account(backend: Backend) -> None:
    ledger = backend.ledger()
    role = f"arn:aws:iam::{B}:role/HeartbleedMemberExecution"
    ledger.register_rule(RuleRegistration(A, "us-east-1", "HeartbleedServerCertificate"))
    ledger.register_rule(RuleRegistration(A, "eu-west-1", "HeartbleedServerCertificate"))
    ledger.register_rule(RuleRegistration(B, "us-east-1", "OrgConfigRule-heartbleed-abc"))
    ledger.register_rule(RuleRegistration(B, "us-east-1", "OrgConfigRule-heartbleed-abc", role))  # later facts win
    ledger.put_certificates([EARLY])  # an account's certificates are not rules

    assert sorted(ledger.rules([A]), key=lambda rule: rule.region) == [
        RuleRegistration(A, "eu-west-1", "HeartbleedServerCertificate"),
        RuleRegistration(A, "us-east-1", "HeartbleedServerCertificate"),
    ]
    assert ledger.rules([B, "333333333333", B]) == [
        RuleRegistration(B, "us-east-1", "OrgConfigRule-heartbleed-abc", role)
    ]
    assert ledger.rules([]) == []


def test_a_request_kept_again_is_one_request_with_its_last_ask(backend: Backend) -> None:
    ledger = backend.ledger()
    assert ledger.kept_requests() == []
    first, again = SEEN, SEEN.replace(minute=1)
    ledger.keep(KeptRequest(A, "us-east-1", "HeartbleedServerCertificate", asked=first))
    ledger.keep(KeptRequest(B, "eu-west-1", "OrgConfigRule-heartbleed-abc", asked=first))
    ledger.keep(KeptRequest(A, "us-east-1", "HeartbleedServerCertificate", asked=again))  # asked again: one
    ledger.register_rule(RuleRegistration(A, "us-east-1", "HeartbleedServerCertificate"))  # a rule, not a request

    assert ledger.kept_requests() == [
        KeptRequest(A, "us-east-1", "HeartbleedServerCertificate", asked=again),
        KeptRequest(B, "eu-west-1", "OrgConfigRule-heartbleed-abc", asked=first),
    ]


# --- Unprocessed keys and items, injected -------------------------------------------------------


class Unprocessing:
    """A DynamoDB client that processes only part of each batch for its first `rounds` batch calls,
    answering the rest as UnprocessedKeys/UnprocessedItems, as DynamoDB does under load."""

    def __init__(self, client: Any, rounds: int) -> None:
        self._client = client
        self.rounds = rounds
        self.batch_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _short(self) -> bool:
        self.batch_calls += 1
        return self.batch_calls <= self.rounds

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        if not self._short():
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        (table, wanted), *_ = RequestItems.items()
        keys = wanted["Keys"]
        done, left = keys[: len(keys) // 2], keys[len(keys) // 2 :]  # at least one key left
        answer: dict[str, Any] = {"Responses": {table: []}}
        if done:
            answer = dict(self._client.batch_get_item(RequestItems={table: {**wanted, "Keys": done}}))
        return {**answer, "UnprocessedKeys": {table: {**wanted, "Keys": left}}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        if not self._short():
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        (table, requests), *_ = RequestItems.items()
        done, left = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        if done:
            self._client.batch_write_item(RequestItems={table: done})
        return {"UnprocessedItems": {table: left}}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The retry rounds the ledger paused in, without the pauses."""
    rounds: list[int] = []
    monkeypatch.setattr(ledger_store, "_pause", rounds.append)
    return rounds


@pytest.fixture
def moto_table(aws: AwsDouble) -> Iterator[tuple[Any, str]]:
    client = aws.client("dynamodb")
    table = f"key-ledger-{uuid.uuid4().hex[:12]}"
    create_table(client, table)
    yield client, table
    with suppress(ClientError):
        client.delete_table(TableName=table)


def test_unprocessed_items_and_keys_are_retried_until_done(moto_table: tuple[Any, str], pauses: list[int]) -> None:
    client, table = moto_table
    holders = [holder(key_of(n), name=f"cert-{n}") for n in range(30)]  # 60 items: chunks of 25, 25, 10
    flaky = Unprocessing(client, rounds=4)
    Ledger(flaky, table).put_certificates(holders)
    assert pauses == [0, 1, 2, 3]  # the first chunk of 25: 12, 6, 3, 2 written, then the last 2
    assert flaky.batch_calls == 5 + 2

    reliable = Ledger(client, table)
    assert reliable.account_certificates(A) == {(h.arn, h.certificate_id): h for h in holders}
    for each in holders:
        reliable.add_evidence(each)
    pauses.clear()
    flaky = Unprocessing(client, rounds=3)
    assert {key: s.earliest for key, s in Ledger(flaky, table).summaries(h.key for h in holders).items()} == {
        h.key: h for h in holders
    }
    assert pauses == [0, 1, 2]  # 15, 7, 4 keys read, then the last 4
    assert flaky.batch_calls == 4


@pytest.mark.parametrize("operation", ["write", "read"])
def test_keys_or_items_still_unprocessed_after_the_retries_fail_loudly(
    moto_table: tuple[Any, str], pauses: list[int], operation: str
) -> None:
    client, table = moto_table
    holders = [holder(key_of(n), name=f"cert-{n}") for n in range(30)]
    forever = Unprocessing(client, rounds=10**6)
    if operation == "write":
        with pytest.raises(LedgerError, match=f"'{table}' left items unprocessed after {UNPROCESSED_ROUNDS} retries"):
            Ledger(forever, table).put_certificates(holders)
    else:
        for each in holders:
            Ledger(client, table).add_evidence(each)
        with pytest.raises(LedgerError, match=f"'{table}' left keys unprocessed after {UNPROCESSED_ROUNDS} retries"):
            Ledger(forever, table).summaries(h.key for h in holders)
    assert forever.batch_calls == UNPROCESSED_ROUNDS + 1  # then it gives up, on the first chunk
    assert pauses[:UNPROCESSED_ROUNDS] == list(range(UNPROCESSED_ROUNDS))  # backing off between rounds


# --- Owed re-evaluations and kept requests (their expressions checked on both backends) ---------------


def test_a_lowering_carries_its_owed_mark_and_one_run_writes_it_out(backend: Backend) -> None:
    ledger = backend.ledger()
    assert ledger.add_evidence(LATE) is True
    assert ledger.summaries([LATE.key])[LATE.key].owed is None  # no mark asked for
    assert ledger.add_evidence(EARLY, owed=Owed("lowering-1", f"{A}#{REGION}")) is True
    owed = ledger.summaries([EARLY.key])[EARLY.key].owed
    assert owed == Owed("lowering-1", f"{A}#{REGION}")
    assert ledger.add_evidence(EARLY, owed=Owed("again", None)) is False  # no lowering: the mark is unchanged
    assert ledger.summaries([EARLY.key])[EARLY.key].owed == owed
    until = SEEN.replace(minute=5)
    assert ledger.claim_owed(EARLY.key, "lowering-1", "run-1", SEEN, until) is True
    assert ledger.claim_owed(EARLY.key, "lowering-1", "run-2", SEEN, until) is False  # held
    assert ledger.claim_owed(EARLY.key, "lowering-1", "run-2", SEEN.replace(minute=6), until) is True  # expired
    assert ledger.claim_owed(EARLY.key, "another", "run-3", SEEN.replace(minute=7), until) is False
    assert ledger.clear_owed(EARLY.key, "another") is False
    assert ledger.clear_owed(EARLY.key, "lowering-1") is True
    summary = ledger.summaries([EARLY.key])[EARLY.key]
    assert summary.owed is None and summary.earliest == EARLY and summary.accounts == {A, B}


def test_kept_requests_are_claimed_released_and_finished(backend: Backend) -> None:
    ledger = backend.ledger()
    rule = "HeartbleedServerCertificate"
    for account in (A, B, "333333333333"):
        ledger.keep(KeptRequest(account, REGION, rule, "", owed="t1"))
    ledger.keep(KeptRequest(A, REGION, rule, "", owed="t1"))  # kept again: still one
    assert [p.account for p in ledger.kept_requests()] == [A, B, "333333333333"]
    # A window from a point in the partition, then from its start: at most `limit` requests read.
    assert [r.account for r in ledger.kept_window(B, 2)] == [B, "333333333333"]
    assert [r.account for r in ledger.kept_window("2", 2)] == [B, "333333333333"]
    assert [r.account for r in ledger.kept_window("3", 2)] == ["333333333333", A]
    assert len(ledger.kept_window("", 10)) == 3
    later, minute_ago = SEEN + timedelta(minutes=1), SEEN - timedelta(minutes=1)
    claimed = ledger.claim_kept(A, REGION, "run-1", SEEN, later, minute_ago)
    assert claimed is not None and claimed.rule == rule and claimed.owed == "t1" and claimed.role == ""
    assert ledger.claim_kept(A, REGION, "run-2", SEEN, later, minute_ago) is None  # held by run-1
    assert ledger.claim_kept("444444444444", REGION, "run-2", SEEN, later, minute_ago) is None  # not kept
    ledger.release_kept(claimed, "run-1", SEEN)  # refused at SEEN
    assert ledger.claim_kept(A, REGION, "run-2", SEEN, later, minute_ago) is None  # asked less than a minute ago
    again = ledger.claim_kept(A, REGION, "run-2", later, later + timedelta(minutes=1), SEEN)
    assert again is not None and again.asked == SEEN
    assert ledger.finish_kept(again, "run-1") is False  # not run-1's
    ledger.keep(KeptRequest(A, REGION, rule, "", owed="t2"))  # new evidence while it is asked
    assert ledger.finish_kept(again, "run-2") is False
    fresh = ledger.claim_kept(B, REGION, "run-2", SEEN, later, minute_ago)
    assert fresh is not None and ledger.finish_kept(fresh, "run-2") is True
    assert [p.account for p in ledger.kept_requests()] == [A, "333333333333"]
