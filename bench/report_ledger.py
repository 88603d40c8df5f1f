"""The README's key ledger sections (under "Performance"; the ledger itself: docs/ledger.md): the periodic
line with its floor and cost, the storm with the ledger and the cap it sets, and the organization's central
function."""

from __future__ import annotations

from typing import Any

from .report_format import (
    Results,
    X,
    action_name,
    bold,
    integer,
    markdown_table,
    money,
    number,
    paragraph,
    seconds,
    storm_cases,
    times,
)

PRICE_PAGE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
PRICE_FIGURES = "https://airbyte.com/data-engineering-resources/dynamodb-pricing"
READ = "iam:GetServerCertificate"
LEDGER_TABLE = "HeartbleedKeyLedger"  # the templates' default KeyLedgerTableName, which the benchmark uses
CAP_LIMIT = 10  # the ledger's storm target holds for every cap up to 10


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{action_name(op)} {integer(n)}" for op, n in sorted(calls.items()))


def _missed(flag: bool) -> str:
    return " (missed)" if flag else ""


def ledger_section(results: Results) -> list[str]:
    line = results["ledger"]
    runs = line["runs"]
    cold = max(runs, key=lambda r: r["cold_wall"])
    warm = max(runs, key=lambda r: r["warm_wall"])
    paired = max(runs, key=lambda r: r["ratio"])
    over_bound = cold["cold_wall"] > line["bound"]
    over_warm = warm["warm_wall"] > line["warm_target_s"]
    over_ratio = paired["ratio"] > line["floor_target"]
    intro = (
        f"**The key ledger, periodic** (measured on {line['date']}; N = {integer(line['size'])}, "
        f"{number(line['latency_ms'])} ms a request, GetServerCertificate limited to R = {number(line['rate'])}/s; "
        f"the worst of {line['repeats']} runs, each on a new, empty ledger). The first cold run reads every body "
        "and records the account; a second cold run (a new interpreter) takes every body from the ledger; the "
        "floor is bare boto3 from a fresh session with the rule's client settings making the second run's calls "
        "(list, the Query of the account's partition, BatchGetItem of its keys' summaries, the put, the Query of "
        "pending re-evaluations, the verdicts, the clean-up pages) and nothing else (`bench/child.py --ledger-floor`)."
    )

    def cost(entry: dict[str, Any]) -> str:
        return f"{integer(entry['reads'])} RRU + {integer(entry['writes'])} WRU = {money(entry['usd'])}"

    rows = [
        [
            "first cold run, empty ledger",
            bold(seconds(cold["cold_wall"], 1) + _missed(over_bound), over_bound),
            f"≤ 1.25 {X} N/R + 2 s = {seconds(line['bound'], 1)}",
            integer(cold["cold_calls"].get(READ, 0)),
            _calls(cold["cold_calls"]),
            cost(cold["cold_cost"]),
        ],
        [
            "second cold run, ledger warm",
            bold(seconds(warm["warm_wall"]) + _missed(over_warm), over_warm),
            f"≤ {seconds(line['warm_target_s'], 0)}, 0 reads",
            bold(integer(line["warm_reads"]), line["warm_reads"] > 0),
            _calls(warm["warm_calls"]),
            cost(warm["warm_cost"]),
        ],
        [
            "bare boto3, the same calls",
            seconds(paired["floor_wall"]),
            f"rule / floor ≤ {number(line['floor_target'])}: "
            + bold(f"{number(paired['ratio'])}{_missed(over_ratio)}", over_ratio),
            integer(paired["floor_calls"].get(READ, 0)),
            _calls(paired["floor_calls"]) + ("" if all(r["same_calls"] for r in runs) else " (**differs**)"),
            "",
        ],
    ]
    table = markdown_table(
        [
            ("run", False),
            ("wall (worst)", True),
            ("target", False),
            ("GetServerCertificate", True),
            ("calls by operation", False),
            ("DynamoDB on-demand", False),
        ],
        rows,
    )
    serving = max(r["warm_double_dynamodb_cpu"] for r in runs)
    cold_serving = max(r["cold_double_dynamodb_cpu"] for r in runs)
    right = all(r["correct"] for r in runs)
    updates = integer(cold["cold_calls"].get("dynamodb:UpdateItem", 0))
    notes = (
        f"Verdicts: {'every run equal to a run without the ledger' if right else '**wrong**'}. "
        f"The double's own DynamoDB work (CPU seconds its threads spent in the actions, one interpreter, so "
        f"concurrent requests queue on its lock) was up to {seconds(serving)} of a second cold run and "
        f"{seconds(cold_serving, 1)} of a first one (moto 5.2's model-driven serialiser answers the Query of "
        f"{integer(line['size'])} certificate items and the {updates} "
        "summary updates); the floor pays the same, which is why the ratio, not the absolute time, is what the double "
        "can judge. The cost is computed, not read (moto answers ReturnConsumedCapacity with fixed numbers): from the "
        "calls counted and the sizes of the items they read or wrote (a certificate item is about "
        f"{integer(cold['cold_cost']['certificate_item_bytes'])} bytes, a key's summary about "
        f"{integer(cold['cold_cost']['summary_item_bytes'])}), a strongly consistent read at one RRU per 4 KB (a Query "
        "per page, a BatchGetItem per item), a write at one WRU per 1 KB, at least one unit a request; priced at "
        "us-east-1's on-demand rates for the Standard table class, $0.125 per million RRU and $0.625 per million WRU "
        f"(units: {PRICE_PAGE}; the rates since the reduction of 1 November 2024, as quoted at {PRICE_FIGURES})."
    )
    return [paragraph(intro), table, paragraph(notes)]


def storm_ledger_section(results: Results) -> list[str]:
    storm = results["storm_ledger"]
    size = storm["size"]
    rows = []
    met: dict[int | None, bool] = {}
    for cap, e in storm_cases(storm):
        over = e["reads"] > 2 * size
        ok = e["failed"] == 0 and e["sent"] == e["correct"] == e["storm"] and not over
        met[cap] = met.get(cap, True) and ok
        causes = ", ".join(f"{reason} {count}" for reason, count in sorted(e.get("reasons", {}).items()))
        rows.append(
            [
                "no cap" if cap is None else f"cap {cap}",
                integer(e["storm"]),
                bold(integer(e["failed"]), e["failed"] > 0) + (f" ({causes})" if causes else ""),
                f"{integer(e['sent'])} / {integer(e['correct'])}",
                bold(integer(e["reads"]), over) + (" (over 2N)" if over else ""),
                integer(e["throttled"]),
                seconds(e["wall"], 1),
            ]
        )
    intro = (
        f"**Storms with the key ledger** (measured on {storm['date']}; N = {integer(size)}, GetServerCertificate "
        f"limited to R = {number(storm['rate'])}/s, {number(storm['latency_ms'])} ms a request; every storm on a "
        "new, empty ledger, so every one is cold): K change events at once, uncapped (K cold containers) or under "
        "a reserved concurrency. The containers share the ledger: the first to need bodies takes the account's "
        "lease and reads them, the others wait and take them from the ledger. Target: 0 failed invocations and "
        f"total reads ≤ 2N = {integer(2 * size)} for every cap up to {CAP_LIMIT}, uncapped included."
    )
    table = markdown_table(
        [
            ("case", False),
            ("events K", True),
            ("failed invocations", False),
            ("verdicts sent / correct", True),
            ("total reads (throttled included)", True),
            ("throttles", True),
            ("wall", True),
        ],
        rows,
    )
    capped = sorted(cap for cap in met if cap is not None)
    good = [cap for cap in capped if met[cap]]
    verdict = (
        f"Every cap measured ({', '.join(str(c) for c in capped)}) met it"
        if len(good) == len(capped)
        else f"Met under caps {', '.join(str(c) for c in good) or 'none'}"
    ) + (", and so did no cap." if met.get(None) else "; without a cap it did not.")
    why = (
        f"{verdict} The templates' default `ReservedConcurrency` is therefore {max(good) if good else 1}: "
        "the cap of 1 existed only because every cold container re-read every body; with the ledger and its lease "
        "a storm reads each body about once whatever the cap, and the organization route needs parallelism across "
        "accounts (one account's lease does not hold another's). A cap is kept, not dropped, so that a storm "
        "cannot take the Region's unreserved concurrency."
    )
    return [paragraph(intro), table, paragraph(why)]


def central_section(results: Results) -> list[str]:
    line = results["organization_ledger"]
    calls = line["calls_per_account"]
    rows = [
        [action_name(op), integer(c["first"]), number(c["median"]), integer(c["max"])]
        for op, c in sorted(calls.items())
    ]
    wrong = line["wrong"]
    intro = (
        f"**The organization's central function with the ledger** (measured on {line['date']}; "
        f"{integer(line['members'])} member accounts {X} {integer(line['per_member'])} certificates, "
        f"{number(line['latency_ms'])} ms a request, no rate limit): one container takes a periodic event per member "
        f"in turn, assuming each member's execution role. One key is planted in {line['shared_key_accounts']} "
        "accounts: a 2013 certificate in the middle member, recent ones in every tenth member and the last. "
        f"{integer(line['members'])} events took {seconds(line['wall'], 1)} (the first, cold, "
        f"{seconds(line['first_event_wall'])}; the median of the others {seconds(line['median_event_wall'])}). "
        f"Members that ran before the 2013 certificate was recorded were asked to evaluate again "
        f"(StartConfigRulesEvaluation through their role: {line['asked']}), and those re-evaluations took "
        f"{seconds(line['re_evaluation_wall'], 1)}. Then "
        + (
            f"all {integer(line['verdicts'])} verdicts were right"
            if not wrong
            else f"**{len(wrong)} of {integer(line['verdicts'])} verdicts were wrong**"
        )
        + f", and {line['cross_account_naming_the_2013_account']} of the {line['cross_account_verdicts']} "
        "cross-account NON_COMPLIANT verdicts name the 2013 certificate's account. Calls per account event:"
    )
    table = markdown_table(
        [("operation", False), ("first event", True), ("median of the others", True), ("most", True)], rows
    )
    return [paragraph(intro), table]


def _cpu(audit: dict[str, Any]) -> str:
    return f"{seconds(audit['cpu'])} / {seconds(sum(audit['double_cpu'].values()))}"


def ledger_audit_section(results: Results) -> list[str]:
    line = results["ledger_audit"]
    runs, fill = line["runs"], line["fill"]
    first = runs[0]
    accounts, per_account = line["accounts"], line["per_account"]
    intro = (
        f"**The organization report from the key ledger** (`python -m bench.run --ledger-audit-only`, also part of "
        f"`make bench`; `bench/organization.py`; measured on {line['date']}). An organization of {accounts} "
        f"accounts {X} {per_account} certificates, as in the organization audit above; its ledger filled first, "
        f"untimed, as the organization rule fills it: one periodic run per account ({fill['events']} events in one "
        f"container of the central function, {seconds(fill['wall'], 1)} at no added latency, reading "
        f"{integer(fill['calls'].get(READ, 0))} bodies)."
        f" Then `heartbleed-audit audit --organization --ledger {LEDGER_TABLE}` and the live `audit --organization`, "
        f"each in a fresh interpreter at {number(line['latency_ms'])} ms a request, taking turns to go first, "
        f"{times(len(runs))}; each time both printed the same {integer(first['live']['rows'])} rows (the benchmark "
        "stops otherwise). CPU is the audit process's own, then the double's in serving it:"
    )
    rows = [
        [
            str(index),
            seconds(run["ledger"]["wall"]),
            integer(sum(run["ledger"]["calls"].values())),
            integer(run["ledger"]["calls"].get(READ, 0)),
            _cpu(run["ledger"]),
            seconds(run["live"]["wall"]),
            integer(sum(run["live"]["calls"].values())),
            integer(run["live"]["calls"].get(READ, 0)),
            _cpu(run["live"]),
        ]
        for index, run in enumerate(runs, 1)
    ]
    table = markdown_table(
        [
            ("run", True),
            ("from the ledger", True),
            ("calls", True),
            ("bodies read", True),
            ("CPU, audit / double", True),
            ("live", True),
            ("calls", True),
            ("bodies read", True),
            ("CPU, audit / double", True),
        ],
        rows,
    )
    ledger, live = first["ledger"]["calls"], first["live"]["calls"]
    dynamodb = max(run["ledger"]["double_cpu"].get("dynamodb", 0.0) for run in runs)
    iam = max(run["live"]["double_cpu"].get("iam", 0.0) for run in runs)
    own = sum(run["ledger"]["cpu"] for run in runs) / sum(run["live"]["cpu"] for run in runs)
    after = (
        f"Worst of {len(runs)}: from the ledger {bold(seconds(line['worst_ledger_wall']))}, live "
        f"{bold(seconds(line['worst_live_wall']))}. The calls from the ledger: {_calls(ledger)}; live: {_calls(live)}. "
        f"The ledger held every body ({integer(first['ledger'].get('bodies_from_ledger', 0))} taken from it), so "
        f"{integer(live.get(READ, 0))} GetServerCertificate calls became {integer(ledger.get('dynamodb:Query', 0))} "
        f"Query (one per account) and {integer(ledger.get('dynamodb:BatchGetItem', 0))} BatchGetItem (the pool's "
        "keys, 100 a call); the lists and the role sessions are the live audit's. On the double the wall time does "
        "not fall with the calls: its DynamoDB (moto) spent up to "
        f"{seconds(dynamodb)} of CPU serving those requests, since each Query walks every item of the table "
        f"({integer(line['ledger_items'])} here) and each item is serialized attribute by attribute, against up to "
        f"{seconds(iam)} for IAM's {integer(live.get(READ, 0))} body reads, while the audit's own CPU was "
        f"{number(own)} of the live audit's. What carries "
        "over to AWS is the calls (IAM limits GetServerCertificate per account; a Query of one partition does not "
        "grow with the table), not this wall time, which was not measured on AWS."
    )
    return [paragraph(intro), table, paragraph(after)]
