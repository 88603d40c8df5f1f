"""docs/performance.md's organization-at-scale section (bench/org_scale.py): when every member had its rows and every
holder of the shared key was NON_COMPLIANT, the calls per invocation, what propagation cost, and the
DynamoDB and Lambda cost of one organization-day."""

from __future__ import annotations

from typing import Any

from .ledger_cost import USD_PER_MILLION_RRU, USD_PER_MILLION_WRU
from .report_format import Results, X, action_name, bold, integer, markdown_table, money, number, paragraph, seconds
from .sizing import PRICE_PER_GB_SECOND, PRICE_PER_REQUEST

DYNAMODB_UNITS_PAGE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
DYNAMODB_RATES_QUOTED = "https://airbyte.com/data-engineering-resources/dynamodb-pricing"
LAMBDA_PAGE = "https://aws.amazon.com/lambda/pricing/"
DAYS_A_MONTH = 30


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{integer(n)}{suffix}"


def _rows(count: int) -> str:
    return f"{integer(count)} row{'' if count == 1 else 's'}"


def _at(value: float | None) -> str:
    return bold("never", True) if value is None else seconds(value, 1)


def _calls(calls: dict[str, Any]) -> str:
    return ", ".join(f"{name} {integer(n)}" for name, n in sorted(calls.items())) or "none"


def _operations(line: dict[str, Any]) -> list[list[str]]:
    periodic, again = line["calls_per_periodic_event"], line["calls_per_re_evaluation"]
    finder = line["calls_of_the_finding_run"]
    rows = []
    for op in sorted({*periodic, *again, *finder}):
        p, a = periodic.get(op), again.get(op)
        rows.append(
            [
                action_name(op),
                f"{number(p['median'])} / {integer(p['max'])}" if p else "0",
                integer(p["total"]) if p else "0",
                integer(finder.get(op, 0)),
                f"{number(a['median'])} / {integer(a['max'])}" if a else "0",
                integer(a["total"]) if a else "0",
            ]
        )
    return rows


def org_scale_section(results: Results) -> list[str]:
    line = results["organization_scale"]
    cost = line["cost"]
    members, holders = line["members"], line["holders"]
    intro = (
        f"**The organization at scale** (`python -m bench.run --organization-scale-only`, `bench/org_scale.py`; "
        f"measured on {line['date']}). {integer(members)} member accounts {X} {line['per_member']} IAM server "
        f"certificates; a wildcard certificate's key is shared by {integer(holders)} of them: one member's "
        f"certificate is from 2013, the {integer(holders - 1)} others' from 2025. Every member's periodic event "
        f"waits in Lambda's queue, in member order, and {line['concurrency']} warm containers (the organization "
        "template's default ReservedConcurrency, each a fresh interpreter) take them in turn, at "
        f"{number(line['latency_ms'])} ms a request. The member with the 2013 certificate is "
        f"{_ordinal(line['old_member_position'])} in the queue, after {integer(line['holders_before_old'])} "
        "holders, which report their wildcard row COMPLIANT at first. Each StartConfigRulesEvaluation the double "
        "accepts puts that member's periodic event at the end of the queue, as Config would run the rule again; "
        f"the double refuses a rule asked again within {line['start_interval_s']} s (LimitExceededException), as "
        "Config does. The clock starts when the warm containers take the first event (their cold starts, one at "
        f"a time, took {seconds(sum(line['container_init_s']) / len(line['container_init_s']))} each)."
    )
    milestones = markdown_table(
        [("moment", False), ("after", True)],
        [
            ["the 2013 certificate recorded (its member's run ended)", _at(line["evidence_recorded_at"])],
            [f"every member has its {integer(line['verdicts'])} rows", _at(line["rows_wall"])],
            [f"every holder's wildcard row NON_COMPLIANT ({integer(holders)})", _at(line["non_compliant_wall"])],
            [
                "from the evidence recorded to every holder NON_COMPLIANT",
                _at(
                    None
                    if line["non_compliant_wall"] is None or line["evidence_recorded_at"] is None
                    else line["non_compliant_wall"] - line["evidence_recorded_at"]
                ),
            ],
            [
                "the queue empty, nothing running",
                seconds(line["wall"], 1) + (" (timed out)" if line["timed_out"] else ""),
            ],
        ],
    )
    wrong, failed = line["wrong"], line["failed"]
    outcome = (
        f"{integer(line['invocations'])} invocations: {integer(members)} periodic, "
        f"{integer(line['re_evaluations'])} re-evaluations (the double accepted "
        f"{integer(line['re_evaluations_accepted'])} StartConfigRulesEvaluation calls for "
        f"{integer(line['re_evaluated_accounts'])} members); "
        + (bold(f"{len(failed)} failed") if failed else "none failed")
        + (f", {line['error_documents']} error documents" if line["error_documents"] else "")
        + "; "
        + (f"all {integer(line['verdicts'])} rows right" if not wrong else bold(f"{_rows(len(wrong))} wrong"))
        + f"; kept re-evaluation requests left in the ledger: {integer(line['kept_requests_left'])}. "
        f"The run that found the 2013 certificate took {seconds(line['finding_run_wall'] or 0.0)} (a periodic "
        f"run's median {seconds(line['periodic_wall']['median'])}). Calls per invocation (median / most, and the "
        "total), counted inside each container:"
    )
    table = markdown_table(
        [
            ("operation", False),
            ("periodic", True),
            ("all periodic", True),
            ("the finding run", True),
            ("re-evaluation", True),
            ("all re-evaluations", True),
        ],
        _operations(line),
    )
    propagation = (
        f"What propagation made, in all: {_calls(line['propagation'])}; {integer(line['asking_runs'])} runs asked, "
        f"at most {integer(line['most_asks_in_a_run'])} in one run. The ledger's calls by the items they touch: "
        f"{_calls(line['ledger_calls'])}. Calls refused (a conditional write whose condition did not hold is still "
        f"a write): {_calls(line['refused'])}. Requests the double counted: {integer(line['requests_at_the_double'])}; "
        f"calls the containers counted: {integer(line['calls_counted'])}."
    )
    later = line.get("later_day")
    days = [("first day, empty ledger", cost)] + ([("a later day", later["cost"])] if later else [])
    month = cost["usd"] + (DAYS_A_MONTH - 1) * (later["cost"]["usd"] if later else cost["usd"])
    cost_table = markdown_table(
        [("", False)] + [(title, False) for title, _ in days] + [(f"{DAYS_A_MONTH} days", True)],
        [
            ["DynamoDB on-demand"]
            + [f"{integer(c['rru'])} RRU + {integer(c['wru'])} WRU: {money(c['dynamodb_usd'])}" for _, c in days]
            + [money(cost["dynamodb_usd"] + (DAYS_A_MONTH - 1) * days[-1][1]["dynamodb_usd"])],
            [f"Lambda, {line['memory_mb']} MB x86_64"]
            + [
                f"{integer(c['invocations'])} requests, {number(c['function_seconds'] / 60, 1)} function-minutes "
                f"+ {number(c['init_seconds'], 1)} s of cold starts = {integer(c['gb_seconds'])} GB-s: "
                f"{money(c['lambda_usd'])}"
                for _, c in days
            ]
            + [money(cost["lambda_usd"] + (DAYS_A_MONTH - 1) * days[-1][1]["lambda_usd"])],
            ["together"] + [bold(money(c["usd"])) for _, c in days] + [bold(money(month))],
        ],
    )
    later_text = (
        (
            f"The later day: every member's periodic event again, on the ledger the first day left, through "
            f"{len(later['container_init_s'])} new containers: {integer(later['invocations'])} invocations in "
            f"{seconds(later['wall'], 1)}, {integer(later['re_evaluations'])} re-evaluations, "
            + (bold(f"{len(later['failed'])} failed") if later["failed"] else "none failed")
            + ", "
            + (bold(f"{_rows(len(later['wrong']))} wrong") if later["wrong"] else "every row still right")
            + "; calls per periodic event (median): "
            + ", ".join(
                f"{action_name(op)} {number(c['median'])}"
                for op, c in sorted(later["calls_per_periodic_event"].items())
            )
            + ". "
        )
        if later
        else ""
    )
    notes = (
        later_text + "An organization-day is every member's periodic run once and the re-evaluations it causes; "
        f"the first day finds the ledger empty, so every body is read and recorded; {DAYS_A_MONTH} days are the "
        f"first and {DAYS_A_MONTH - 1} days like the later one. Request units "
        "are computed per call from its request and answer (`bench/ledger_cost.py`): a strongly consistent read "
        "one RRU per 4 KB (a Query page's items together, a BatchGetItem's each), a write one WRU per 1 KB, an "
        "UpdateItem at its item's size in the table afterwards (an upper bound), at least one unit a request. "
        f"Rates, US East (N. Virginia), us-east-1: DynamoDB on-demand, Standard table class, "
        f"${number(USD_PER_MILLION_RRU, 3)} per million RRU and ${number(USD_PER_MILLION_WRU, 3)} per million WRU "
        f"(units: {DYNAMODB_UNITS_PAGE}; the rates since the reduction of 1 November 2024, as quoted at "
        f"{DYNAMODB_RATES_QUOTED}); Lambda, x86_64, ${PRICE_PER_GB_SECOND:.10f} per GB-second and "
        f"${PRICE_PER_REQUEST * 1e6:.2f} per million requests, initialization billed as duration "
        f"({LAMBDA_PAGE}). The function-minutes are the sum of the invocations' wall times on this machine "
        f"({line['machine']}), where "
        f"{line['concurrency']} containers and the double share its cores; the containers' own CPU was "
        f"{number(cost['cpu_seconds'] / 60, 1)} minutes of them, the rest waiting on the double (one process "
        "serving every container) and its added latency. So the Lambda figures are an upper bound, not Lambda's "
        "measurement. Config's own charge per evaluation recorded is not in this table (docs/deployment.md, Cost)."
        + (f" Not priced here: {_calls(cost['unpriced'])} calls." if cost["unpriced"] else "")
    )
    return [
        paragraph(intro),
        milestones,
        paragraph(outcome),
        table,
        paragraph(propagation),
        cost_table,
        paragraph(notes),
    ]
