"""One Lambda container for the benchmark: a fresh interpreter that runs events in turn.

Reads a JSON list of events on stdin's first line. Before each event after the
first it prints "ready" and waits for a line, so the parent can reset the double's
call counts between a cold and a warm invocation. After each event it prints one
JSON line: wall seconds, peak RSS in MiB, and the verdict sent per resource.

--baseline follows the seed's procedure literally instead of lambda_handler:
list (default page size), read each certificate one at a time, evaluate, and
report each evaluation in its own PutEvaluations call.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def _baseline(event: dict[str, Any]) -> list[dict[str, Any]]:
    import boto3

    from heartbleed.certificate import BodyError, CertificateEvidence, read_body
    from heartbleed.iam import metadata_from_api
    from heartbleed.parameters import parse_rule_parameters
    from heartbleed.verdict import evaluate_account

    params = parse_rule_parameters(json.loads(event.get("ruleParameters") or "{}"))
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
    evidence = []
    for raw in listed:  # aws iam get-server-certificate, one at a time
        got = iam.get_server_certificate(ServerCertificateName=raw["ServerCertificateName"])["ServerCertificate"]
        meta = metadata_from_api(got["ServerCertificateMetadata"])
        try:
            evidence.append(CertificateEvidence(meta, body=read_body(got["CertificateBody"])))
        except BodyError as error:
            evidence.append(CertificateEvidence(meta, body_problem=str(error)))
    stamp = json.loads(event["invokingEvent"])["notificationCreationTime"]
    sent = []
    for verdict in evaluate_account(evidence, params):  # one report per certificate
        evaluation = {
            "ComplianceResourceType": "AWS::IAM::ServerCertificate",
            "ComplianceResourceId": verdict.arn,
            "ComplianceType": verdict.compliance.value,
            "Annotation": verdict.annotation,
            "OrderingTimestamp": stamp,
        }
        config.put_evaluations(Evaluations=[evaluation], ResultToken=event["resultToken"])
        sent.append(evaluation)
    return sent


def main() -> None:
    baseline = "--baseline" in sys.argv
    events = json.loads(sys.stdin.readline())
    handler: Callable[[dict[str, Any], Any], Any] | None = None
    if not baseline:
        from HeartbleedServerCertificate import lambda_handler

        handler = lambda_handler
    for index, event in enumerate(events):
        if index:
            print("ready", flush=True)
            sys.stdin.readline()
        started = time.perf_counter()
        sent = _baseline(event) if handler is None else handler(event, None)
        wall = time.perf_counter() - started
        if not isinstance(sent, list):
            raise SystemExit(f"the invocation failed: {sent}")
        report = {
            "wall": wall,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "verdicts": {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent},
        }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
