"""The demo (`make demo`): its numbers, and how they relate to `heartbleed-audit audit --demo`."""

from __future__ import annotations

import pytest

from heartbleed_tools import demo, remediation
from heartbleed_tools.cli import main


def test_the_demo_explains_its_own_numbers(capfd: pytest.CaptureFixture[str]) -> None:
    demo.main()
    out, _ = capfd.readouterr()
    replacement = remediation.new_name("FrontendSSLCertificate")  # the name `replace` gives it
    assert f"lambda_handler sent COMPLIANT for arn:aws:iam::123456789012:server-certificate/{replacement}" in out
    assert "Summary: 3 NON_COMPLIANT, 3 COMPLIANT, 1 NOT_APPLICABLE" in out
    assert "step 1 (periodic run)  4 NON_COMPLIANT, 2 COMPLIANT, 0 NOT_APPLICABLE" in out
    assert f"step 2 (upload)        +1 COMPLIANT: {replacement}" in out
    assert "step 3 (deletion)      DisclosureWeekCertificate: NON_COMPLIANT -> NOT_APPLICABLE" in out
    assert "now                    3 NON_COMPLIANT, 3 COMPLIANT, 1 NOT_APPLICABLE" in out
    # audit --demo audits the account as built: the counts of step 1.
    assert main(["audit", "--demo"]) == 1
    out, _ = capfd.readouterr()
    assert "6 certificates: 2 COMPLIANT, 4 NON_COMPLIANT, 0 NOT_APPLICABLE" in out
