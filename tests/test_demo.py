"""The demo (`make demo`): its numbers, and how they relate to `heartbleed-audit audit --demo`."""

from __future__ import annotations

import importlib.util

import pytest

import heartbleed_audit.demo
from heartbleed_audit import remediation
from heartbleed_audit.cli import main


def test_the_demo_explains_its_own_numbers(capfd: pytest.CaptureFixture[str]) -> None:
    heartbleed_audit.demo.main()
    out, _ = capfd.readouterr()
    replacement = remediation.new_name("FrontendSSLCertificate")  # the name `replace` gives it
    assert f"lambda_handler sent COMPLIANT for arn:aws:iam::123456789012:server-certificate/{replacement}" in out
    assert "Summary: 4 NON_COMPLIANT, 3 COMPLIANT, 2 NOT_APPLICABLE" in out
    assert "resources: 2 AWS::ACM::Certificate, 7 AWS::IAM::ServerCertificate" in out
    assert "step 1 (periodic run)  4 NON_COMPLIANT, 2 COMPLIANT, 0 NOT_APPLICABLE" in out
    assert f"step 2 (upload)        +1 COMPLIANT: {replacement}" in out
    assert "step 3 (deletion)      DisclosureWeekCertificate: NON_COMPLIANT -> NOT_APPLICABLE" in out
    assert "step 4 (ACM)           +1 NON_COMPLIANT, +1 NOT_APPLICABLE" in out
    assert "Issued (NotBefore) 2013-09-01T00:00:00Z, before the cutoff" in out  # the import, by its own body
    assert "Issued by ACM (AMAZON_ISSUED): ACM generated its key" in out
    assert "now                    4 NON_COMPLIANT, 3 COMPLIANT, 2 NOT_APPLICABLE" in out
    # audit --demo audits the account as built: the counts of step 1.
    assert main(["audit", "--demo"]) == 1
    out, _ = capfd.readouterr()
    assert "6 certificates: 2 COMPLIANT, 4 NON_COMPLIANT, 0 NOT_APPLICABLE" in out


@pytest.fixture
def without_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where the `demo` extra was not installed: moto cannot be found."""
    real = importlib.util.find_spec
    monkeypatch.setattr("heartbleed_audit.demo.find_spec", lambda name: None if name == "moto" else real(name))


@pytest.mark.usefixtures("without_moto")
def test_without_the_demo_extra_audit_demo_says_which_extra_in_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--demo"]) == 2
    out, err = capfd.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "pip install 'heartbleed-server-certificate[demo]'" in err and "moto not installed" in err


@pytest.mark.usefixtures("without_moto")
def test_without_the_demo_extra_heartbleed_demo_exits_2(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        heartbleed_audit.demo.main()
    assert exited.value.code == 2
    _, err = capfd.readouterr()
    assert err.startswith("heartbleed-demo: the demo runs on the AWS double") and err.count("\n") == 1
