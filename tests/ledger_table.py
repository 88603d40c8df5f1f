"""The key ledger's table, made in a test's DynamoDB (the double's, or dynalite) as rules/key-ledger.yaml
defines it: its key schema and billing come from the template, the one place they are written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TABLE = "HeartbleedKeyLedger"  # the templates' default KeyLedgerTableName
TEMPLATE = Path(__file__).resolve().parents[1] / "rules" / "key-ledger.yaml"


def create_table(dynamodb: Any, name: str = TABLE) -> None:
    """Create the ledger table under name through a DynamoDB client, and wait until it is active."""
    properties = cfn_yaml.load(str(TEMPLATE))["Resources"]["KeyLedger"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
