"""AWS Config rule HeartbleedServerCertificate (rdklib).

Finds IAM server certificates whose private keys may have leaked through
Heartbleed (CVE-2014-0160, disclosed 7 April 2014) and reports one evaluation
per certificate, under its ARN, for AWS::IAM::ServerCertificate.

Triggers:
  ScheduledNotification            every certificate in the account is evaluated
  ConfigurationItemChangeNotification (and Oversized)
                                   the changed certificate is evaluated; a deleted
                                   or out-of-scope one becomes NOT_APPLICABLE
Scenarios and verdicts: heartbleed/verdict.py. Parameters: heartbleed/parameters.py.
"""

from __future__ import annotations

from typing import Any

from rdklib import ConfigRule, Evaluation, Evaluator, InvalidParametersError

from heartbleed.account import assess_account
from heartbleed.clients import install_client_defaults
from heartbleed.configuration_item import RESOURCE_TYPE, gone_reason, identity
from heartbleed.parameters import ParameterError, RuleParameters, parse_rule_parameters
from heartbleed.verdict import Verdict, not_applicable


def to_evaluation(verdict: Verdict) -> Evaluation:
    return Evaluation(
        complianceType=verdict.compliance.value,  # the same strings as rdklib's ComplianceType
        resourceId=verdict.arn,
        resourceType=RESOURCE_TYPE,
        annotation=verdict.annotation,
    )


class HeartbleedServerCertificate(ConfigRule):  # type: ignore[misc]
    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> RuleParameters:
        try:
            return parse_rule_parameters(rule_parameters)
        except ParameterError as error:
            raise InvalidParametersError(str(error)) from error

    def evaluate_periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: RuleParameters
    ) -> list[Evaluation]:
        # Every certificate must be here: rdklib marks NOT_APPLICABLE whatever a periodic run leaves out.
        iam = client_factory.build_client("iam")
        return [to_evaluation(verdict) for verdict in assess_account(iam, valid_rule_parameters)]

    def evaluate_change(
        self,
        event: dict[str, Any],
        client_factory: Any,
        configuration_item: dict[str, Any],
        valid_rule_parameters: RuleParameters,
    ) -> list[Evaluation]:
        certificate = identity(configuration_item)
        # rdklib would report a deleted item under Config's resourceId; we keep the ARN row.
        reason = gone_reason(configuration_item, bool(event.get("eventLeftScope")))
        if reason is None:
            # Key reuse is an account-wide question, so the whole account is assessed.
            iam = client_factory.build_client("iam")
            verdicts = {v.arn: v for v in assess_account(iam, valid_rule_parameters)}
            verdict = verdicts.get(certificate.arn) or not_applicable(
                certificate.name, certificate.arn, "The certificate no longer exists in IAM."
            )
        else:
            verdict = not_applicable(certificate.name, certificate.arn, reason)
        return [to_evaluation(verdict)]


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    install_client_defaults()
    rule = HeartbleedServerCertificate()
    # is_applicable_status=True: deleted and out-of-scope items reach evaluate_change,
    # which reports them under the certificate ARN instead of Config's resourceId.
    evaluator = Evaluator(rule, [RESOURCE_TYPE], is_applicable_status=True)
    return evaluator.handle(event, context)
