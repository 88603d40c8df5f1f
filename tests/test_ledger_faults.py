"""The key ledger through the faults an operator meets: a run stopped after any prefix of its writes is
completed by the next run, and so is an operator's forget or import stopped part-way.

What the protocol is: HeartbleedServerCertificate/heartbleed/ledger/schema.py's docstring (the write
order, the repair on read, the outbox); kept requests and their claims: tests/test_kept_requests.py.
Real Config events through lambda_handler, botocore over HTTP to the double. A fault is either an HTTP
500 past the client's retries (the double's conditions) or a run that dies right after a call
succeeded: a BaseException from a botocore after-call hook, which passes every `except Exception` and
runs no clean-up of the rule's, as a Lambda timeout does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.retries import standard
from ledger_table import TABLE, create_table
from simulated_organization import MEMBER_RULE, as_central_function, invoke, stored, with_shared_key_and_ledger

import HeartbleedServerCertificate as handler
from heartbleed import clients
from heartbleed.ledger import Ledger, OperatorLedger, propagation
from heartbleed.ledger.schema import key_pk
from heartbleed.retry_policy import CLIENT_CONFIG
from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler

WITH_LEDGER = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}
ATTEMPTS = int(CLIENT_CONFIG.retries["total_max_attempts"])  # type: ignore[attr-defined]
OLD = datetime(2013, 6, 1, tzinfo=UTC)
REISSUED = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)


class Stopped(BaseException):
    """The run stops here, as at a Lambda timeout."""


@pytest.fixture
def ledger(aws: AwsDouble) -> Ledger:
    create_table(aws.client("dynamodb"))
    return Ledger(aws.client("dynamodb"), TABLE)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their pauses: the same attempts, in a fraction of the time."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@contextmanager
def stopped_after(operation: str, nth: int = 1) -> Iterator[list[str]]:
    """The rule's run dies right after its nth successful DynamoDB call of operation."""
    kept = handler.CONTAINER.sdk  # the session lambda_handler keeps, where the rule's clients come from
    clients.install_client_defaults(kept)
    session = kept.botocore_session
    assert session is not None
    seen: list[str] = []

    def hook(**kwargs: Any) -> None:
        if kwargs["http_response"].status_code < 300:
            seen.append(operation)
            if len(seen) == nth:
                raise Stopped(f"stopped after {operation} #{nth}")

    session.register(f"after-call.dynamodb.{operation}", hook, unique_id="test-stop")
    try:
        yield seen
    finally:
        session.unregister(f"after-call.dynamodb.{operation}", unique_id="test-stop")


def periodic(aws: AwsDouble) -> Any:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), WITH_LEDGER), None)


def verdict(aws: AwsDouble, arn: str) -> tuple[str, str]:
    result = aws.evaluations(events.RULE_NAME)[arn]
    return result.compliance_type, result.annotation or ""


def reissued_key(aws: AwsDouble) -> tuple[str, str]:
    """One account: Shop2013 and its 2020 reissue with the same key. Returns the reissue's ARN and the key."""
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    reissue = issue("shop.example.com", REISSUED, key=key)
    aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    arn = aws.upload("Shop2020", reissue.body, reissue.private_key, uploaded=REISSUED + timedelta(days=1))["Arn"]
    from heartbleed.certificate import read_body

    return arn, read_body(reissue.body).key_fingerprint


def delete_the_2013_certificate(aws: AwsDouble) -> None:
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop2013")


def assert_still_compromised(aws: AwsDouble, arn: str) -> None:
    compliance, annotation = verdict(aws, arn)
    assert compliance == "NON_COMPLIANT", annotation
    assert "Shares its public key with Shop2013 (deleted since " in annotation


# ---- A failed summary write, in one account and across accounts -----------------------------------


def test_a_summary_write_failing_past_the_retries_is_made_by_lambdas_retry(
    aws: AwsDouble, ledger: Ledger, quick_retries: None
) -> None:
    arn, _ = reissued_key(aws)
    aws.conditions.inject("dynamodb:UpdateItem", "500", times=ATTEMPTS)  # the key's summary
    with pytest.raises(RuntimeError, match=f"the key ledger '{TABLE}' could not be written: InternalFailure"):
        periodic(aws)
    assert aws.put_calls() == []  # failed loudly, sent nothing
    periodic(aws)  # Lambda's retry
    assert verdict(aws, arn)[0] == "NON_COMPLIANT"
    delete_the_2013_certificate(aws)
    periodic(aws)
    assert_still_compromised(aws, arn)


def test_a_failed_summary_write_in_one_account_reaches_the_other_accounts_holder(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    """Organization route: B's recent certificate carries A's 2013 key; A's run fails at the summary."""
    organization, parameters = with_shared_key_and_ledger(aws)
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, second, parameters)  # B first: COMPLIANT, and its rule recorded
        aws.conditions.inject("dynamodb:UpdateItem", "500", times=ATTEMPTS)
        with pytest.raises(RuntimeError, match="could not be written: InternalFailure"):
            invoke(aws, first, parameters)
        invoke(aws, first, parameters)  # Lambda's retry
        assert [started.rules for started in aws.started_evaluations(second)] == [(MEMBER_RULE,)]
        invoke(aws, second, parameters)  # what Config runs when asked
    assert stored(aws, second) == {organization.certificates[second]: "NON_COMPLIANT"}


# ---- A run that dies after its lowering, before its asks -------------------------------------------


def run_line(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """The last run's log line (heartbleed/run_log.py)."""
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "heartbleed" and '"outcome"' in r.message]
    return dict(lines[-1])


def test_a_run_that_dies_after_lowering_leaves_the_re_evaluation_owed(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    organization, parameters = with_shared_key_and_ledger(aws)
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, second, parameters)
        with stopped_after("UpdateItem"), pytest.raises(Stopped):  # A's lowering of the key's evidence
            invoke(aws, first, parameters)
        assert aws.started_evaluations(second) == []
        invoke(aws, first, parameters)  # Lambda's retry
        assert [started.rules for started in aws.started_evaluations(second)] == [(MEMBER_RULE,)]
        counts = run_line(caplog)["ledger"]
        assert (counts["owed_written_out"], counts["kept"], counts["claimed"], counts["accepted"]) == (1, 1, 1, 1)
        invoke(aws, second, parameters)
    assert stored(aws, second) == {organization.certificates[second]: "NON_COMPLIANT"}
    assert Ledger(aws.client("dynamodb"), TABLE).kept_requests() == []


def test_a_change_event_that_dies_after_lowering_asks_its_own_rule_on_the_retry(aws: AwsDouble, ledger: Ledger) -> None:
    """The change event reports the restored certificate only; its account's other holder is owed a re-evaluation."""
    key = new_key()
    current = issue("shop.example.com", NOW - timedelta(days=30), key=key)
    holder = aws.upload("Shop2025", current.body, current.private_key)
    periodic(aws)
    restored = issue("shop.example.com", OLD, key=key, days=20 * 365)
    backup = aws.upload("ShopRestored", restored.body, restored.private_key)
    item = events.configuration_item("ShopRestored", backup["Arn"])
    change = events.change_event(item, aws.result_token(events.RULE_NAME), WITH_LEDGER)
    with stopped_after("UpdateItem"), pytest.raises(Stopped):
        lambda_handler(change, None)
    lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), WITH_LEDGER), None)  # the retry
    assert [started.rules for started in aws.started_evaluations()] == [(events.RULE_NAME,)]
    periodic(aws)  # what Config runs when asked
    assert verdict(aws, holder["Arn"])[0] == "NON_COMPLIANT"


def test_an_owed_re_evaluation_written_out_is_not_asked_again_by_later_runs(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's lowering owes B nothing (B had not run); once written out, the mark is gone, even after its claim."""
    monkeypatch.setattr(propagation, "CLAIM_FOR", timedelta(0))  # every claim has expired by the next run
    organization, parameters = with_shared_key_and_ledger(aws)
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first, parameters)
        invoke(aws, second, parameters)  # sees the evidence itself
        invoke(aws, first, parameters)
    assert aws.started_evaluations(first) == aws.started_evaluations(second) == []
    ledger = Ledger(aws.client("dynamodb"), TABLE)
    assert ledger.kept_requests() == []
    [key] = {holder.key for holder in ledger.account_certificates(first).values()}
    assert ledger.summaries([key])[key].owed is None


# ---- Ledgers written by the landed order heal by themselves -----------------------------------------


def _summary(aws: AwsDouble, key: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": key_pk(key)}, "sk": {"S": "#"}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def _put_summary(aws: AwsDouble, key: str, summary: dict[str, Any] | None) -> None:
    dynamodb = aws.client("dynamodb")
    if summary is None:
        dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": key_pk(key)}, "sk": {"S": "#"}})
    else:
        dynamodb.put_item(TableName=TABLE, Item=summary)


@pytest.mark.parametrize("shape", ["no summary", "a later date", "no deletion mark"])
def test_a_table_the_landed_order_left_short_heals_at_the_next_run(aws: AwsDouble, ledger: Ledger, shape: str) -> None:
    """What the earlier write order (certificate items first, then the summary) left after a failure:
    certificate items whose key's summary is missing, names the reissue, or lacks the deletion mark."""
    if shape == "a later date":  # the reissue was recorded first, then the 2013 certificate's items only
        key = new_key()
        reissue = issue("shop.example.com", REISSUED, key=key)
        arn = aws.upload("Shop2020", reissue.body, reissue.private_key, uploaded=REISSUED + timedelta(days=1))["Arn"]
        periodic(aws)
        from heartbleed.certificate import read_body

        fingerprint = read_body(reissue.body).key_fingerprint
        before = _summary(aws, fingerprint)
        old = issue("shop.example.com", OLD, key=key)
        aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
        periodic(aws)
        _put_summary(aws, fingerprint, before)
    else:
        arn, fingerprint = reissued_key(aws)
        periodic(aws)
        if shape == "no summary":
            _put_summary(aws, fingerprint, None)
        else:
            delete_the_2013_certificate(aws)
            periodic(aws)
            summary = _summary(aws, fingerprint)
            assert summary is not None and "earliest_deleted_since" in summary
            _put_summary(aws, fingerprint, {k: v for k, v in summary.items() if k != "earliest_deleted_since"})
    periodic(aws)  # heals
    healed = ledger.summaries([fingerprint])[fingerprint]
    assert healed.earliest.name == "Shop2013" and healed.accounts == {ACCOUNT_ID}
    if shape != "no deletion mark":
        delete_the_2013_certificate(aws)
        periodic(aws)
    assert_still_compromised(aws, arn)
    assert ledger.summaries([fingerprint])[fingerprint].earliest.deleted_since is not None


def test_the_summary_is_written_before_the_certificate_items(
    aws: AwsDouble, ledger: Ledger, quick_retries: None
) -> None:
    """The certificate items fail past the retries: the summary is there already, so nothing is skipped."""
    _, fingerprint = reissued_key(aws)
    aws.conditions.inject("dynamodb:BatchWriteItem", "500", times=ATTEMPTS)
    with pytest.raises(RuntimeError, match="could not be written: InternalFailure"):
        periodic(aws)
    assert ledger.summaries([fingerprint])[fingerprint].earliest.name == "Shop2013"
    assert ledger.account_certificates(ACCOUNT_ID) == {}


def test_a_deletion_mark_is_written_before_the_certificate_item_says_deleted(
    aws: AwsDouble, ledger: Ledger, quick_retries: None
) -> None:
    arn, fingerprint = reissued_key(aws)
    periodic(aws)
    delete_the_2013_certificate(aws)
    aws.conditions.inject("dynamodb:BatchWriteItem", "500", times=ATTEMPTS)
    with pytest.raises(RuntimeError, match="could not be written: InternalFailure"):
        periodic(aws)
    assert ledger.summaries([fingerprint])[fingerprint].earliest.deleted_since is not None
    periodic(aws)
    assert_still_compromised(aws, arn)


# ---- Operator commands repeat safely -----------------------------------------------------------------


def cli(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["ledger", *argv, "--table", TABLE, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    return code, out, err


def test_a_forget_stopped_after_its_deletes_is_finished_by_running_it_again(
    aws: AwsDouble, ledger: Ledger, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    live = issue("shop.example.com", datetime(2025, 3, 1, tzinfo=UTC), key=key, days=900)
    holder = aws.upload("Shop2025", live.body, live.private_key)
    old = issue("shop.example.com", OLD, key=key)
    (tmp_path / "shop-2013.pem").write_text(old.body)
    periodic(aws)
    assert cli(aws, capfd, "import", str(tmp_path / "shop-2013.pem"), "--reason", "tape 7")[0] == 0
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "NON_COMPLIANT"
    from heartbleed.certificate import read_body

    fingerprint = read_body(live.body).key_fingerprint
    deletes = OperatorLedger.delete_items

    def deletes_then_stops(self: OperatorLedger, keys: Any) -> None:
        deletes(self, keys)
        raise Stopped("the terminal closed")

    monkeypatch.setattr(OperatorLedger, "delete_items", deletes_then_stops)
    with pytest.raises(Stopped):
        cli(aws, capfd, "forget", fingerprint, "--reason", "a test CA", "--yes")
    capfd.readouterr()
    assert ledger.kept_requests() == []  # stopped before it queued anything
    monkeypatch.setattr(OperatorLedger, "delete_items", deletes)
    code, out, err = cli(aws, capfd, "forget", fingerprint, "--reason", "a test CA", "--yes")
    assert code == 0, err
    assert "finishes the removal logged as FORGOTTEN" in out
    assert f"queued: {events.RULE_NAME} in {ACCOUNT_ID} (us-east-1)" in out
    assert [(p.account, p.rule) for p in ledger.kept_requests()] == [(ACCOUNT_ID, events.RULE_NAME)]
    [log] = OperatorLedger(aws.client("dynamodb"), TABLE).removals()
    assert log.done
    code, _, err = cli(aws, capfd, "forget", fingerprint, "--reason", "a test CA", "--yes")
    assert code == 2 and "nothing to forget" in err  # done: nothing left to finish
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "COMPLIANT"


def test_an_import_stopped_after_its_summary_write_queues_on_the_next_import(
    aws: AwsDouble, ledger: Ledger, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    live = issue("shop.example.com", datetime(2025, 3, 1, tzinfo=UTC), key=key, days=900)
    holder = aws.upload("Shop2025", live.body, live.private_key)
    (tmp_path / "shop-2013.pem").write_text(issue("shop.example.com", OLD, key=key).body)
    periodic(aws)
    lowers = OperatorLedger.add_evidence

    def lowers_then_stops(self: OperatorLedger, *args: Any, **kwargs: Any) -> bool:
        lowers(self, *args, **kwargs)
        raise Stopped("the terminal closed")

    monkeypatch.setattr(OperatorLedger, "add_evidence", lowers_then_stops)
    with pytest.raises(Stopped):
        cli(aws, capfd, "import", str(tmp_path / "shop-2013.pem"), "--reason", "tape 7")
    monkeypatch.setattr(OperatorLedger, "add_evidence", lowers)
    code, out, _ = cli(aws, capfd, "import", str(tmp_path / "shop-2013.pem"), "--reason", "tape 7")
    assert code == 0 and "its rule is queued to evaluate again" in out
    assert [(p.account, p.rule) for p in ledger.kept_requests()] == [(ACCOUNT_ID, events.RULE_NAME)]
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "NON_COMPLIANT"


def test_a_forget_made_while_a_run_is_under_way_is_not_undone_by_its_repair(
    aws: AwsDouble, ledger: Ledger, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run loaded Shop2013's item before the operator forgot the key; finding the summary gone, it
    must not write Shop2013's evidence back."""
    arn, fingerprint = reissued_key(aws)
    periodic(aws)
    delete_the_2013_certificate(aws)
    periodic(aws)
    loads = Ledger.account_certificates
    forgotten: list[int] = []

    def load_then_forget(self: Ledger, account: str) -> Any:
        held = loads(self, account)
        if not forgotten:
            forgotten.append(cli(aws, capfd, "forget", fingerprint, "--reason", "a test CA", "--yes")[0])
        return held

    monkeypatch.setattr(Ledger, "account_certificates", load_then_forget)
    periodic(aws)
    assert forgotten == [0]
    monkeypatch.setattr(Ledger, "account_certificates", loads)
    assert ledger.summaries([fingerprint]) == {}
    periodic(aws)  # records the reissue again, alone
    assert ledger.summaries([fingerprint])[fingerprint].earliest.name == "Shop2020"
    assert verdict(aws, arn)[0] == "COMPLIANT"
