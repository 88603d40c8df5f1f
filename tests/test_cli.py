"""heartbleed-audit end to end: every subcommand against the AWS double over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from identities import POLICY, acting_as
from log_secrets import SECRETS
from users_of_certificates import distribution_using, load_balancers_using

from heartbleed.verdict import Compliance, Verdict
from heartbleed_audit import events
from heartbleed_audit.audit_command import report
from heartbleed_audit.cli import main
from heartbleed_audit.demo import sample_account
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import AwsDouble

NOW = datetime.now(UTC)


def cli(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--endpoint-url", aws.endpoint_url] if argv[:1] != ("--demo",) else list(argv))
    out, err = capfd.readouterr()
    assert SECRETS.search(out + err) is None  # never a key or body on the terminal
    return code, out, err


def files(tmp_path: Path, cert: Issued, key: str | None = None, chain: str | None = None) -> list[str]:
    (tmp_path / "cert.pem").write_text(cert.body)
    (tmp_path / "key.pem").write_text(key or cert.private_key)
    argv = ["--certificate-body", str(tmp_path / "cert.pem"), "--private-key", str(tmp_path / "key.pem")]
    if chain is not None:
        (tmp_path / "chain.pem").write_text(chain)
        argv += ["--certificate-chain", str(tmp_path / "chain.pem")]
    return argv


def exists(aws: AwsDouble, name: str) -> bool:
    try:
        aws.client("iam").get_server_certificate(ServerCertificateName=name)
    except ClientError:
        return False
    return True


# ---- audit ------------------------------------------------------------------------------------


def test_audit_prints_a_table_and_exits_1_on_findings(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    sample_account.build(aws)
    code, out, _ = cli(aws, capfd)  # audit is the default subcommand
    assert code == 1
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line and line[0].isupper()}
    assert {name: rows[name] for name in sample_account.EXPECTED} == sample_account.EXPECTED
    assert "6 certificates: 2 COMPLIANT, 4 NON_COMPLIANT, 0 NOT_APPLICABLE" in out
    assert aws.put_calls() == []  # read-only


def test_audit_json_and_text_carry_the_rule_verdicts(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    sample_account.build(aws)
    _, out, _ = cli(aws, capfd, "audit", "--output", "json")
    parsed = {item["name"]: item["compliance"] for item in json.loads(out)}
    assert parsed == sample_account.EXPECTED
    _, out, _ = cli(aws, capfd, "audit", "--output", "text", "--cutoff", "2014-04-01", "--no-body-check")
    text = {line.split("\t")[0].rsplit("/", 1)[1]: line.split("\t")[1] for line in out.splitlines()}
    assert text["DisclosureWeekCertificate"] == "COMPLIANT"  # IAM-033's settings reproduce the seed


def test_audit_asff_is_ready_for_security_hub(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    sample_account.build(aws)
    code, out, _ = cli(aws, capfd, "audit", "--output", "asff")
    assert len(out.splitlines()) == 1  # one request per line
    findings = json.loads(out)["Findings"]
    assert code == 1 and len(findings) == 6
    frontend = next(f for f in findings if f["Resources"][0]["Id"].endswith("/FrontendSSLCertificate"))
    assert frontend["Severity"] == {"Label": "HIGH"}
    assert frontend["Compliance"]["Status"] == "FAILED"
    assert frontend["Vulnerabilities"] == [{"Id": "CVE-2014-0160"}]
    assert (
        frontend["ProductArn"]
        == f"arn:aws:securityhub:us-east-1:{events.ACCOUNT_ID}:product/{events.ACCOUNT_ID}/default"
    )
    required = {
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
    }
    assert all(required <= set(f) for f in findings)
    assert {f["Compliance"]["Status"] for f in findings} == {"FAILED", "PASSED"}


def test_asff_output_is_one_batch_import_request_per_line_of_at_most_100(capfd: pytest.CaptureFixture[str]) -> None:
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/"
    verdicts = [Verdict(f"c{i}", f"{arn}c{i}", Compliance.NON_COMPLIANT, "old") for i in range(250)]
    assert report(verdicts, "asff", "us-east-1") == 1
    lines = capfd.readouterr().out.splitlines()
    requests = [json.loads(line)["Findings"] for line in lines]
    assert [len(findings) for findings in requests] == [100, 100, 50]
    assert [f["Resources"][0]["Id"] for batch in requests for f in batch] == [v.arn for v in verdicts]


def test_audit_of_a_clean_account_exits_0(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    cert = issue("clean", NOW - timedelta(days=3))
    aws.upload("Clean", cert.body, cert.private_key)
    assert cli(aws, capfd, "audit")[0] == 0


def test_audit_exempt_and_bad_cutoff(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    sample_account.build(aws)
    _, out, _ = cli(aws, capfd, "audit", "--output", "json", "--exempt", "FrontendSSLCertificate")
    assert {i["name"]: i["compliance"] for i in json.loads(out)}["FrontendSSLCertificate"] == "NOT_APPLICABLE"
    code, _, err = cli(aws, capfd, "audit", "--cutoff", "2099-01-01")
    assert code == 2 and "--cutoff '2099-01-01' is in the future" in err


def test_audit_without_credentials_names_what_is_missing(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = cli(aws, capfd, "audit")
    assert code == 2
    assert "no AWS credentials found" in err and "AWS_PROFILE" in err


def test_audit_without_permission_names_the_action(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    sample_account.build(aws)
    policy = {**POLICY, "Statement": [s for s in POLICY["Statement"] if s["Sid"] != "ListServerCertificates"]}
    with acting_as(aws, policy):
        code, _, err = cli(aws, capfd, "audit")
    assert code == 2
    assert "missing permission: ListServerCertificates was refused" in err and "iam:ListServerCertificates" in err


def test_audit_demo_runs_on_the_embedded_account(capfd: pytest.CaptureFixture[str], double_server: AwsDouble) -> None:
    code = main(["audit", "--demo"])
    out, _ = capfd.readouterr()
    assert code == 1
    assert "FrontendSSLCertificate" in out and "ShopReissued2017" in out


# ---- invoke -----------------------------------------------------------------------------------


def test_invoke_scheduled_prints_the_evaluations_and_stores_nothing(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str]
) -> None:
    sample_account.build(aws)
    code, out, _ = cli(aws, capfd, "invoke", "--scheduled")
    sent = json.loads(out)
    assert code == 1 and len(sent) == 6
    assert [call.test_mode for call in aws.put_calls()] == [True]
    assert aws.evaluations(events.RULE_NAME) == {}


def test_invoke_change_and_event_file(aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sample_account.build(aws)
    code, out, _ = cli(aws, capfd, "invoke", "--change", "ModernWebCertificate")
    assert code == 0 and [e["ComplianceType"] for e in json.loads(out)] == ["COMPLIANT"]
    code, out, _ = cli(aws, capfd, "invoke", "--change", "LegacyApiCertificate", "--deleted")
    assert [e["ComplianceType"] for e in json.loads(out)] == ["NOT_APPLICABLE"]
    event = events.scheduled_event("ignored", {"CutoffDate": "2014-04-01", "CheckCertificateBody": "false"})
    (tmp_path / "event.json").write_text(json.dumps(event))
    code, out, _ = cli(aws, capfd, "invoke", "--event", str(tmp_path / "event.json"))
    verdicts = {e["ComplianceResourceId"].rsplit("/", 1)[1]: e["ComplianceType"] for e in json.loads(out)}
    assert verdicts["DisclosureWeekCertificate"] == "COMPLIANT"
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = cli(aws, capfd, "invoke", "--event", str(tmp_path / "bad.json"))
    assert code == 2 and "cannot be read as JSON" in err


def test_invoke_applies_parameters_to_an_event_file_and_keeps_your_own_credentials(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sample_account.build(aws)
    # A real Config event carries no AssumeRoleMode: a local run must still use your own credentials.
    (tmp_path / "event.json").write_text(json.dumps(events.scheduled_event("ignored")))
    argv = ["invoke", "--event", str(tmp_path / "event.json")]
    code, out, _ = cli(
        aws, capfd, *argv, "--parameter", "CutoffDate=2014-04-01", "--parameter", "CheckCertificateBody=false"
    )
    verdicts = {e["ComplianceResourceId"].rsplit("/", 1)[1]: e["ComplianceType"] for e in json.loads(out)}
    # Both --parameters applied: IAM-033's check flags only the certificate uploaded before 1 April 2014.
    assert code == 1 and [name for name, v in verdicts.items() if v == "NON_COMPLIANT"] == ["FrontendSSLCertificate"]
    assert "sts:AssumeRole" not in aws.conditions.calls


@pytest.mark.parametrize("source", [["--scheduled"], ["--change", "ModernWebCertificate"], ["--event", "EVENT"]])
def test_invoke_refuses_an_unknown_parameter_from_every_source(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path, source: list[str]
) -> None:
    sample_account.build(aws)
    (tmp_path / "event.json").write_text(json.dumps(events.scheduled_event("ignored")))
    source = [str(tmp_path / "event.json") if item == "EVENT" else item for item in source]
    code, out, err = cli(aws, capfd, "invoke", *source, "--parameter", "CutOffDate=2014-04-01")
    assert code == 2 and out == ""
    assert "unknown parameter 'CutOffDate'" in err and "CutoffDate" in err
    assert aws.put_calls() == []


def without_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def test_invoke_runs_the_handler_in_the_region_and_endpoint_of_the_options(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_account.build(aws)
    without_region(monkeypatch)  # only the options say where to go
    code, out, err = cli(aws, capfd, "invoke", "--scheduled", "--region", "us-east-1")
    assert code == 1, err
    assert len(json.loads(out)) == len(sample_account.EXPECTED)
    assert [call.test_mode for call in aws.put_calls()] == [True]


def test_invoke_runs_the_handler_with_the_profile_of_the_option(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sample_account.build(aws)
    without_region(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    (tmp_path / "config").write_text("[profile double]\nregion = us-east-1\n")
    (tmp_path / "credentials").write_text(
        "[double]\naws_access_key_id = AKIADOUBLEPROFILE000\naws_secret_access_key = from-the-profile\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    code, out, err = cli(aws, capfd, "invoke", "--scheduled", "--profile", "double")
    assert code == 1, err
    assert len(json.loads(out)) == len(sample_account.EXPECTED)
    code, _, err = cli(aws, capfd, "invoke", "--scheduled", "--profile", "nobody")
    assert code == 2 and "nobody" in err


def test_invoke_without_a_region_says_how_to_give_one(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_region(monkeypatch)
    code, out, err = cli(aws, capfd, "invoke", "--scheduled")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "heartbleed-audit: no AWS Region: pass --region, set AWS_REGION, or set region in your AWS profile"
    ]


def test_invoke_turns_a_handler_failure_into_one_line_and_exit_2(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str]
) -> None:
    sample_account.build(aws)
    aws.reject_evaluations(1)  # Config answers with FailedEvaluations: the rule raises
    code, out, err = cli(aws, capfd, "invoke", "--scheduled")
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("heartbleed-audit: the handler failed: EvaluationsRejectedError: AWS Config rejected 1")


def test_an_unknown_subcommand_names_the_valid_ones(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["bogus"])
    _, err = capfd.readouterr()
    assert done.value.code == 2
    assert "invalid choice: 'bogus' (choose from 'audit', 'invoke', 'replace', 'ledger', 'reevaluate')" in err


# ---- replace ----------------------------------------------------------------------------------


def fresh(name: str = "www.example.com") -> Issued:
    return issue(name, NOW - timedelta(days=1))


def test_replace_is_a_dry_run_by_default(aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sample_account.build(aws)
    code, out, _ = cli(aws, capfd, "replace", "FrontendSSLCertificate", *files(tmp_path, fresh()))
    assert code == 0
    assert "plan: delete FrontendSSLCertificate; then upload the new certificate as FrontendSSLCertificate" in out
    assert "dry run: nothing changed" in out
    assert exists(aws, "FrontendSSLCertificate")


def test_replace_an_unused_certificate_in_place(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sample_account.build(aws)
    root = issue("Example Root", NOW - timedelta(days=30))
    leaf = issue("www.example.com", NOW - timedelta(days=1), issuer=root)
    code, out, _ = cli(
        aws, capfd, "replace", "FrontendSSLCertificate", *files(tmp_path, leaf, chain=root.body), "--apply"
    )
    assert code == 0, out
    got = aws.client("iam").get_server_certificate(ServerCertificateName="FrontendSSLCertificate")["ServerCertificate"]
    assert got["CertificateBody"].strip() == leaf.body.strip()
    assert got["ServerCertificateMetadata"]["Path"] == "/"
    assert got["CertificateChain"].strip() == root.body.strip()


def test_replace_in_use_uploads_alongside_and_prints_the_switches(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sample_account.build(aws)
    old = aws.client("iam").get_server_certificate(ServerCertificateName="FrontendSSLCertificate")
    old_meta = old["ServerCertificate"]["ServerCertificateMetadata"]
    load_balancers_using(aws, old_meta["Arn"])
    distribution = distribution_using(aws, old_meta["ServerCertificateId"])
    code, out, _ = cli(aws, capfd, "replace", "FrontendSSLCertificate", *files(tmp_path, fresh()), "--apply")
    assert code == 0, out
    assert "in use: application load balancer shop in us-east-1, listener 443" in out
    assert "in use: Classic Load Balancer legacy in us-east-1, listener 443" in out
    assert f"in use: CloudFront distribution {distribution}" in out
    assert exists(aws, "FrontendSSLCertificate")  # never deleted while in use
    new_name = f"FrontendSSLCertificate-{NOW:%Y%m%d}"
    new_arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/{new_name}"
    assert exists(aws, new_name)
    assert f"--certificates CertificateArn={new_arn}" in out
    assert f"--load-balancer-name legacy --load-balancer-port 443 --ssl-certificate-id {new_arn}" in out
    new_id = aws.client("iam").get_server_certificate(ServerCertificateName=new_name)["ServerCertificate"][
        "ServerCertificateMetadata"
    ]["ServerCertificateId"]
    assert f"set ViewerCertificate.IAMCertificateId to {new_id}" in out


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("key does not match", "does not match the certificate"),
        ("same key as the old one", "same key as FrontendSSLCertificate: it was reissued, not re-keyed"),
        ("issued before the cutoff", "before the cutoff 2014-04-08T00:00:00Z"),
        ("bad PEM", "not a PEM X.509 certificate"),
        ("missing file", "does not exist"),
        ("chain does not link", "does not link to the certificate"),
        # What IAM's upload would refuse after the unused old certificate is gone:
        ("expired", "expired"),
        ("not yet valid", "is not valid until"),
        ("RSA 1024", "key is RSA 1024 bits: use RSA 2048, 3072 or 4096 bits, or ECDSA P-256"),
        ("Ed25519", "key is Ed25519: use RSA 2048"),
        ("body over 16384 characters", "IAM accepts a certificate body of at most 16384"),
    ],
)
def test_replace_refuses_bad_material_and_deletes_nothing(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path, case: str, message: str
) -> None:
    sample_account.build(aws)
    argv: list[str]
    if case == "key does not match":
        argv = files(tmp_path, fresh(), key=fresh().private_key)
    elif case == "same key as the old one":
        old = aws.client("iam").get_server_certificate(ServerCertificateName="FrontendSSLCertificate")
        argv = files(tmp_path, _reissue_with_old_key(old))
    elif case == "issued before the cutoff":
        argv = files(tmp_path, issue("www", datetime(2014, 1, 1, tzinfo=UTC)))
    elif case == "bad PEM":
        argv = files(
            tmp_path,
            Issued("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", fresh().private_key, new_key()),
        )
    elif case == "missing file":
        argv = ["--certificate-body", str(tmp_path / "nope.pem"), "--private-key", str(tmp_path / "nope.key")]
    elif case == "chain does not link":
        argv = files(tmp_path, fresh(), chain=issue("Unrelated CA", NOW - timedelta(days=9)).body)
    elif case == "expired":
        argv = files(tmp_path, issue("www", NOW - timedelta(days=400), days=397))
    elif case == "not yet valid":
        argv = files(tmp_path, issue("www", NOW + timedelta(days=2)))
    elif case == "RSA 1024":
        argv = files(tmp_path, issue("www", NOW - timedelta(days=1), key=rsa.generate_private_key(65537, 1024)))
    elif case == "Ed25519":
        argv = files(tmp_path, issue("www", NOW - timedelta(days=1), key=ed25519.Ed25519PrivateKey.generate()))
    else:
        names = [f"host-{i:04d}.service.example.com" for i in range(400)]
        argv = files(tmp_path, issue("www", NOW - timedelta(days=1), alternative_names=names))
    code, _, err = cli(aws, capfd, "replace", "FrontendSSLCertificate", *argv, "--apply")
    assert code == 2
    assert message in err
    assert exists(aws, "FrontendSSLCertificate")


def _reissue_with_old_key(old: dict[str, Any]) -> Issued:
    """The sample's FrontendSSLCertificate key lives only in the double: reuse it as a careless CA would."""
    from moto.iam.models import iam_backends

    backend = iam_backends[events.ACCOUNT_ID]["aws"]
    stored = next(c for c in backend.certificates.values() if c.cert_name == "FrontendSSLCertificate")
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(stored.private_key.encode(), password=None)
    assert old["ServerCertificate"]["ServerCertificateMetadata"]["ServerCertificateName"] == "FrontendSSLCertificate"
    return issue("www.example.com", NOW - timedelta(days=1), key=key)  # type: ignore[arg-type]


def test_replace_without_permission_names_the_action_and_deletes_nothing(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sample_account.build(aws)
    argv = files(tmp_path, fresh())
    with acting_as(aws, POLICY):  # the rule's read-only policy: no delete, no upload, no ELB reads
        code, _, err = cli(aws, capfd, "replace", "FrontendSSLCertificate", *argv, "--apply")
    assert code == 2
    assert "missing permission" in err and "was refused" in err
    assert exists(aws, "FrontendSSLCertificate")


def test_every_subcommand_has_complete_help(capfd: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["audit", "--help"], ["invoke", "--help"], ["replace", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
        out, _ = capfd.readouterr()
        assert "usage: heartbleed-audit" in out
        assert "--endpoint-url" in out or argv == ["--help"]
        if argv[0] == "audit":
            for option in ("--organization", "--role-name", "--accounts", "--include-acm", "--acm-regions"):
                assert option in out
