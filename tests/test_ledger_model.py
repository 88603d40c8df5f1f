"""A model check of the key ledger: hypothesis generates uploads, deletions, operator imports and forgets,
and the central function's runs in random member accounts of an organization, with faults interleaved
(tests/fault_injection.py); a plain in-memory oracle keeps the earliest evidence per key.

After each sequence every account's rule runs fault-free, then again while some rule was asked to
evaluate again (what Config does when asked); then every key's summary in the ledger, and every live
certificate's verdict, must be the oracle's.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fault_injection import (
    ANY_OPERATION,
    FAULT_KINDS,
    Call,
    Fault,
    Injector,
    Step,
    World,
    cold_container,
    install,
    perform,
)
from fault_scenarios import Table, command, organization_world, periodic, restart, rule_name
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from heartbleed.certificate import read_body
from heartbleed.ledger import Ledger, propagation
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import REGION, AwsDouble
from heartbleed_audit.double.config_evaluations import evaluation_state

ACCOUNTS = 3
KEYS = 3
CUTOFF = datetime(2014, 4, 8, tzinfo=UTC)
ERAS = {"2013": datetime(2013, 6, 1, tzinfo=UTC), "2024": datetime(2024, 6, 1, tzinfo=UTC)}
SEEN: Counter[str] = Counter()  # what the sequences did, for the test's own check and its report
# A fault lands on the n-th call of a run or command, whatever it is (a run makes 10 to 20 calls).
a_fault = st.builds(
    lambda position, kind: Fault(Call(0, ANY_OPERATION, position), kind),
    st.integers(0, 9),
    st.sampled_from(FAULT_KINDS),
)
faults = st.none() | a_fault


@cache
def bodies() -> dict[tuple[int, str], Issued]:
    """For each key, a certificate issued in 2013 (valid twenty years) and one issued in 2024."""
    made = {}
    for index in range(KEYS):
        key = new_key()
        for era, issued in ERAS.items():
            made[(index, era)] = issue(f"k{index}.example.com", issued, key=key, days=20 * 365)
    return made


def fingerprint(index: int) -> str:
    return read_body(bodies()[(index, "2013")].body).key_fingerprint


@dataclass
class Oracle:
    """What the ledger must hold: per key, the evidence dates of the holders some run has listed (or an
    operator imported) since the key was last forgotten, and their accounts."""

    live: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)  # (member, name) -> (key, era)
    evidence: dict[int, dict[tuple[int, str], datetime]] = field(default_factory=dict)  # key -> holder -> date

    def listed(self, member: int) -> None:
        for (where, name), (key, era) in self.live.items():
            if where == member:
                self.evidence.setdefault(key, {})[(member, name)] = ERAS[era]

    def earliest(self, key: int) -> datetime | None:
        dates = self.evidence.get(key, {}).values()
        return min(dates) if dates else None

    def verdict(self, key: int, era: str) -> str:
        earliest = self.earliest(key)
        compromised = ERAS[era] < CUTOFF or (earliest is not None and earliest < CUTOFF)
        return "NON_COMPLIANT" if compromised else "COMPLIANT"


class LedgerModel(RuleBasedStateMachine):
    aws: AwsDouble
    table: Table
    built: World | None = None

    def __init__(self) -> None:
        super().__init__()
        self.oracle = Oracle()
        self.uploads = 0

    @initialize(
        certificates=st.lists(
            st.tuples(st.integers(0, ACCOUNTS - 1), st.integers(0, KEYS - 1), st.sampled_from(sorted(ERAS))),
            min_size=2,
            max_size=5,
        )
    )
    def start(self, certificates: list[tuple[int, int, str]]) -> None:
        cls = type(self)
        if cls.built is None:
            cls.built = organization_world(cls.aws, cls.table, ACCOUNTS)
        else:
            restart(cls.built, cls.table)
            for member in self.members:
                iam = self.aws.client("iam", member)
                for meta in iam.list_server_certificates()["ServerCertificateMetadataList"]:
                    iam.delete_server_certificate(ServerCertificateName=meta["ServerCertificateName"])
        # moto gives the same certificate ids again after its reset: a warm container would take the bodies it
        # kept for the last example's certificates
        cold_container()
        assert self.world.dynamodb.scan(TableName=self.world.table)["Items"] == [], "the ledger is not empty"
        for index, key, era in certificates:
            self.upload(index, key, era)

    @property
    def world(self) -> World:
        assert self.built is not None
        return self.built

    @property
    def members(self) -> list[str]:
        return list(self.world.values["members"])

    @rule(member=st.integers(0, ACCOUNTS - 1), key=st.integers(0, KEYS - 1), era=st.sampled_from(sorted(ERAS)))
    def upload(self, member: int, key: int, era: str) -> None:
        self.uploads += 1
        name = f"Cert{self.uploads}"
        cert = bodies()[(key, era)]
        self.aws.upload(
            name, cert.body, cert.private_key, uploaded=ERAS[era] + timedelta(days=1), account=self.members[member]
        )
        self.oracle.live[(member, name)] = (key, era)
        SEEN["upload"] += 1

    @precondition(lambda self: bool(self.oracle.live))
    @rule(data=st.data())
    def delete(self, data: Any) -> None:
        member, name = data.draw(st.sampled_from(sorted(self.oracle.live)))
        self.aws.client("iam", self.members[member]).delete_server_certificate(ServerCertificateName=name)
        del self.oracle.live[(member, name)]
        SEEN["delete"] += 1

    @rule(member=st.integers(0, ACCOUNTS - 1))
    def run_in_member(self, member: int) -> None:
        self._perform(Step(f"periodic in member {member}", run=periodic(self.members[member])), None)
        self.oracle.listed(member)

    @rule(member=st.integers(0, ACCOUNTS - 1), fault=a_fault)
    def run_with_a_fault(self, member: int, fault: Fault) -> None:
        self._perform(Step(f"periodic in member {member}", run=periodic(self.members[member])), fault)
        self.oracle.listed(member)

    @rule(key=st.integers(0, KEYS - 1), fault=faults)
    def import_backup(self, key: int, fault: Fault | None) -> None:
        folder = Path(tempfile.mkdtemp(prefix="backup"))
        (folder / "old.pem").write_text(bodies()[(key, "2013")].body)
        self.world.values["backup"] = str(folder)
        argv = ("ledger", "import", "{backup}", "--reason", "backup")
        self._perform(Step("ledger import", run=command(*argv), operator=True), fault)
        self.oracle.evidence.setdefault(key, {})[(-1, f"imported {key}")] = ERAS["2013"]

    @precondition(lambda self: bool(self.oracle.evidence))
    @rule(data=st.data(), fault=faults)
    def forget(self, data: Any, fault: Fault | None) -> None:
        key = data.draw(st.sampled_from(sorted(self.oracle.evidence)))
        argv = ("ledger", "forget", fingerprint(key), "--reason", "model", "--yes")
        self._perform(Step("ledger forget", run=command(*argv), operator=True), fault)
        del self.oracle.evidence[key]

    def _perform(self, step: Step, fault: Fault | None) -> None:
        from fault_injection import ACTIVE

        ACTIVE.fault, ACTIVE.fired = fault, False
        failures = perform(self.world, step, 0)
        if fault is not None:
            SEEN[f"fault {fault.kind} {'served' if ACTIVE.fired else 'not reached'}"] += 1
        for failure in failures:
            SEEN[f"failed: {failure.split(': ', 1)[-1]}"] += 1
        SEEN[step.name.split(" in ")[0]] += 1
        ACTIVE.fault = None

    def teardown(self) -> None:
        if self.built is None:
            return
        self.settle()
        ledger = Ledger(self.world.dynamodb, self.world.table)
        summaries = ledger.summaries(fingerprint(key) for key in range(KEYS))
        for key in range(KEYS):
            earliest = self.oracle.earliest(key)
            summary = summaries.get(fingerprint(key))
            found = summary.earliest.evidence_date if summary else None
            if found != earliest:
                holders = [
                    (h.name, h.account, h.service, h.deleted_since) for h in ledger.key_holders(fingerprint(key))
                ]
                raise AssertionError(
                    f"key {key}: the ledger's earliest evidence is {found} (holders {holders}), the oracle's {earliest}"
                )
            if summary is not None:
                accounts = {self.members[m] for m, _ in self.oracle.evidence[key] if m >= 0}
                assert summary.accounts == accounts, f"key {key}: accounts {summary.accounts} instead of {accounts}"
        for (member, name), (key, era) in sorted(self.oracle.live.items()):
            rows = self.aws.evaluations(rule_name(self.world), self.members[member])
            arn = f"arn:aws:iam::{self.members[member]}:server-certificate/{name}"
            expected = self.oracle.verdict(key, era)
            verdict = rows[arn].compliance_type if arn in rows else None
            assert verdict == expected, f"{name} in member {member} (key {key}, {era}): {verdict} instead of {expected}"

    def settle(self) -> None:
        """Every account's rule runs fault-free; then the rules that were asked run, until none is."""
        asked = set(range(ACCOUNTS))
        for _ in range(4):
            if not asked:
                return
            before = {m: len(self.started(m)) for m in range(ACCOUNTS)}
            for member in sorted(asked):
                assert perform(self.world, Step("final", run=periodic(self.members[member])), None) == []
                self.oracle.listed(member)
            asked = {m for m in range(ACCOUNTS) if len(self.started(m)) > before[m]}
        raise AssertionError(f"members {sorted(asked)} were still asked to evaluate again after four rounds")

    def started(self, member: int) -> list[Any]:
        from moto.config.models import config_backends

        return list(evaluation_state(config_backends[self.members[member]][REGION]).started)


@pytest.fixture
def injector(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Injector:
    monkeypatch.setattr(propagation, "ASK_AGAIN_AFTER", timedelta(0))
    monkeypatch.setattr(logging.getLogger("moto"), "level", logging.INFO)
    return install(monkeypatch)


def test_the_ledger_keeps_the_earliest_evidence_per_key_through_faults(aws: AwsDouble, injector: Injector) -> None:
    LedgerModel.aws, LedgerModel.table, LedgerModel.built = aws, Table(aws), None
    run_state_machine_as_test(
        LedgerModel,
        settings=settings(
            max_examples=10,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            # No shrinking: on a failure it replays the sequences for minutes; the failing one is printed whole.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    print(dict(sorted(SEEN.items())))
    served = sum(count for what, count in SEEN.items() if what.endswith(" served"))
    assert served > 0 and SEEN["ledger forget"] > 0 and SEEN["ledger import"] > 0, SEEN
