"""A realistic account for the demo and the end-to-end tests.

Each certificate stands for a scenario numbered in heartbleed/verdict.py; EXPECTED
holds the verdict the rule must give it under the default cutoff.
"""

from __future__ import annotations

from datetime import UTC, datetime

from heartbleed_audit.double import AwsDouble

from .pki import issue, new_key


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EXPECTED = {
    # Scenario 1, the seed's (IAM-033) example: uploaded before Heartbleed.
    "FrontendSSLCertificate": "NON_COMPLIANT",
    # Scenario 2: uploaded in 2016, but the certificate was issued in 2013: only the body shows it.
    "LegacyApiCertificate": "NON_COMPLIANT",
    # Scenario 3: reissued in 2017 with FrontendSSLCertificate's key: not re-keyed.
    "ShopReissued2017": "NON_COMPLIANT",
    # Scenario 1 again: uploaded during the disclosure week, missed by IAM-033's 1 April date.
    "DisclosureWeekCertificate": "NON_COMPLIANT",
    # Scenario 7, clean: issued and uploaded after the cutoff, with its own key.
    "ModernWebCertificate": "COMPLIANT",
    # Scenario 7 too, under a nested path, as CloudFront certificates are kept.
    "CdnCertificate": "COMPLIANT",
}


def build(aws: AwsDouble) -> None:
    """Upload the sample certificates into the double, with their historical upload dates."""
    frontend_key = new_key("rsa")
    frontend = issue("www.example.com", utc("2014-02-10T00:00:00"), key=frontend_key)
    aws.upload("FrontendSSLCertificate", frontend.body, frontend.private_key, uploaded=utc("2014-02-11T16:46:59"))

    legacy = issue("api.example.com", utc("2013-11-20T00:00:00"), days=3 * 365)
    aws.upload("LegacyApiCertificate", legacy.body, legacy.private_key, uploaded=utc("2016-03-01T10:00:00"))

    reissued = issue("shop.example.com", utc("2017-05-01T00:00:00"), key=frontend_key)
    aws.upload("ShopReissued2017", reissued.body, reissued.private_key, uploaded=utc("2017-05-02T08:30:00"))

    week = issue("mail.example.com", utc("2014-03-28T00:00:00"))
    aws.upload("DisclosureWeekCertificate", week.body, week.private_key, uploaded=utc("2014-04-03T09:15:00"))

    modern = issue("app.example.com", utc("2025-09-30T00:00:00"), days=397)
    aws.upload("ModernWebCertificate", modern.body, modern.private_key, uploaded=utc("2025-10-01T12:00:00"))

    cdn = issue("cdn.example.com", utc("2026-01-15T00:00:00"), days=397)
    aws.upload(
        "CdnCertificate", cdn.body, cdn.private_key, path="/cloudfront/prod/", uploaded=utc("2026-01-16T12:00:00")
    )
