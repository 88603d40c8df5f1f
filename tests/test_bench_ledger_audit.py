"""The benchmark's line for the organization report from the key ledger, at a tiny size: calls, not times."""

from __future__ import annotations

from bench import report as bench_report
from bench.organization import ledger_audit_line
from heartbleed_audit.double import AwsDouble


def test_the_report_from_the_ledger_lists_as_the_live_audit_and_reads_no_body(aws: AwsDouble) -> None:
    accounts, per_account = 3, 4
    line = ledger_audit_line(aws, latency_ms=0.0, repeats=2, accounts=accounts, per_account=per_account)
    assert line["fill"]["events"] == accounts  # one periodic rule run per account filled the ledger
    assert line["fill"]["calls"]["iam:GetServerCertificate"] == accounts * per_account
    assert len(line["runs"]) == 2 and all(run["agree"] for run in line["runs"])  # else it raises
    for run in line["runs"]:
        live, ledger = run["live"], run["ledger"]
        assert live["rows"] == ledger["rows"] == accounts * per_account and live["exit"] == ledger["exit"] == 1
        assert live["calls"] == {
            "sts:GetCallerIdentity": 1,
            "organizations:ListAccounts": 1,
            "sts:AssumeRole": accounts - 1,
            "iam:ListServerCertificates": accounts,
            "iam:GetServerCertificate": accounts * per_account,
        }
        # The same lists; no body read; one Query per account and one BatchGetItem of the keys; nothing written.
        assert ledger["calls"] == {
            **{action: count for action, count in live["calls"].items() if action != "iam:GetServerCertificate"},
            "dynamodb:Query": accounts,
            "dynamodb:BatchGetItem": 1,
        }
        assert ledger["bodies_from_ledger"] == accounts * per_account and "bodies_from_ledger" not in live
    text = bench_report.render({"ledger_audit": line}).replace("\n", " ")
    assert "**The organization report from the key ledger**" in text
    assert f"so {accounts * per_account} GetServerCertificate calls became {accounts} Query (one per account)" in text
