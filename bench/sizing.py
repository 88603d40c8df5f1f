"""Lambda sizing from the measurement: N certificates -> expected duration and cost per memory size.

Lambda gives a function CPU in proportion to its memory, one vCPU's worth at 1,769 MB
(Lambda developer guide, "Configure Lambda function memory"). The rule's CPU work runs
on one core at a time (the body reads share the GIL), so a measured run splits into CPU
seconds, which a smaller function stretches by 1769/memory, and waiting (round trips,
IAM's rate), which memory does not shorten. Cold-start imports are billed too (Lambda
pricing: duration includes initialization code), so they are added to the CPU.
"""

from __future__ import annotations

import re
from typing import Any

from heartbleed.deadline import RESERVE_MS

from .runs import ROOT

VCPU_MB = 1769
MEMORY_SIZES = (256, 512, 1024, 1769)
# x86, US East (N. Virginia), https://aws.amazon.com/lambda/pricing/ (arm64 is about 20% less).
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_REQUEST = 0.20 / 1_000_000


def projected(cpu: float, wall: float, memory_mb: int) -> float:
    """Seconds a run that took wall seconds, cpu of them on the CPU, would take at memory_mb."""
    share = min(1.0, memory_mb / VCPU_MB)
    return cpu / share + max(0.0, wall - cpu)


def cost(seconds: float, memory_mb: int) -> float:
    return seconds * memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST


def sizing(runs: list[dict[str, Any]], import_seconds: float) -> list[dict[str, Any]]:
    """One line per measured run and memory size; runs carry size, wall and cpu (seconds), and a label."""
    lines = []
    for run in runs:
        cpu = run["cpu"] + import_seconds
        wall = run["wall"] + import_seconds
        for memory_mb in MEMORY_SIZES:
            seconds = projected(cpu, wall, memory_mb)
            lines.append(
                {
                    "case": run["label"],
                    "size": run["size"],
                    "memory_mb": memory_mb,
                    "vcpu": round(min(1.0, memory_mb / VCPU_MB), 3),
                    "seconds": seconds,
                    "cost_usd": cost(seconds, memory_mb),
                }
            )
    return lines


def sizing_lines(report: dict[str, Any], latency_ms: float) -> list[dict[str, Any]]:
    """The sizing table's cases: each cold periodic run at the service time, and the slowest rate-limited one
    (the Timeout's worst case); checked against the template's Timeout at its MemorySize."""
    runs = [
        {
            "label": f"N={e['rule']['size']:,}",
            "size": e["rule"]["size"],
            "wall": e["rule"]["wall"],
            "cpu": e["rule"]["cpu"],
        }
        for e in report["periodic"]
        if e["rule"]["latency_ms"] == latency_ms
    ]
    if report["rate_limited"]:
        slowest = max(report["rate_limited"], key=lambda e: e["wall"])
        runs.append({**slowest, "label": f"N={slowest['size']:,}, R={slowest['rate']:g}/s"})
    lines = sizing(runs, report["import"]["handler_ms"] / 1000)
    template = (ROOT / "rules" / "heartbleed-rule.yaml").read_text()
    memory, timeout = (int(re.search(rf"\b{key}: (\d+)", template)[1]) for key in ("MemorySize", "Timeout"))  # type: ignore[index]
    worst = max((line for line in lines if line["memory_mb"] == memory), key=lambda line: line["seconds"], default=None)
    if worst:
        budget = timeout - RESERVE_MS / 1000
        verdict = "within it" if worst["seconds"] <= budget else "OVER IT: raise MemorySize or Timeout"
        print(
            f"sizing: worst case at the template's {memory} MB: {worst['case']} {worst['seconds']:.1f} s; "
            f"the Timeout {timeout} s less the rule's {RESERVE_MS / 1000:g} s reserve is {budget:g} s: {verdict}",
            flush=True,
        )
    return lines
