"""heartbleed-audit ledger show/import/forget, over HTTP against the double, and the rule judging what they leave."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from identities import acting_as
from ledger_table import TABLE, create_table
from log_secrets import SECRETS

from heartbleed.ledger import Ledger, OperatorLedger
from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler

NOW = datetime.now(UTC)
OLD = datetime(2013, 6, 1, tzinfo=UTC)
WITH_LEDGER = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}


@pytest.fixture
def ledger(aws: AwsDouble) -> OperatorLedger:
    create_table(aws.client("dynamodb"))
    return OperatorLedger(aws.client("dynamodb"), TABLE)


def cli(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str, table: str = TABLE) -> tuple[int, str, str]:
    code = main(["ledger", *argv, "--table", table, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    assert SECRETS.search(out + err) is None  # never a key or body on the terminal
    return code, out, err


def periodic(aws: AwsDouble) -> None:
    lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), WITH_LEDGER), None)


def verdict(aws: AwsDouble, arn: str) -> tuple[str, str]:
    stored = aws.evaluations(events.RULE_NAME)[arn]
    return stored.compliance_type, stored.annotation or ""


def key_of(body: str) -> str:
    from heartbleed.certificate import read_body

    return read_body(body).key_fingerprint


def backup(tmp_path: Path, key: Any) -> Path:
    """A 2014 backup directory: the 2013 certificate with its private key (as backups keep them), and notes."""
    old = issue("shop.example.com", OLD, key=key)
    (tmp_path / "2014" / "shop").mkdir(parents=True)
    (tmp_path / "2014" / "shop" / "shop-2013.pem").write_text(old.body + old.private_key)
    (tmp_path / "2014" / "README.txt").write_text("restored from tape 7\n")
    return tmp_path / "2014"


def everything(aws: AwsDouble) -> list[dict[str, Any]]:
    return sorted(
        aws.client("dynamodb").scan(TableName=TABLE)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"])
    )


# ---- import, and the rule's next evaluation ----------------------------------------------------


def test_an_imported_2013_backup_makes_the_live_2025_certificate_non_compliant(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    key = new_key()
    live = issue("shop.example.com", datetime(2025, 3, 1, tzinfo=UTC), key=key, days=900)
    holder = aws.upload("Shop2025", live.body, live.private_key)
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "COMPLIANT"  # nothing in AWS says the key is old
    code, out, err = cli(aws, capfd, "import", str(backup(tmp_path, key)), "--reason", "tape 7: 2013 shop cert")
    assert code == 0
    assert f"imported: shop-2013.pem, key {key_of(live.body)}, dated 2013-06-01T00:00:00Z (before" in out
    assert "carried by Shop2025" in out and "its rule is queued to evaluate again" in out
    assert "skipped" in err and "README.txt: holds no PEM certificate or public key" in err
    assert [(p.account, p.rule) for p in ledger.kept_requests()] == [(ACCOUNT_ID, events.RULE_NAME)]
    periodic(aws)  # any run of the rule asks what is queued
    assert [started.rules for started in aws.started_evaluations()] == [(events.RULE_NAME,)]
    assert ledger.kept_requests() == []
    compliance, annotation = verdict(aws, holder["Arn"])
    assert compliance == "NON_COMPLIANT"
    assert "Shares its public key with shop-2013.pem (imported into the ledger), issued 2013-06-01" in annotation
    summary = Ledger(aws.client("dynamodb"), TABLE).summaries([key_of(live.body)])[key_of(live.body)]
    assert summary.earliest.reason == "tape 7: 2013 shop cert"
    assert summary.accounts == {ACCOUNT_ID}  # imported evidence adds no account


def test_import_is_idempotent(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = backup(tmp_path, new_key())
    assert cli(aws, capfd, "import", str(directory), "--reason", "tape 7")[0] == 0
    first = everything(aws)
    assert len(first) == 2  # the certificate under its key, and the key's summary
    code, out, _ = cli(aws, capfd, "import", str(directory), str(directory / "shop"), "--reason", "again")
    assert code == 0 and "already in the ledger: shop-2013.pem" in out
    assert everything(aws) == first


def test_a_bare_public_key_needs_its_date(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = new_key()
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    (tmp_path / "shop.pub").write_text(pem)
    code, _, err = cli(aws, capfd, "import", str(tmp_path / "shop.pub"), "--reason", "r")
    assert code == 2 and "shop.pub: holds a bare public key: give its date with --not-before" in err
    assert everything(aws) == []
    code, out, _ = cli(aws, capfd, "import", str(tmp_path / "shop.pub"), "--reason", "r", "--not-before", "2013-01-05")
    assert code == 0 and "dated 2013-01-05T00:00:00Z" in out
    [holder] = ledger.key_holders(out.split("key ")[1].split(",")[0])
    assert (holder.service, holder.not_before) == ("imported", datetime(2013, 1, 5, tzinfo=UTC))


def test_a_file_with_one_bad_block_is_skipped_whole(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    good = issue("a.example.com", OLD)
    broken = "-----BEGIN CERTIFICATE-----\nTUlJQm9ndXM=\n-----END CERTIFICATE-----\n"
    (tmp_path / "bundle.pem").write_text(good.body + broken)
    (tmp_path / "ok.pem").write_text(good.body)
    code, out, err = cli(aws, capfd, "import", str(tmp_path), "--reason", "r")
    assert code == 0
    assert "bundle.pem: block 2 (CERTIFICATE) cannot be read" in err
    assert "imported: ok.pem" in out and "bundle.pem" not in out
    assert len(everything(aws)) == 2


# ---- show --------------------------------------------------------------------------------------


def test_show_lists_each_key_its_certificates_and_since_when(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    fresh = issue("cdn.example.com", NOW - timedelta(days=3))
    aws.upload("Cdn", fresh.body, fresh.private_key)
    periodic(aws)
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop2013")
    periodic(aws)
    code, out, _ = cli(aws, capfd, "show")
    assert code == 0
    assert f"KEY {key_of(old.body)}" in out and f"KEY {key_of(fresh.body)}" in out
    assert "earliest evidence: Shop2013 (iam global, deleted since " in out
    assert "2 keys with evidence" in out
    header = next(line for line in out.splitlines() if "ACCOUNT" in line).split()
    assert " ".join(header) == "ACCOUNT IN CERTIFICATE NOT BEFORE UPLOADED FIRST SEEN DELETED SINCE ARN OR REASON"
    code, out, _ = cli(aws, capfd, "show", "--key", key_of(old.body).upper(), "--output", "json")
    [shown] = json.loads(out)
    assert shown["key"] == key_of(old.body)
    assert shown["earliest_evidence"]["date"] == "2013-06-01T00:00:00Z"
    assert shown["earliest_evidence"]["deleted_since"] is not None
    assert [(c["name"], c["account"], c["service"]) for c in shown["certificates"]] == [("Shop2013", ACCOUNT_ID, "iam")]
    _, out, _ = cli(aws, capfd, "show", "--account", "111122223333", "--output", "json")
    assert json.loads(out) == []
    _, out, _ = cli(aws, capfd, "show", "--account", ACCOUNT_ID, "--output", "json")
    assert len(json.loads(out)) == 2


def test_show_pages_through_a_scan(aws: AwsDouble, ledger: OperatorLedger) -> None:
    many = [issue(f"s{n}.example.com", NOW - timedelta(days=3)) for n in range(3)]
    for number, cert in enumerate(many):
        aws.upload(f"S{number}", cert.body, cert.private_key)
    periodic(aws)
    scans = []
    real = ledger.store.dynamodb.scan

    def one_at_a_time(**request: Any) -> Any:
        scans.append(request)
        return real(**request, Limit=2)

    ledger.store.dynamodb.scan = one_at_a_time
    assert ledger.keys() == sorted(key_of(cert.body) for cert in many)
    assert len(scans) > 1


# ---- forget ------------------------------------------------------------------------------------


def test_forget_removes_the_key_logs_it_and_the_certificate_is_compliant_again(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    key = new_key()
    live = issue("shop.example.com", datetime(2025, 3, 1, tzinfo=UTC), key=key, days=900)
    holder = aws.upload("Shop2025", live.body, live.private_key)
    other = issue("cdn.example.com", NOW - timedelta(days=3))
    aws.upload("Cdn", other.body, other.private_key)
    periodic(aws)
    cli(aws, capfd, "import", str(backup(tmp_path, key)), "--reason", "tape 7")
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "NON_COMPLIANT"
    untouched = [item for item in everything(aws) if key_of(live.body) not in json.dumps(item)]
    fingerprint = key_of(live.body)
    code, out, _ = cli(aws, capfd, "forget", fingerprint, "--reason", "mistaken: tape 7 was a test CA", "--yes")
    assert code == 0
    assert f"K#{fingerprint} #" in out and f"A#{ACCOUNT_ID} C#{holder['Arn']}#" in out
    assert "removes 4 items" in out  # summary, the import and Shop2025 under the key, Shop2025 under its account
    assert "note: Shop2025" in out
    [log] = ledger.removals()
    assert log.key == fingerprint
    assert log.reason == "mistaken: tape 7 was a test CA"
    assert log.who.startswith("arn:aws:")
    assert len(log.removed) == 4
    assert f"queued: {events.RULE_NAME} in {ACCOUNT_ID} (us-east-1) evaluates again" in out
    assert [(p.account, p.rule) for p in ledger.kept_requests()] == [(ACCOUNT_ID, events.RULE_NAME)]
    kept = {"FORGOTTEN", "PENDING"}
    assert [item for item in everything(aws) if item["pk"]["S"] not in kept] == untouched  # nothing else
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "COMPLIANT"
    assert ledger.summaries([fingerprint])[fingerprint].earliest.name == "Shop2025"  # recorded again


def test_forget_off_a_terminal_needs_yes(
    aws: AwsDouble,
    ledger: OperatorLedger,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = new_key()
    cli(aws, capfd, "import", str(backup(tmp_path, key)), "--reason", "tape 7")
    before = everything(aws)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a terminal, whatever it says
    fingerprint = key_of(issue("x", OLD, key=key).body)
    code, out, err = cli(aws, capfd, "forget", fingerprint, "--reason", "r")
    assert code == 2 and "stdin is not a terminal: pass --yes" in err
    assert "removes 2 items" in out
    assert everything(aws) == before


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_forget_on_a_terminal_asks_first(
    aws: AwsDouble,
    ledger: OperatorLedger,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = new_key()
    cli(aws, capfd, "import", str(backup(tmp_path, key)), "--reason", "tape 7")
    before = everything(aws)
    fingerprint = key_of(issue("x", OLD, key=key).body)
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    code, out, _ = cli(aws, capfd, "forget", fingerprint, "--reason", "r")
    assert code == 0 and "remove these 2 items? type yes:" in out and "nothing removed" in out
    assert everything(aws) == before and ledger.removals() == []
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, _ = cli(aws, capfd, "forget", fingerprint, "--reason", "r")
    assert code == 0 and "removed 2 items" in out
    assert [item["pk"]["S"] for item in everything(aws)] == ["FORGOTTEN"]


# ---- bad input ---------------------------------------------------------------------------------


def test_an_unknown_table_is_named(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    for argv in (("show",), ("forget", "a" * 64, "--reason", "r", "--yes")):
        code, _, err = cli(aws, capfd, *argv, table="NoSuchLedger")
        assert code == 2 and "'NoSuchLedger': no such DynamoDB table" in err


def test_a_table_name_dynamodb_refuses_is_named(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(aws, capfd, "show", table="no spaces")
    assert code == 2 and "--table 'no spaces' is not valid" in err


def test_a_bad_fingerprint_is_named(aws: AwsDouble, ledger: OperatorLedger, capfd: pytest.CaptureFixture[str]) -> None:
    for argv in (("forget", "abc123", "--reason", "r", "--yes"), ("show", "--key", "abc123")):
        code, _, err = cli(aws, capfd, *argv)
        assert code == 2 and "fingerprint 'abc123' is not 64 hex characters" in err
    code, _, err = cli(aws, capfd, "forget", "g" * 64, "--reason", "r", "--yes")
    assert code == 2 and f"fingerprint '{'g' * 64}'" in err


def test_an_item_this_version_cannot_read_is_named_not_blamed_on_permissions(
    aws: AwsDouble, ledger: OperatorLedger, capfd: pytest.CaptureFixture[str]
) -> None:
    key = "ab" * 32
    aws.client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": f"K#{key}"}, "sk": {"S": "#"}, "v": {"N": "2"}})
    code, _, err = cli(aws, capfd, "show", "--key", key)
    assert code == 2
    assert f"--table: ledger item K#{key} / # has schema version 2; this rule reads version 1" in err
    assert "needs dynamodb:" not in err  # a LedgerFormatError is a LedgerError, but not a refused permission


def test_an_unreadable_import_path_is_named_and_nothing_is_written(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = backup(tmp_path, new_key())
    missing = str(tmp_path / "nowhere.pem")
    code, _, err = cli(aws, capfd, "import", str(directory), missing, "--reason", "r")
    assert code == 2 and f"import path {missing!r} does not exist" in err
    dangling = directory / "shop" / "renewal.pem"
    dangling.symlink_to(tmp_path / "gone.pem")  # found only by walking the directory
    code, _, err = cli(aws, capfd, "import", str(directory), "--reason", "r")
    assert code == 2 and f"import path {str(dangling)!r} is a link to nothing" in err
    assert everything(aws) == []  # the readable certificate beside it was not written either


def test_a_file_without_read_permission_is_named(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    locked = backup(tmp_path, new_key()) / "shop" / "shop-2013.pem"
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("running as root: file permissions do not bind")
    code, _, err = cli(aws, capfd, "import", str(tmp_path), "--reason", "r")
    assert code == 2 and f"import path {str(locked)!r} cannot be read" in err
    assert everything(aws) == []


def test_forget_of_a_key_without_evidence_is_named(
    aws: AwsDouble, ledger: OperatorLedger, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(aws, capfd, "forget", "b" * 64, "--reason", "r", "--yes")
    assert code == 2 and f"no evidence against key {'b' * 64} in {TABLE}" in err
    assert ledger.removals() == []


def test_without_a_table_the_command_says_how_to_name_one(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEARTBLEED_KEY_LEDGER", raising=False)
    code = main(["ledger", "show", "--endpoint-url", aws.endpoint_url])
    assert code == 2 and "pass --table NAME_OR_ARN or set HEARTBLEED_KEY_LEDGER" in capfd.readouterr().err


def test_the_operator_policy_is_enough_for_show_import_and_forget_and_only_on_the_ledger(
    aws: AwsDouble, ledger: OperatorLedger, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """rules/ledger-operator-policy.json, under the double's IAM enforcement: the operator's whole policy."""
    policy = json.loads((Path(__file__).resolve().parents[1] / "rules" / "ledger-operator-policy.json").read_text())
    create_table(aws.client("dynamodb"), "OtherTable")
    fingerprint = key_of(issue("shop.example.com", OLD, key=(key := new_key())).body)
    with acting_as(aws, policy):
        assert cli(aws, capfd, "import", str(backup(tmp_path, key)), "--reason", "tape 7")[0] == 0
        code, out, _ = cli(aws, capfd, "show")
        assert code == 0 and fingerprint in out
        assert cli(aws, capfd, "forget", fingerprint, "--reason", "a test CA", "--yes")[0] == 0
        code, _, err = cli(aws, capfd, "show", table="OtherTable")
    assert code == 2 and "AccessDeniedException" in err
    assert [log.key for log in ledger.removals()] == [fingerprint]
