"""One Lambda container for the benchmark: a fresh interpreter that runs events in turn.

Reads a JSON list of events on stdin's first line. Before each event after the
first it prints "ready" and waits for a line, so the parent can reset the double's
call counts between a cold and a warm invocation. After each event it prints one
JSON line: wall seconds, peak RSS in MiB, and the verdict sent per resource.

--baseline follows the seed's procedure literally instead of lambda_handler:
list (default page size), read each certificate one at a time, judge it by its
UploadDate alone (before 1 April 2014: NON_COMPLIANT, as IAM-033 says), and
report each evaluation in its own PutEvaluations call. It ignores the event's
ruleParameters; the rule at IAM_033 (bench/runs.py) must agree with it exactly.

--floor is bare boto3 making the rule's calls and nothing else: a fresh session,
one list, every body read as many at a time as the rule reads them, when the event's
CheckCertificateBody is not "false", the pages of the rule's earlier rows in Config read
beside them (the rule reads them to retire the rows of certificates that are gone), and
the same verdicts sent 100 per call. No parsing of certificates, no judgement, no rows
retired: the floor the rule is measured against.
It shares with the rule only how boto3 is set up, through botocore's documented
extension points (heartbleed/clients.py): the same client Config (retries, timeouts,
pool size), the same response timestamp parser (sdk_session), and OrderingTimestamp
passed as a datetime. Without them the floor parsed every timestamp with dateutil,
which the rule does not, so rule / floor also measured that setup, not the rule's work.

--ledger-floor is the floor of a periodic run whose key ledger already holds every body (a second cold
run): bare boto3 making the calls the rule then makes, and nothing else. One list; the ledger's reads
(the Query of the account's partition, every page, and BatchGetItem of its keys' summaries, 100 at a
time, both strongly consistent); the put that records the rule's name, the two Queries of a window of the
re-evaluations kept pending; the verdicts 100 per call; the update that notes the run's outcome; and, in a background
thread as the rule has it, the clean-up's GetComplianceDetailsByConfigRule pages. The item keys are
written out here, not imported from the rule.

--stream is a container of the rule that Lambda's queue feeds (bench/org_scale.py): it imports, says
"ready", then takes one event a line until stdin closes. Each result line carries, besides wall, CPU and
verdicts, the calls the invocation made, counted inside the container (bench/call_log.py), since
several containers share the double; an invocation that raises is reported with its error and the
container goes on, as a Lambda container does; an error document (not a list) is reported as such.

With BENCH_FUNCTION_ACCOUNT set, the rule gets a Lambda context naming a function of that account, with
300 s left at each event's start: the organization guard then serves only that account and the
organization's members, as the central function does.

Each result line also carries the CPU seconds (user + system) this process spent
on the event, which is the rule's own: the AWS double serves from the parent.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

# The floor shares the rule's SDK set-up, read concurrency and ACM list filter, none of its logic.
from heartbleed.acm import KEY_TYPES
from heartbleed.clients import parse_timestamp, sdk_session
from heartbleed.retry_policy import CLIENT_CONFIG, MAX_CONCURRENT_READS

# The seed (IAM-033): a certificate uploaded before 1 April 2014 is vulnerable.
SEED_CUTOFF = datetime(2014, 4, 1, tzinfo=UTC)


def _baseline(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed's procedure with its own judgement, sharing no code with the rule, so agreeing means something."""
    import boto3

    iam: Any = boto3.client("iam")  # plain clients, as the AWS CLI of the seed's procedure
    config: Any = boto3.client("config")
    listed: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:  # aws iam list-server-certificates, page by page
        page = iam.list_server_certificates(**request)
        listed += page["ServerCertificateMetadataList"]
        if not page.get("IsTruncated"):
            break
        request["Marker"] = page["Marker"]
    stamp = json.loads(event["invokingEvent"])["notificationCreationTime"]
    sent = []
    for raw in listed:  # aws iam get-server-certificate, one at a time, for its UploadDate
        got = iam.get_server_certificate(ServerCertificateName=raw["ServerCertificateName"])
        meta = got["ServerCertificate"]["ServerCertificateMetadata"]
        early = meta["UploadDate"] < SEED_CUTOFF
        evaluation = {
            "ComplianceResourceType": "AWS::IAM::ServerCertificate",
            "ComplianceResourceId": meta["Arn"],
            "ComplianceType": "NON_COMPLIANT" if early else "COMPLIANT",
            "Annotation": f"Uploaded {meta['UploadDate']:%Y-%m-%d}, {'before' if early else 'on or after'} 2014-04-01.",
            "OrderingTimestamp": stamp,
        }
        config.put_evaluations(Evaluations=[evaluation], ResultToken=event["resultToken"])  # one report each
        sent.append(evaluation)
    return sent


def floor_clients() -> tuple[Any, Any, Any]:
    """IAM, ACM and Config clients of a fresh session, set up as the rule's are (heartbleed/clients.py)."""
    import boto3

    session = boto3.session.Session(botocore_session=sdk_session())
    return tuple(session.client(service, config=CLIENT_CONFIG) for service in ("iam", "acm", "config"))  # type: ignore[return-value]


def list_acm(acm: Any) -> None:
    """The rule's one ListCertificates page of the Region's ACM certificates (none in the bench's account)."""
    acm.list_certificates(Includes={"keyTypes": KEY_TYPES})


def floor(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The same IAM, ACM and Config calls as the rule, from a fresh session, with nothing around them."""
    iam, acm, config = floor_clients()
    with ThreadPoolExecutor(max_workers=1) as background:
        earlier_rows(background, config, event)
        listed = iam.list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"]
        list_acm(acm)
        if json.loads(event.get("ruleParameters") or "{}").get("CheckCertificateBody", "true") != "false":
            with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_READS) as pool:
                list(
                    pool.map(
                        lambda raw: iam.get_server_certificate(ServerCertificateName=raw["ServerCertificateName"]),
                        listed,
                    )
                )
    return put_verdicts(config, event, listed)


def earlier_rows(background: ThreadPoolExecutor, config: Any, event: dict[str, Any]) -> None:
    """The rule's earlier rows in Config, read page by page beside the listing, as the rule reads them to
    retire the rows of certificates that are gone (heartbleed/earlier_evaluations.py); none in TESTMODE."""
    if event["resultToken"] != "TESTMODE":
        background.submit(
            _pages,
            config.get_compliance_details_by_config_rule,
            "NextToken",
            "NextToken",
            ConfigRuleName=str(event["configRuleName"]),
            ComplianceTypes=["COMPLIANT", "NON_COMPLIANT"],
            Limit=100,
        )


def put_verdicts(config: Any, event: dict[str, Any], listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The floor's PutEvaluations, 100 a call, as the rule sends them."""
    # A datetime, as the rule sends it: botocore would parse a string with dateutil, twice per evaluation.
    stamp = parse_timestamp(json.loads(event["invokingEvent"])["notificationCreationTime"])
    sent = [
        {
            "ComplianceResourceType": "AWS::IAM::ServerCertificate",
            "ComplianceResourceId": raw["Arn"],
            "ComplianceType": "COMPLIANT",
            "Annotation": "floor",
            "OrderingTimestamp": stamp,
        }
        for raw in listed
    ]
    for start in range(0, len(sent), 100):
        config.put_evaluations(Evaluations=sent[start : start + 100], ResultToken=event["resultToken"])
    return sent


def _pages(call: Callable[..., Any], token: str, next_token: str, **request: Any) -> list[dict[str, Any]]:
    """Every page of a call that continues with request[token] = page[next_token]."""
    pages = []
    while True:
        page = call(**request)
        pages.append(page)
        if not page.get(next_token):
            return pages
        request[token] = page[next_token]


def ledger_floor(event: dict[str, Any]) -> list[dict[str, Any]]:
    """A periodic run's calls on a warm ledger, from a fresh session set up as the rule's; nothing around them."""
    import boto3

    session = boto3.session.Session(botocore_session=sdk_session())
    iam: Any = session.client("iam", config=CLIENT_CONFIG)
    config: Any = session.client("config", config=CLIENT_CONFIG)
    dynamodb: Any = session.client("dynamodb", config=CLIENT_CONFIG)
    acm: Any = session.client("acm", config=CLIENT_CONFIG)
    table = json.loads(event["ruleParameters"])["KeyLedgerTable"]
    account, rule = str(event["accountId"]), str(event["configRuleName"])
    with ThreadPoolExecutor(max_workers=1) as background:
        earlier_rows(background, config, event)
        listed = iam.list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"]
        list_acm(acm)
        items = [
            item
            for page in _pages(
                dynamodb.query,
                "ExclusiveStartKey",
                "LastEvaluatedKey",
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
                ExpressionAttributeValues={":pk": {"S": f"A#{account}"}, ":c": {"S": "C#"}},
                ConsistentRead=True,
            )
            for item in page["Items"]
        ]
        keys = sorted({item["key"]["S"] for item in items})
        for start in range(0, len(keys), 100):
            batch = [{"pk": {"S": f"K#{key}"}, "sk": {"S": "#"}} for key in keys[start : start + 100]]
            wanted: Any = {table: {"Keys": batch, "ConsistentRead": True}}
            while wanted:
                wanted = dynamodb.batch_get_item(RequestItems=wanted).get("UnprocessedKeys")
        region = str(event.get("configRuleArn", "")).split(":")[3]
        record = {"account": account, "region": region, "rule": rule, "role": ""}
        item = {"pk": f"A#{account}", "sk": f"#RULE#{region}", **record}
        dynamodb.put_item(TableName=table, Item={**{k: {"S": v} for k, v in item.items()}, "v": {"N": "1"}})
        # A window of the kept requests, 100 at most: from a random point of the partition, then from its
        # beginning for what the first page lacked (none are kept here, so both pages are empty).
        window = f"{random.randrange(10**12):012d}"
        for condition in ("sk >= :s", "sk < :s"):
            dynamodb.query(
                TableName=table,
                KeyConditionExpression=f"pk = :p AND {condition}",
                ExpressionAttributeValues={":p": {"S": "PENDING"}, ":s": {"S": window}},
                ConsistentRead=True,
                Limit=100,
            )
    sent = put_verdicts(config, event, listed)
    # The run's outcome, noted after its evaluations are sent (the rule's note_run): one update of its item.
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"A#{account}"}, "sk": {"S": f"#RUN#{region}"}},
        UpdateExpression="SET #a = :a, #r = :r, #rule = :rule, v = :v, last_success = :t",
        ExpressionAttributeNames={"#a": "account", "#r": "region", "#rule": "rule"},
        ExpressionAttributeValues={
            ":a": {"S": account},
            ":r": {"S": region},
            ":rule": {"S": rule},
            ":v": {"N": "1"},
            ":t": {"S": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        },
    )
    return sent


class _Context:
    """What the rule reads of a Lambda context: the function's ARN and the time left (300 s per event)."""

    def __init__(self, account: str) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{account}:function:HeartbleedServerCertificate"
        self.ends = time.monotonic() + 300

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - time.monotonic()) * 1000)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    """This interpreter's peak RSS. Not ru_maxrss: Linux carries the parent's RSS at the fork over the
    exec into it, so a child of the benchmark (which holds the AWS double) read its parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rule_handler() -> Callable[[dict[str, Any]], Any]:
    from HeartbleedServerCertificate import lambda_handler

    account = os.environ.get("BENCH_FUNCTION_ACCOUNT")
    return lambda event: lambda_handler(event, _Context(account) if account else None)


def stream() -> None:
    """Lambda's queue feeds this container one event a line (--stream)."""
    from bench.call_log import CallLog, install

    log = CallLog()
    install(log)
    handler = _rule_handler()
    print("ready", flush=True)
    for line in sys.stdin:
        event = json.loads(line)
        log.reset()
        started, cpu = time.perf_counter(), _cpu_seconds()
        error = ""
        try:
            sent = handler(event)
        except Exception as raised:  # Lambda reports it as a failed invocation and keeps the container
            sent, error = None, f"{type(raised).__name__}: {str(raised)[:300]}"
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        report = {
            "wall": wall,
            "cpu": cpu,
            "error": error,
            "error_document": not error and not isinstance(sent, list),
            "verdicts": {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent}
            if isinstance(sent, list)
            else {},
            **log.snapshot(),
        }
        print(json.dumps(report), flush=True)


def main() -> None:
    if "--stream" in sys.argv[1:]:
        stream()
        return
    modes = {"--baseline": "baseline", "--floor": "floor", "--ledger-floor": "ledger-floor"}
    mode = next((modes[arg] for arg in sys.argv[1:] if arg in modes), "rule")
    events = json.loads(sys.stdin.readline())
    handler: Callable[[dict[str, Any]], Any]
    # Imports happen before the clock starts, as a Lambda container imports before its first event.
    if mode == "rule":
        handler = _rule_handler()
    else:
        import boto3  # noqa: F401

        handler = {"baseline": _baseline, "floor": floor, "ledger-floor": ledger_floor}[mode]
    for index, event in enumerate(events):
        if index:
            print("ready", flush=True)
            sys.stdin.readline()
        started, cpu = time.perf_counter(), _cpu_seconds()
        sent = handler(event)
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        if not isinstance(sent, list):
            raise SystemExit(f"the invocation failed: {sent}")
        report = {
            "wall": wall,
            "cpu": cpu,
            "rss_mib": _peak_rss_mib(),
            "verdicts": {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent},
        }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
