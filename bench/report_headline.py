"""The README's headline numbers, from bench/results.json: the largest periodic run against the seed's
procedure, so that the front page quotes the measurement and cannot drift from it. The full figures, with
their method, are the block in docs/performance.md (bench/report.py renders both)."""

from __future__ import annotations

from .report_format import Results, call_count, integer, ms, paragraph, seconds


def headline(results: Results) -> str:
    """The Markdown between the README's headline markers; empty without periodic results."""
    entries = results.get("periodic")
    if not entries:
        return ""
    top = max(entries, key=lambda e: (e["rule"]["size"], e["rule"]["latency_ms"]))
    rule, base, off = top["rule"], top["baseline"], top["body_check_off"]
    measured = ", ".join(str(results[key]) for key in ("date", "machine") if key in results)
    text = (
        f"A cold periodic run over {integer(rule['size'])} certificates at {ms(rule['latency_ms'])} a request "
        f"(measured {measured}): {seconds(rule['wall'])} and {call_count(rule['calls'])} AWS calls, peak RSS "
        f"{rule['rss_mib']:.0f} MiB; the seed's procedure followed literally takes {seconds(base['wall'])} "
        f"({top['ratio']:.1f} times as long). With IAM-033's settings (no body reads): {seconds(off['wall'])}, "
        f"{call_count(off['calls'])} calls."
    )
    return paragraph(text) + "\n"
