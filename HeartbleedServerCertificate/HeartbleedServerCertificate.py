"""AWS Config rule HeartbleedServerCertificate (rdklib).

Finds IAM server certificates and ACM imported certificates whose private keys
may have leaked through Heartbleed (CVE-2014-0160, disclosed 7 April 2014) and
reports one evaluation per certificate, under its ARN: AWS::IAM::ServerCertificate
in the home Region (the HomeRegion parameter; IAM is global), and the Region's own
AWS::ACM::Certificate in every Region the rule is deployed in. Certificates ACM
issued (its keys) are NOT_APPLICABLE.

Triggers:
  ScheduledNotification            every certificate in the account is evaluated
  ConfigurationItemChangeNotification (and Oversized)
                                   the changed certificate is evaluated; a deleted
                                   or out-of-scope one becomes NOT_APPLICABLE; an IAM
                                   one outside the home Region gets no row
Scenarios and verdicts: heartbleed/verdict.py. Parameters: heartbleed/parameters.py.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from rdklib import ConfigRule, Evaluation, Evaluator, InvalidParametersError

from heartbleed.account import Assessment, assess
from heartbleed.clients import install_client_defaults
from heartbleed.configuration_item import (
    ACM_RESOURCE_TYPE,
    RESOURCE_TYPE,
    RESOURCE_TYPES,
    gone_reason,
    identity,
    resource_type,
)
from heartbleed.container import WarmContainer
from heartbleed.deadline import NO_DEADLINE, Deadline
from heartbleed.earlier_evaluations import reported_resources
from heartbleed.event_document import EventError, check_event
from heartbleed.organization_guard import Refused, check_account, check_origin, organization_rule
from heartbleed.parameters import ParameterError, RuleParameters, parse_rule_parameters
from heartbleed.retry_policy import retried_by_lambda
from heartbleed.run_log import log_summary, start_tally, summary, tally_ledger
from heartbleed.verdict import Verdict, not_applicable

LOG = logging.getLogger(__name__)
RETIRED = {
    RESOURCE_TYPE: "Not in IAM at the periodic run: the certificate was deleted or renamed.",
    ACM_RESOURCE_TYPE: "Not in ACM in this Region at the periodic run: the certificate was deleted.",
}
RETIRED_ELSEWHERE = "Not reported here: the rule reports IAM server certificates in its HomeRegion {home}."
GONE = {
    RESOURCE_TYPE: "The certificate no longer exists in IAM.",
    ACM_RESOURCE_TYPE: "The certificate no longer exists in ACM in this Region.",
}
# What this Lambda container keeps between invocations (heartbleed/container.py); a cold start, a new one.
CONTAINER = WarmContainer()


def new_container() -> WarmContainer:
    """Start this module over as a cold container would: nothing read, registered or built is kept (the
    tests' cold start; Lambda gets one by starting a new interpreter)."""
    global CONTAINER
    CONTAINER = WarmContainer()
    return CONTAINER


def to_evaluation(verdict: Verdict) -> Evaluation:
    return Evaluation(
        complianceType=verdict.compliance.value,  # the same strings as rdklib's ComplianceType
        resourceId=verdict.arn,
        resourceType=resource_type(verdict.arn),
        annotation=verdict.annotation,
    )


def rule_region(event: dict[str, Any]) -> str:
    """The Region the rule runs in: its ARN's (an organization rule's too), else the function's."""
    parts = str(event.get("configRuleArn", "")).split(":")
    return parts[3] if len(parts) > 3 and parts[3] else os.environ.get("AWS_REGION", "")


def retired(kind: str, arn: str, params: RuleParameters, region: str) -> Evaluation:
    """NOT_APPLICABLE for an earlier row of a certificate the periodic run no longer reports."""
    elsewhere = kind == RESOURCE_TYPE and not params.reports_iam(region)
    reason = (
        RETIRED_ELSEWHERE.format(home=params.home_region) if elsewhere else RETIRED.get(kind, RETIRED[RESOURCE_TYPE])
    )
    return Evaluation("NOT_APPLICABLE", arn, kind, reason)


class HeartbleedServerCertificate(ConfigRule):  # type: ignore[misc]
    # The periodic run retires stale rows itself (evaluate_periodic), in parallel with the IAM reads.
    delete_old_evaluations_on_scheduled_notification = False

    def __init__(self, deadline: Deadline = NO_DEADLINE, container: WarmContainer | None = None) -> None:
        super().__init__()
        self.deadline = deadline
        self.container = WarmContainer() if container is None else container  # none given: a cold one

    def _assess(
        self, event: dict[str, Any], client_factory: Any, params: RuleParameters, changed_only: bool
    ) -> Assessment:
        """The account's verdicts (IAM's in the home Region, and this Region's ACM certificates); with a
        key ledger, recorded, judged with it, and propagated."""
        region = rule_region(event)
        iam = client_factory.build_client("iam") if params.reports_iam(region) else None
        acm = [client_factory.build_client("acm", region)]
        if not params.ledger_table:
            return assess(iam, params, self.container, self.deadline, acm=acm)
        # The key ledger's modules are imported only when it is configured: a lean start (docs/lean-start.md).
        from heartbleed.ledger import LedgerRun, RuleRegistration, open_ledger
        from heartbleed.ledger.propagation import config_clients, propagate, register

        account = str(event["accountId"])
        ledger = open_ledger(params.ledger_table)
        run = LedgerRun(ledger, account, cutoff=params.cutoff, changed_only=changed_only, region=region)
        assessment = assess(iam, params, self.container, self.deadline, ledger=run, acm=acm)
        role = self.get_execution_role_arn(event) if self.get_assume_role_mode(event) else ""
        own = RuleRegistration(account, region, str(event["configRuleName"]), role)
        register(ledger, own, self.container.registrations)
        clients = config_clients(account, lambda where: client_factory.build_client("config", where))
        findings = assessment.findings
        assert findings is not None  # assess was given the ledger
        done = propagate(ledger, findings, own, clients, run.owner, self.deadline)
        tally_ledger({**done.counts(), "repaired": len(findings.repaired)})
        return assessment

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> RuleParameters:
        try:
            return parse_rule_parameters(rule_parameters)
        except ParameterError as error:
            raise InvalidParametersError(str(error)) from error

    def evaluate_periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: RuleParameters
    ) -> list[Evaluation]:
        with retried_by_lambda():
            return self._periodic(event, client_factory, valid_rule_parameters)

    def _periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: RuleParameters
    ) -> list[Evaluation]:
        config = client_factory.build_client("config")
        # A TESTMODE run (rdklib's convention for local runs) stores nothing, so it retires nothing.
        test_mode = event["resultToken"] == "TESTMODE"
        with ThreadPoolExecutor(max_workers=1) as background:
            earlier = None if test_mode else background.submit(reported_resources, config, event["configRuleName"])
            verdicts = self._assess(event, client_factory, valid_rule_parameters, changed_only=False).verdicts
            # If the earlier rows cannot be read, this raises and nothing is sent.
            stale = earlier.result() if earlier else {}
        self.deadline.check("before reporting")
        evaluations = [to_evaluation(verdict) for verdict in verdicts]
        for evaluation in evaluations:
            stale.pop(evaluation.complianceResourceId, None)
        # Rows of certificates that are gone become NOT_APPLICABLE, as rdklib's own clean-up does.
        region = rule_region(event)
        return evaluations + [retired(kind, arn, valid_rule_parameters, region) for arn, kind in sorted(stale.items())]

    def evaluate_change(
        self,
        event: dict[str, Any],
        client_factory: Any,
        configuration_item: dict[str, Any],
        valid_rule_parameters: RuleParameters,
    ) -> list[Evaluation]:
        with retried_by_lambda():
            # The execution role is assumed here, where a refusal is retried, on every path: a deleted
            # item's path reads nothing, and rdklib would otherwise assume it first to report the row.
            client_factory.build_client("config")
            certificate = identity(configuration_item)
            if certificate.resource_type == RESOURCE_TYPE and not valid_rule_parameters.reports_iam(rule_region(event)):
                return []  # IAM's rows belong to the rule in the home Region
            # rdklib would report a deleted item under Config's resourceId; we keep the ARN row.
            reason = gone_reason(configuration_item, bool(event.get("eventLeftScope")))
            if reason is None:
                # Key reuse is an account-wide question, so the whole account is assessed.
                assessment = self._assess(event, client_factory, valid_rule_parameters, changed_only=True)
                verdicts = {v.arn: v for v in assessment.verdicts}
                verdict = verdicts.get(certificate.arn) or not_applicable(
                    certificate.name, certificate.arn, GONE[certificate.resource_type]
                )
                self.deadline.check("before reporting")
            else:
                verdict = not_applicable(certificate.name, certificate.arn, reason)
            return [to_evaluation(verdict)]


REFUSED_BY_GUARD = "The event was refused: not the organization's rule, or not a member of the organization"


def refusal(code: str, message: str, internal: str = "The event was refused before evaluation") -> dict[str, Any]:
    """An error response in rdklib's shape: Config shows customerErrorMessage to the user."""
    return {
        "internalErrorMessage": internal,
        "internalErrorDetails": message,
        "customerErrorCode": code,
        "customerErrorMessage": message,
    }


def handle(event: Any, context: Any, container: WarmContainer) -> Any:
    """Check the event, then let rdklib run the rule on it, in the container given."""
    try:
        _, parameters = check_event(event)
    except EventError as error:
        return refusal("InvalidEventDocument", str(error))
    try:
        # Checked here too: rdklib reads its own parameters (AssumeRoleMode...) before evaluate_parameters.
        params = parse_rule_parameters(parameters)
    except ParameterError as error:
        return refusal("InvalidParameterValueException", str(error))
    # Before any role is assumed, anything read or the ledger written: an organization rule's function
    # serves its own organization's copies of its rule only (heartbleed/organization_guard.py).
    try:
        served = organization_rule()
        if served is not None:
            check_origin(event, served)
        check_account(str(event.get("accountId", "")), context, container.members)
    except Refused as error:
        return refusal("AccessDeniedException", str(error), REFUSED_BY_GUARD)
    # rdklib parses ruleParameters itself: give it the checked object (a blank string means none).
    event = {**event, "ruleParameters": json.dumps(parameters)}
    rule = HeartbleedServerCertificate(Deadline(context), container)
    # is_applicable_status=True: deleted and out-of-scope items reach evaluate_change,
    # which reports them under the certificate ARN instead of Config's resourceId.
    evaluator = Evaluator(rule, list(RESOURCE_TYPES), is_applicable_status=True)
    try:
        result = evaluator.handle(event, context)
    except Exception as error:
        note_run(params, event, f"{type(error).__name__}: {error}")
        raise
    if isinstance(result, list):
        note_run(params, event, None)
    else:
        note_run(params, event, f"{result.get('customerErrorCode')}: {result.get('customerErrorMessage')}")
    return result


def note_run(params: RuleParameters, event: dict[str, Any], failure: str | None) -> None:
    """Record in the key ledger, if there is one, that this account's run here succeeded or failed
    (heartbleed-audit ledger show --accounts). Never fails the run: the evaluations are already sent,
    or the run's own error is the one to report."""
    if not params.ledger_table:
        return
    from heartbleed.ledger import LedgerError, open_ledger  # with a key ledger only (docs/lean-start.md)

    account, rule, region = str(event["accountId"]), str(event["configRuleName"]), rule_region(event)
    try:
        open_ledger(params.ledger_table).note_run(account, region, rule, datetime.now(UTC), failure)
    except LedgerError as error:
        LOG.warning("the run of %s in %s (%s) was not recorded in the key ledger: %s", rule, account, region, error)


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    started = time.monotonic()
    container = CONTAINER  # this invocation's, even if a test starts the module over meanwhile
    calls = install_client_defaults(container.sdk)
    start_tally()
    try:
        result = handle(event, context, container)
    except Exception as error:  # logged, then raised: the invocation fails loudly
        elapsed = (time.monotonic() - started) * 1000
        log_summary(summary(event, "failed", None, calls, elapsed, f"{type(error).__name__}: {error}"))
        raise
    elapsed = (time.monotonic() - started) * 1000
    if isinstance(result, list):
        log_summary(summary(event, "ok", result, calls, elapsed))
    else:
        # rdklib's details name the failing operation ("... when calling the X operation").
        detail = result.get("internalErrorDetails") or result.get("customerErrorMessage")
        # A refusal by the guard is its own outcome, so that it can be counted apart from failures.
        outcome = "refused" if result.get("internalErrorMessage") == REFUSED_BY_GUARD else "error"
        log_summary(summary(event, outcome, None, calls, elapsed, f"{result.get('customerErrorCode')}: {detail}"))
    return result
