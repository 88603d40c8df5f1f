"""The certificates of the organization audits' estate (tests/test_organization_audit.py and
tests/test_ledger_audit.py): one 2013 key in account a, reissued in b and moved into b's ACM; c clean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import AwsDouble

NOW = datetime.now(UTC)


def upload_estate(aws: AwsDouble, a: str, b: str, c: str) -> None:
    old_key = new_key("rsa")
    legacy = issue("legacy.example.com", datetime(2013, 6, 1, tzinfo=UTC), key=old_key)
    aws.upload("Legacy2013", legacy.body, legacy.private_key, uploaded=datetime(2013, 6, 2, tzinfo=UTC), account=a)
    shop = issue("shop.example.com", datetime(2025, 6, 1, tzinfo=UTC), key=old_key)
    aws.upload("Shop2025", shop.body, shop.private_key, uploaded=datetime(2025, 6, 2, tzinfo=UTC), account=b)
    moved = issue("api.example.com", NOW - timedelta(days=30), key=old_key)  # "move to ACM", same key
    aws.import_acm(moved.body, moved.private_key, account=b)
    fresh = issue("www.example.org", NOW - timedelta(days=10))
    aws.upload("Fresh2026", fresh.body, fresh.private_key, account=c)
    fresh_acm = issue("cdn.example.org", NOW - timedelta(days=10))  # an EC P-256 key: ACM lists it only if asked
    aws.import_acm(fresh_acm.body, fresh_acm.private_key, account=c)
