"""The benchmark's pacing lines: cold periodic runs under a GetServerCertificate limit whose
throttles are answered at once (issue 9's target: every run within 1.25 x N/R + 2 s).

    python -P bench/run.py --pacing-only [--sizes 100 300] [--repeats 10]
"""

from __future__ import annotations

from typing import Any

from awsdouble import AwsDouble

from .benchmark import build_account, periodic, run_once

RATE = 20.0  # GetServerCertificate per second


def pacing_runs(aws: AwsDouble, sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    lines = []
    for size in sizes:
        aws.reset()
        build_account(aws, size)
        for latency_ms in (50.0, 200.0):
            for shape in ("bucket", "window"):
                walls, complete = [], True
                for _ in range(repeats):
                    aws.conditions.latency = latency_ms / 1000
                    aws.conditions.limit("iam:GetServerCertificate", RATE, shape)
                    run = run_once(aws, "pacing", size, periodic(aws))
                    walls.append(run.wall)
                    complete &= len(run.verdicts) == size
                aws.conditions.limit("iam:GetServerCertificate", None)
                aws.conditions.latency = 0.0
                bound = 1.25 * size / RATE + 2
                line = {
                    "size": size,
                    "latency_ms": latency_ms,
                    "shape": shape,
                    "walls": walls,
                    "worst": max(walls),
                    "bound": bound,
                    "complete": complete,
                }
                print(
                    f"N={size} R={RATE:g}/s {latency_ms:g} ms {shape}: worst of {repeats} {max(walls):.2f} s "
                    f"(best {min(walls):.2f} s), bound {bound:.2f} s, complete {complete}",
                    flush=True,
                )
                lines.append(line)
    return lines
