"""The benchmark's pacing lines: cold runs under a GetServerCertificate limit whose throttles are
answered at once (the target: every run within 1.25 x N/R + 2 s, complete and correct).

Three ways the bodies get read, each in a fresh interpreter:
- periodic: the rule's periodic run (the handler's own time);
- change: the rule's change event for a certificate that shares its key with an older one, which
  needs every body (the handler's own time);
- cli: `heartbleed-audit audit --output json`, the whole process as a user waits for it.

Each is judged against an unthrottled periodic run of the same account.

    python -m bench.run --pacing-only [--sizes 100 300] [--repeats 10]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from heartbleed_audit import events
from heartbleed_audit.double import FAKE_CREDENTIALS, AwsDouble

from .runs import bound, build_account, containers, periodic, run_once

RATE = 20.0  # GetServerCertificate per second
MODES = ("periodic", "change", "cli")
# build_account's certificate 4 was issued in 2018 with a key first used before the cutoff.
REUSED_KEY = 4


def _change_event(aws: AwsDouble) -> tuple[str, dict[str, Any]]:
    name = f"cert-{REUSED_KEY:04d}"
    with aws.environment():
        meta = aws.client("iam").get_server_certificate(ServerCertificateName=name)["ServerCertificate"][
            "ServerCertificateMetadata"
        ]
    item = events.configuration_item(name, meta["Arn"], meta["Path"])
    return meta["Arn"], events.change_event(item, aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)


def _cli_audit(aws: AwsDouble) -> tuple[float, dict[str, str]]:
    """heartbleed-audit in its own process, as a user runs it; wall time of the whole process."""
    env = {**os.environ, **FAKE_CREDENTIALS}
    command = [sys.executable, "-P", "-c", "from heartbleed_audit.cli import entry; entry()"]
    arguments = ["audit", "--output", "json", "--endpoint-url", aws.endpoint_url, "--region", "us-east-1"]
    started = time.perf_counter()
    done = subprocess.run([*command, *arguments], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: NON_COMPLIANT certificates found, as expected here
        raise RuntimeError(f"heartbleed-audit exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return wall, {row["arn"]: row["compliance"] for row in json.loads(done.stdout)}


def _one_run(aws: AwsDouble, mode: str, size: int) -> tuple[float, dict[str, str]]:
    if mode == "periodic":
        run = run_once(aws, "pacing", size, periodic(aws))
        return run.wall, run.verdicts
    if mode == "change":
        arn, event = _change_event(aws)
        result, _, _ = next(containers(aws, [event]))
        return result["wall"], {arn: result["verdicts"].get(arn, "missing")}
    return _cli_audit(aws)


def pacing_runs(aws: AwsDouble, sizes: list[int], repeats: int, modes: tuple[str, ...] = MODES) -> list[dict[str, Any]]:
    lines = []
    for size in sizes:
        aws.reset()
        build_account(aws, size)
        expected = run_once(aws, "unthrottled", size, periodic(aws)).verdicts
        for mode in modes:
            for latency_ms in (50.0, 200.0):
                for shape in ("bucket", "window"):
                    walls, complete, correct = [], True, True
                    for _ in range(repeats):
                        aws.conditions.latency = latency_ms / 1000
                        aws.conditions.limit("iam:GetServerCertificate", RATE, shape)
                        wall, verdicts = _one_run(aws, mode, size)
                        walls.append(wall)
                        complete &= len(verdicts) == (1 if mode == "change" else size)
                        correct &= all(expected.get(arn) == verdict for arn, verdict in verdicts.items())
                    aws.conditions.limit("iam:GetServerCertificate", None)
                    aws.conditions.latency = 0.0
                    limit = bound(size, RATE)
                    lines.append(
                        {
                            "mode": mode,
                            "size": size,
                            "latency_ms": latency_ms,
                            "shape": shape,
                            "walls": walls,
                            "worst": max(walls),
                            "rate": RATE,
                            "bound": limit,
                            "complete": complete,
                            "correct": correct,
                        }
                    )
                    print(
                        f"{mode} N={size} R={RATE:g}/s {latency_ms:g} ms {shape}: worst of {repeats} "
                        f"{max(walls):.2f} s (best {min(walls):.2f} s), bound {limit:.2f} s, "
                        f"complete {complete}, correct {correct}",
                        flush=True,
                    )
    return lines
