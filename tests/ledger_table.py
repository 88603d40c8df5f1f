"""The key ledger's table in the double, with the key schema of rules/key-ledger.yaml."""

from __future__ import annotations

from heartbleed_audit.double import AwsDouble

TABLE = "HeartbleedKeyLedger"


def create_table(aws: AwsDouble, account: str | None = None) -> None:
    """Create the table in account (the double's own by default), where the rule's function runs."""
    client = aws.client("dynamodb", account) if account else aws.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
