"""What the benchmark's runners share: the account they measure, one Lambda container per fresh
interpreter (bench/child.py), the periodic event, and the time bound 1.25 x N/R + 2 s (docs/performance.md).

The AWS double serves in the parent process; each container is a fresh interpreter, so wall time and
peak RSS are the rule's own. Calls are counted by the double, per action, as they arrive.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE, Popen
from typing import IO, Any

from moto.core.responses import BaseResponse

from heartbleed_audit import events
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, FAKE_CREDENTIALS, AwsDouble

ROOT = Path(__file__).resolve().parent.parent
RULE_FOLDER = ROOT / "HeartbleedServerCertificate"
LEDGER_TABLE = "HeartbleedKeyLedger"  # the templates' default KeyLedgerTableName
# The rule's parameters under which it must judge exactly as the seed does (bench/child.py --baseline).
IAM_033 = {"CutoffDate": "2014-04-01", "CheckCertificateBody": "false"}


def bound(size: int, rate: float) -> float:
    """The time bound for reading size bodies at rate a second: 1.25 x N/R + 2 s."""
    return 1.25 * size / rate + 2


def build_account(aws: AwsDouble, size: int) -> None:
    """size certificates: one in ten uploaded before the cutoff, one in ten issued before it,
    one in twenty reissued later with such a key, the rest clean, each with its own key; every
    certificate is uploaded while it was valid, as IAM requires."""
    old_key = new_key()
    aws.set_certificate_quota(max(size, 20))  # raised as an account at this scale would have it
    with aws.environment():
        for i in range(size):
            name = f"cert-{i:04d}"
            kind = i % 20
            if kind in (0, 1):
                cert, uploaded = (
                    issue(name, datetime(2013, 6, 1, tzinfo=UTC), key=old_key),
                    datetime(2014, 1, 1, tzinfo=UTC),
                )
            elif kind in (2, 3):
                cert, uploaded = issue(name, datetime(2013, 9, 1, tzinfo=UTC)), datetime(2015, 6, 1, tzinfo=UTC)
            elif kind == 4:
                cert, uploaded = (
                    issue(name, datetime(2018, 1, 1, tzinfo=UTC), key=old_key),
                    datetime(2018, 1, 2, tzinfo=UTC),
                )
            else:
                cert, uploaded = _clean(name, i)
            aws.upload(name, cert.body, cert.private_key, path="/" if i % 3 else "/web/", uploaded=uploaded)


def create_ledger(aws: AwsDouble, account: str = ACCOUNT_ID) -> None:
    """An empty key ledger table in the double, as rules/key-ledger.yaml defines it (its key schema and
    billing read from the template, the one place they are written); an earlier one is dropped first."""
    from cfnlint.decode import cfn_yaml  # a dev dependency, as the benchmark is

    properties = cfn_yaml.load(str(ROOT / "rules" / "key-ledger.yaml"))["Resources"]["KeyLedger"]["Properties"]
    dynamodb = aws.client("dynamodb", account)
    if LEDGER_TABLE in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=LEDGER_TABLE)
    dynamodb.create_table(
        TableName=LEDGER_TABLE,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )


def ledger_items(aws: AwsDouble, account: str = ACCOUNT_ID) -> list[dict[str, Any]]:
    """Every item of the ledger table (a Scan by the benchmark itself: read after a run's calls are counted)."""
    dynamodb = aws.client("dynamodb", account)
    return [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=LEDGER_TABLE)
        for item in page.get("Items", [])
    ]


def _clean(name: str, i: int) -> tuple[Issued, datetime]:
    issued = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i)
    return issue(name, issued), issued + timedelta(hours=6)


def expected_calls(size: int, prior: int, body: bool) -> dict[str, int]:
    """The calls a cold periodic run makes: list pages (IAM's and ACM's), body reads, batches of 100, clean-up pages."""
    calls = {
        "iam:ListServerCertificates": max(1, math.ceil(size / 1000)),
        "acm:ListCertificates": 1,  # the Region's ACM certificates (the bench's account has none)
        "config:PutEvaluations": max(1, math.ceil(size / 100)),
        "config:GetComplianceDetailsByConfigRule": max(1, math.ceil(prior / 100)),
    }
    if body and size:
        calls["iam:GetServerCertificate"] = size
    return calls


@dataclass
class Run:
    label: str
    size: int
    latency_ms: float
    wall: float
    rss_mib: float
    calls: dict[str, int]
    throttled: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict, repr=False)
    cpu: float = 0.0  # CPU seconds of the container process on this event


def double_env(aws: AwsDouble) -> dict[str, str]:
    """The environment of a process that calls the double: its fake credentials and endpoint."""
    return {**os.environ, **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": aws.endpoint_url}


def child_env(env: dict[str, str]) -> dict[str, str]:
    """env with the rule folder first on PYTHONPATH: the child runs from the project root, where the folder
    HeartbleedServerCertificate/ would otherwise be imported as a namespace package in place of the rule
    module inside it (unless the install is the Makefile's strict editable one)."""
    path = [str(RULE_FOLDER), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def start_container(env: dict[str, str], mode: str = "rule", stderr: IO[str] | None = None) -> Popen[str]:
    """A cold container: bench/child.py in a fresh interpreter (mode: rule, baseline or floor), run from
    the project root, where `python -m` finds the bench package."""
    command = [sys.executable, "-m", "bench.child", *([f"--{mode}"] if mode != "rule" else [])]
    return Popen(command, cwd=ROOT, env=child_env(env), stdin=PIPE, stdout=PIPE, stderr=stderr, text=True)


def containers(
    aws: AwsDouble, event_list: list[dict[str, Any]], mode: str = "rule", extra_env: dict[str, str] | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, int], dict[str, int]]]:
    """Run the events in one fresh container; yield each result with the calls it made."""
    with start_container({**double_env(aws), **(extra_env or {})}, mode) as child:
        assert child.stdin and child.stdout
        aws.conditions.reset_counts()
        child.stdin.write(json.dumps(event_list) + "\n")
        child.stdin.flush()
        for index in range(len(event_list)):
            if index:
                assert child.stdout.readline().strip() == "ready"
                aws.conditions.reset_counts()
                child.stdin.write("go\n")
                child.stdin.flush()
            line = child.stdout.readline()
            if not line:
                raise RuntimeError(f"the container failed (exit {child.wait()})")
            yield json.loads(line), dict(aws.conditions.calls), dict(aws.conditions.throttled)


def periodic(aws: AwsDouble, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return events.scheduled_event(aws.result_token(events.RULE_NAME), {**events.LOCAL_ROLE, **(parameters or {})})


def run_once(aws: AwsDouble, label: str, size: int, event: dict[str, Any], mode: str = "rule") -> Run:
    result, calls, throttled = next(containers(aws, [event], mode))
    latency = aws.conditions.latency * 1000
    return Run(
        label, size, latency, result["wall"], result["rss_mib"], calls, throttled, result["verdicts"], result["cpu"]
    )


@contextmanager
def served_cpu(handler: type[BaseResponse], key: Callable[[BaseResponse], str]) -> Iterator[dict[str, float]]:
    """CPU seconds the double's threads spend in handler's actions while the block runs, summed by key(request)
    (their own processing, not the latency the double adds, which is a sleep). The double serves from this
    process, on concurrent threads."""
    spent: dict[str, float] = {}
    lock = threading.Lock()
    original = handler.call_action

    def timed(self: BaseResponse) -> Any:
        started = time.thread_time()
        try:
            return original(self)
        finally:
            used, name = time.thread_time() - started, key(self)
            with lock:
                spent[name] = spent.get(name, 0.0) + used

    handler.call_action = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        handler.call_action = original  # type: ignore[method-assign]
