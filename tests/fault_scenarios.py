"""The fault catalogue's scenarios: each a start and the steps an operator and AWS Config take.

The certificates are made once per process, so every play of a scenario starts from the same bodies and
keys; what the double makes anew per play (certificate ids, ACM ARNs, member accounts) is named by a label
so that outcomes of different plays compare (fault_injection.normaliser).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fault_injection import Scenario, Step, World
from identities import use_credentials
from ledger_table import create_table
from moto.config.models import config_backends
from moto.core.authorization import enable_iam_authentication
from simulated_organization import MEMBER_ROLE, MEMBER_RULE, LambdaContext, member_copy
from template_roles import create_roles

from heartbleed.certificate import read_body
from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, REGION, AwsDouble
from heartbleed_audit.double.config_evaluations import evaluation_state
from HeartbleedServerCertificate import lambda_handler

SECOND_REGION = "eu-west-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/"  # the ledger's table ARN, without its name
OLD = datetime(2013, 6, 1, tzinfo=UTC)


@cache
def certificates() -> dict[str, Issued]:
    """Every certificate of the catalogue, made once: pairs share a key."""
    shop, restored, acm, imported, org = (new_key() for _ in range(5))
    return {
        "Shop2013": issue("shop.example.com", OLD, key=shop),
        "Shop2020": issue("shop.example.com", datetime(2020, 1, 1, tzinfo=UTC), key=shop, days=3650),
        "ShopRecent": issue("restore.example.com", datetime(2024, 6, 1, tzinfo=UTC), key=restored, days=1500),
        "ShopRestored": issue("restore.example.com", OLD, key=restored, days=20 * 365),  # from a backup, still valid
        "Api2020": issue("api.example.com", datetime(2020, 3, 1, tzinfo=UTC), key=acm, days=3650),
        "Api2013": issue("api.example.com", OLD, key=acm, days=20 * 365),
        "Live2024": issue("live.example.com", datetime(2024, 3, 1, tzinfo=UTC), key=imported, days=1500),
        "Backup2013": issue("live.example.com", OLD, key=imported),
        "Member2013": issue("m0.example.com", OLD, key=org, days=20 * 365),
        "Member2024": issue("m1.example.com", datetime(2024, 9, 1, tzinfo=UTC), key=org, days=1500),
    }


def key_of(name: str) -> str:
    return read_body(certificates()[name].body).key_fingerprint


# ---- the runs ------------------------------------------------------------------------------------


def parameters(world: World) -> dict[str, str]:
    """The rule's parameters: a ledger, and IAM reported in the home Region only (the rule runs in two)."""
    base = {"ExecutionRoleName": MEMBER_ROLE} if world.run_as else dict(events.LOCAL_ROLE)
    table = world.table if not world.values.get("ledger by ARN") else f"{TABLE_ARN}{world.table}"
    return {**base, "KeyLedgerTable": table, "HomeRegion": REGION}


def handled(world: World, event: dict[str, Any]) -> str:
    """Invoke the function; an error document is a success to Lambda (no retry), a raise is not."""
    context = LambdaContext() if world.run_as else None
    return "ok" if isinstance(lambda_handler(event, context), list) else "error document"


@contextmanager
def function_in(region: str) -> Iterator[None]:
    """The function deployed in region: Lambda sets AWS_REGION, so its Config client reports there."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_REGION", region)
        patch.setenv("AWS_DEFAULT_REGION", region)
        yield


def rule_name(world: World) -> str:
    """The rule a run reports for: on the organization route (the central function), the member's copy."""
    return MEMBER_RULE if world.run_as else events.RULE_NAME


def periodic(account: str = ACCOUNT_ID, region: str = REGION) -> Callable[[World], str]:
    """The periodic event of the account's rule; on the organization route, of its copy of the organization rule."""

    def run(world: World) -> str:
        token = world.aws.result_token(rule_name(world), account, region)
        event = events.scheduled_event(token, parameters(world), account=account, region=region)
        with function_in(region):
            return handled(world, member_copy(event, account, region) if world.run_as else event)

    return run


def upload(name: str, uploaded: datetime, account: str = ACCOUNT_ID) -> Callable[[World], None]:
    def arrange(world: World) -> None:
        cert = certificates()[name]
        meta = world.aws.upload(name, cert.body, cert.private_key, uploaded=uploaded, account=account)
        world.labels[meta["ServerCertificateId"]] = f"<id {name}>"
        world.values[name] = meta["Arn"]

    return arrange


def delete(name: str) -> Callable[[World], None]:
    def arrange(world: World) -> None:
        world.aws.client("iam").delete_server_certificate(ServerCertificateName=name)

    return arrange


def command(*argv: str) -> Callable[[World], str]:
    """heartbleed-audit with the operator's credentials (the environment's); fails unless it exits 0."""

    def run(world: World) -> str:
        words = [word.format(**world.values) for word in argv]
        return "ok" if main([*words, "--table", world.table]) == 0 else "failed"

    return run


# ---- the starts ----------------------------------------------------------------------------------


def one_account(aws: AwsDouble, table: Table, *uploads: tuple[str, datetime]) -> World:
    table.create()
    world = World(aws, table.name, table.client(), [(ACCOUNT_ID, REGION)])
    world.labels |= {key_of(name): f"<key {name}>" for name, _ in uploads}
    for name, when in uploads:
        upload(name, when)(world)
    return world


_TABLES = itertools.count(1)  # dynalite's tables, numbered across the module's tests


class Table:
    """Where the ledger lives: the double's DynamoDB, or dynalite. `create` makes it anew for each play."""

    def __init__(self, aws: AwsDouble, dynamodb: Any = None) -> None:
        self.aws, self._dynamodb = aws, dynamodb
        self.name = "HeartbleedKeyLedger"

    @property
    def on_the_double(self) -> bool:
        return self._dynamodb is None

    def client(self) -> Any:
        return self._dynamodb or self.aws.client("dynamodb")

    def create(self) -> None:
        if self._dynamodb is not None:  # dynalite outlives the double's reset: a new table per play
            self.name = f"HeartbleedKeyLedger{next(_TABLES)}"
        create_table(self.client(), self.name)

    def recreate(self) -> None:
        if self._dynamodb is None:
            self.client().delete_table(TableName=self.name)
        self.create()


def scenarios(aws: Any, table: Any) -> list[Scenario]:
    """The catalogue (with aws and table None, for their names only)."""

    def start(*uploads: tuple[str, datetime]) -> Callable[[], World]:
        def begin() -> World:
            aws.reset()
            aws.set_start_interval(0)  # Config accepts every ask at once: what is owed is what is asked or kept
            return one_account(aws, table, *uploads)

        return begin

    shop = (("Shop2013", OLD + timedelta(days=1)), ("Shop2020", datetime(2020, 1, 2, tzinfo=UTC)))
    return [
        Scenario(
            "one account: a reissue, then the 2013 certificate deleted",
            start(*shop),
            (
                Step("periodic", run=periodic()),
                Step("delete Shop2013", arrange=delete("Shop2013")),
                Step("periodic after the deletion", run=periodic()),
            ),
            (Step("final periodic", run=periodic()),),
            {"/Shop2020": "NON_COMPLIANT", "/Shop2013": "NOT_APPLICABLE"},
        ),
        organization(aws, table, "the 2013 account first"),
        organization(aws, table, "the recent account first"),
        Scenario(
            "an ACM import in a second Region",
            acm_start(aws, table),
            (
                Step("periodic", run=periodic()),
                Step("import Api2013 into ACM", arrange=acm_import),
                Step("ACM change event", run=acm_change),
                Step("periodic (asked)", run=periodic()),
            ),
            (Step("final periodic", run=periodic()), Step("final periodic there", run=periodic(region=SECOND_REGION))),
            {"/Api2020": "NON_COMPLIANT", "<acm Api2013>": "NON_COMPLIANT"},
        ),
        Scenario(
            "a change event whose key has another holder in the account",
            start(("ShopRecent", datetime(2024, 6, 2, tzinfo=UTC))),
            (
                Step("periodic", run=periodic()),
                Step("upload ShopRestored", arrange=upload("ShopRestored", datetime(2024, 7, 1, tzinfo=UTC))),
                Step("change event", run=change_event("ShopRestored")),
                Step("periodic (asked)", run=periodic()),
            ),
            (Step("final periodic", run=periodic()),),
            {"/ShopRecent": "NON_COMPLIANT", "/ShopRestored": "NON_COMPLIANT"},
        ),
        Scenario(
            "operator: ledger import of a 2013 backup",
            start(("Live2024", datetime(2024, 3, 2, tzinfo=UTC))),
            (
                Step("periodic", run=periodic(), faulted=False),
                Step("write the backup", arrange=backup),
                Step("ledger import", operator=True, run=command("ledger", "import", "{backup}", "--reason", "tape 7")),
                Step("periodic (asks what import queued)", run=periodic()),
            ),
            (Step("final periodic", run=periodic()),),
            {"/Live2024": "NON_COMPLIANT"},
        ),
        Scenario(
            "operator: ledger forget of a key",
            start(*shop),
            (
                Step("periodic", run=periodic(), faulted=False),
                Step("delete Shop2013", arrange=delete("Shop2013")),
                Step("periodic after the deletion", run=periodic(), faulted=False),
                Step(
                    "ledger forget",
                    operator=True,
                    run=command("ledger", "forget", key_of("Shop2013"), "--reason", "test key", "--yes"),
                ),
                Step("periodic (asks what forget queued)", run=periodic()),
            ),
            (Step("final periodic", run=periodic()),),
            {"/Shop2020": "COMPLIANT", "/Shop2013": "NOT_APPLICABLE"},
        ),
    ]


def backup(world: World) -> None:
    folder = Path(tempfile.mkdtemp(prefix="backup"))
    cert = certificates()["Backup2013"]
    (folder / "live-2013.pem").write_text(cert.body)
    world.values["backup"] = str(folder)


def change_event(name: str) -> Callable[[World], str]:
    def run(world: World) -> str:
        item = events.configuration_item(name, world.values[name])
        token = world.aws.result_token(events.RULE_NAME)
        return handled(world, events.change_event(item, token, parameters(world)))

    return run


def acm_start(aws: AwsDouble, table: Table) -> Callable[[], World]:
    def begin() -> World:
        aws.reset()
        aws.set_start_interval(0)
        world = one_account(aws, table, ("Api2020", datetime(2020, 3, 2, tzinfo=UTC)))
        world.places.append((ACCOUNT_ID, SECOND_REGION))
        # One ledger in the home Region, named by its ARN (dynalite, which has no Regions, takes no ARN).
        world.values["ledger by ARN"] = table.on_the_double
        aws.result_token(events.RULE_NAME, ACCOUNT_ID, SECOND_REGION)  # the rule exists there too
        return world

    return begin


def acm_import(world: World) -> None:
    cert = certificates()["Api2013"]
    arn = world.aws.import_acm(cert.body, cert.private_key, region=SECOND_REGION)
    world.labels[arn] = "<acm Api2013>"
    world.values["acm"] = arn


def acm_change(world: World) -> str:
    item = events.acm_configuration_item(world.values["acm"], "api.example.com")
    token = world.aws.result_token(events.RULE_NAME, ACCOUNT_ID, SECOND_REGION)
    with function_in(SECOND_REGION):
        return handled(world, events.change_event(item, token, parameters(world)))


def organization_world(aws: AwsDouble, table: Table, count: int) -> World:
    """An organization of count members, each with the member execution role, and the central function's
    role (World.run_as); no certificates yet."""
    aws.reset()
    members = aws.organization(count)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    table.create()
    world = World(aws, table.name, table.client(), [(member, REGION) for member in members])
    world.labels |= {member: f"<member {index}>" for index, member in enumerate(members)}
    for member in members:
        create_roles(aws, "member-execution-role.yaml", member, CentralFunctionRoleArn=function_role)
        aws.set_start_interval(0, account=member)

    # One session of the function's role for every run, as a container keeps its credentials (new ones
    # each run would make the rule build a new botocore session each run: most of a play's time).
    got = aws.client("sts").assume_role(RoleArn=function_role, RoleSessionName="function")

    @contextmanager
    def central() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            use_credentials(patch, got["Credentials"])
            with enable_iam_authentication():
                yield

    world.run_as = central
    world.values["members"] = members
    return world


def restart(world: World, table: Table) -> World:
    """The same organization again without building it anew: the rule's runs write only the ledger and
    Config's rows and re-evaluations, so those are made empty again."""
    for account, region in world.places:
        state = evaluation_state(config_backends[account][region])
        for results in state.results.values():
            results.clear()
        state.started.clear()
        state.last_started.clear()
        state.calls.clear()
    table.recreate()
    world.table, world.dynamodb, world.started = table.name, table.client(), datetime.now(UTC)
    return world


def organization(aws: AwsDouble, table: Table, order: str) -> Scenario:
    """The organization route: member 0 holds a 2013 certificate, member 1 a 2024 one with its key."""

    built: dict[str, World] = {}  # per test: the test's double is reset once, at its start

    def begin() -> World:
        if "world" in built:
            return restart(built["world"], table)
        world = organization_world(aws, table, 2)
        world.labels[key_of("Member2013")] = "<key Member2013>"
        for index, (member, name) in enumerate(zip(world.values["members"], ("Member2013", "Member2024"), strict=True)):
            cert = certificates()[name]
            issued = OLD if index == 0 else datetime(2024, 9, 1, tzinfo=UTC)
            meta = aws.upload(name, cert.body, cert.private_key, uploaded=issued + timedelta(days=1), account=member)
            world.labels[meta["ServerCertificateId"]] = f"<id {name}>"
        built["world"] = world
        return world

    def member(index: int) -> Callable[[World], str]:
        def run(world: World) -> str:
            return periodic(world.values["members"][index])(world)

        return run

    first, second = Step("member 0 (2013)", run=member(0)), Step("member 1 (2024)", run=member(1))
    steps = (
        (first, second)
        if order == "the 2013 account first"
        else (second, first, Step("member 1 (asked)", run=member(1)))
    )
    final = (Step("final 0", run=member(0)), Step("final 1", run=member(1)))
    expected = {"/Member2013": "NON_COMPLIANT", "/Member2024": "NON_COMPLIANT"}
    return Scenario(f"an organization, {order}", begin, steps, final, expected)
