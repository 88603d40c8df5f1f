"""The double's DynamoDB authorization (heartbleed_audit/double/dynamodb_tables.py): each request is
checked against the tables it names, as IAM does, and a denial reads as DynamoDB's own."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from identities import acting_as

from heartbleed_audit.double import ACCOUNT_ID, REGION, AwsDouble

ALLOWED, OTHER = "Allowed", "Other"
ALLOWED_ARN, OTHER_ARN = (f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}" for name in (ALLOWED, OTHER))
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
            "Resource": ALLOWED_ARN,
        }
    ],
}
KEY = {"pk": {"S": "a"}, "sk": {"S": "b"}}


@pytest.fixture
def tables(aws: AwsDouble) -> None:
    for name in (ALLOWED, OTHER):
        aws.client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )


def denied(call: Any, **request: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        call(**request)
    return dict(refused.value.response["Error"])


@pytest.mark.usefixtures("tables")
def test_a_policy_naming_a_table_allows_that_table_by_name_or_arn_and_no_other(aws: AwsDouble) -> None:
    with acting_as(aws, POLICY):
        dynamodb = boto3.session.Session().client("dynamodb")
        dynamodb.get_item(TableName=ALLOWED, Key=KEY)
        dynamodb.get_item(TableName=ALLOWED_ARN, Key=KEY)
        dynamodb.batch_get_item(RequestItems={ALLOWED: {"Keys": [KEY]}})
        other = denied(dynamodb.get_item, TableName=OTHER, Key=KEY)
        # A batch over two tables needs the action on both.
        both = denied(dynamodb.batch_get_item, RequestItems={ALLOWED: {"Keys": [KEY]}, OTHER: {"Keys": [KEY]}})
        write = denied(dynamodb.batch_write_item, RequestItems={OTHER: [{"PutRequest": {"Item": KEY}}]})
        listed = denied(dynamodb.list_tables)  # names no table: checked against "*"
    assert {e["Code"] for e in (other, both, write, listed)} == {"AccessDeniedException"}
    assert other["Message"].endswith(f"is not authorized to perform: dynamodb:GetItem on resource: {OTHER_ARN}")
    assert both["Message"].endswith(f"dynamodb:BatchGetItem on resource: {OTHER_ARN}")
    assert listed["Message"].endswith("dynamodb:ListTables on resource: *")
