"""moto extension: AWS Config evaluations that are stored and can be read back.

moto 5.2 accepts PutEvaluations only in TestMode, stores nothing, refuses an
empty call (AWS accepts it) and has no GetComplianceDetailsByConfigRule, which
rdklib's periodic clean-up calls. This module adds:

- result tokens issued per rule (issue_result_token), as Config puts in events;
- PutEvaluations validated as the API model says, recorded in every mode, and
  applied to the rule's results unless TestMode (latest OrderingTimestamp wins);
- GetComplianceDetailsByConfigRule over those results, paginated;
- GetResourceConfigHistory for AWS::IAM::ServerCertificate, built from the IAM
  double, so oversized change notifications can be inflated;
- StartConfigRulesEvaluation (the Config API Reference: 1-25 rule names; LimitExceededException for
  a rule asked again within a minute, or still evaluating), recorded, so that a test can run what it
  asked for;
- the rule ARN as the resource that IAM policy enforcement checks for
  GetComplianceDetailsByConfigRule and StartConfigRulesEvaluation: config-rule/<id>, and for a member's
  copy of an organization rule (named OrgConfigRule-<name>-<suffix> by config-multiaccountsetup) the
  service-linked path config-rule/aws-service-rule/config-multiaccountsetup.amazonaws.com/<id>, under
  which AWS's own policy for that service (AWSConfigMultiAccountSetupPolicy) puts and deletes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.config.exceptions import InvalidParameterValueException
from moto.config.models import ConfigBackend, config_backends
from moto.config.responses import ConfigResponse
from moto.core.exceptions import JsonRESTError
from moto.iam.models import iam_backends

from .iam_server_certificates import metadata, state_of

RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")


class ConfigError(JsonRESTError):
    code = 400


@dataclass(frozen=True)
class StoredEvaluation:
    rule: str
    resource_type: str
    resource_id: str
    compliance_type: str
    annotation: str | None
    ordering_timestamp: datetime
    recorded: datetime


@dataclass(frozen=True)
class PutEvaluationsCall:
    result_token: str
    test_mode: bool
    evaluations: list[dict[str, Any]]


@dataclass(frozen=True)
class StartedEvaluation:
    rules: tuple[str, ...]
    at: datetime


@dataclass
class EvaluationState:
    tokens: dict[str, str] = field(default_factory=dict)  # result token -> rule name
    rule_ids: dict[str, str] = field(default_factory=dict)  # rule name -> config-rule-xxxxxx
    results: dict[str, dict[tuple[str, str], StoredEvaluation]] = field(default_factory=dict)
    calls: list[PutEvaluationsCall] = field(default_factory=list)
    reject_next: int = 0  # evaluations the next PutEvaluations calls answer as FailedEvaluations
    started: list[StartedEvaluation] = field(default_factory=list)
    last_started: dict[str, datetime] = field(default_factory=dict)
    start_interval_s: float = 60.0  # Config refuses a rule asked to evaluate again sooner than this


def evaluation_state(backend: ConfigBackend) -> EvaluationState:
    if not hasattr(backend, "evaluation_state"):
        backend.evaluation_state = EvaluationState()  # type: ignore[attr-defined]
    state: EvaluationState = backend.evaluation_state  # type: ignore[attr-defined]
    return state


def issue_result_token(account_id: str, region: str, rule_name: str) -> str:
    """A result token for one invocation of rule_name, as Config puts in its events."""
    state = evaluation_state(config_backends[account_id][region])
    token = f"double-token-{rule_name}-{len(state.tokens) + 1}"
    state.tokens[token] = rule_name
    state.results.setdefault(rule_name, {})
    state.rule_ids.setdefault(rule_name, f"config-rule-{len(state.rule_ids) + 1:06x}")
    return token


ORGANIZATION_COPY_PREFIX = "OrgConfigRule-"  # a member's copy of an organization rule
ORGANIZATION_COPY_PATH = "aws-service-rule/config-multiaccountsetup.amazonaws.com/"


def rule_path(rule_name: str, rule_id: str) -> str:
    """What follows config-rule/ in the rule's ARN: its id, under the service-linked path for an organization
    rule's copy (Config puts the id, not the name, in a rule's ARN)."""
    return (ORGANIZATION_COPY_PATH if rule_name.startswith(ORGANIZATION_COPY_PREFIX) else "") + rule_id


def _determine_resource(self: ConfigResponse) -> str:
    """The rule ARN (by rule id, as IAM matches it) for a request about one rule, else "*"."""
    action = self._get_action()
    if action == "GetComplianceDetailsByConfigRule":
        name = self._get_param("ConfigRuleName")
    elif action == "StartConfigRulesEvaluation":
        names = self._get_param("ConfigRuleNames") or []
        name = names[0] if len(names) == 1 else None
    else:
        return "*"
    rule_id = evaluation_state(self.config_backend).rule_ids.get(name) if name else None
    if name and rule_id:
        path = rule_path(name, rule_id)
        return f"arn:{self.partition}:config:{self.region}:{self.current_account}:config-rule/{path}"
    return "*"


def _timestamp(value: Any) -> datetime:
    # The JSON protocol sends timestamps as epoch seconds.
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _check(evaluation: dict[str, Any], index: int) -> None:
    where = f"evaluations.{index + 1}.member"
    if evaluation.get("ComplianceType") not in COMPLIANCE_TYPES:
        raise InvalidParameterValueException(
            f"Value '{evaluation.get('ComplianceType')}' at '{where}.complianceType' is not valid for a custom rule"
        )
    annotation = evaluation.get("Annotation")
    if annotation is not None and not 1 <= len(annotation) <= 256:
        raise ConfigError(
            "ValidationException",
            f"Value at '{where}.annotation' failed to satisfy constraint: Member must have length between 1 and 256",
        )
    for key, limit in (("ComplianceResourceId", 768), ("ComplianceResourceType", 256)):
        if not 1 <= len(evaluation.get(key) or "") <= limit:
            raise ConfigError("ValidationException", f"Value at '{where}.{key}' must have length between 1 and {limit}")
    if "OrderingTimestamp" not in evaluation:
        raise ConfigError("ValidationException", f"Value at '{where}.orderingTimestamp' must not be null")


def _put_evaluations(self: ConfigResponse) -> str:
    evaluations = self._get_param("Evaluations") or []
    token = self._get_param("ResultToken")
    test_mode = bool(self._get_param("TestMode"))
    if len(evaluations) > 100:
        raise ConfigError(
            "ValidationException",
            "Value at 'evaluations' failed to satisfy constraint: Member must have length less than or equal to 100",
        )
    for index, evaluation in enumerate(evaluations):
        _check(evaluation, index)
    state = evaluation_state(self.config_backend)
    if not token or (not test_mode and token not in state.tokens):
        raise ConfigError("InvalidResultTokenException", "The result token is invalid.")
    state.calls.append(PutEvaluationsCall(token, test_mode, list(evaluations)))
    # An injected partial failure: these come back in FailedEvaluations and are not stored.
    failed, evaluations = evaluations[: state.reject_next], evaluations[state.reject_next :]
    state.reject_next -= len(failed)
    if not test_mode:
        rule = state.tokens[token]
        now = datetime.now(UTC)
        results = state.results.setdefault(rule, {})
        for evaluation in evaluations:
            key = (evaluation["ComplianceResourceType"], evaluation["ComplianceResourceId"])
            stored = StoredEvaluation(
                rule,
                key[0],
                key[1],
                evaluation["ComplianceType"],
                evaluation.get("Annotation"),
                _timestamp(evaluation["OrderingTimestamp"]),
                now,
            )
            previous = results.get(key)
            # Config keeps the evaluation with the latest OrderingTimestamp.
            if previous is None or stored.ordering_timestamp >= previous.ordering_timestamp:
                results[key] = stored
    return json.dumps({"FailedEvaluations": failed})


def _get_compliance_details_by_config_rule(self: ConfigResponse) -> str:
    rule = self._get_param("ConfigRuleName")
    state = evaluation_state(self.config_backend)
    if rule not in state.results:
        raise ConfigError("NoSuchConfigRuleException", f"The ConfigRule '{rule}' provided in the request is invalid.")
    wanted = self._get_param("ComplianceTypes") or list(COMPLIANCE_TYPES)
    limit = int(self._get_param("Limit") or 100)
    if not 0 <= limit <= 100:
        raise ConfigError("InvalidLimitException", f"Value '{limit}' at 'limit' must be less than or equal to 100")
    limit = limit or 100
    start = int(self._get_param("NextToken") or 0)
    matching = sorted(
        (e for e in state.results[rule].values() if e.compliance_type in wanted),
        key=lambda e: (e.resource_type, e.resource_id),
    )
    page = matching[start : start + limit]
    body: dict[str, Any] = {
        "EvaluationResults": [
            {
                "EvaluationResultIdentifier": {
                    "EvaluationResultQualifier": {
                        "ConfigRuleName": e.rule,
                        "ResourceType": e.resource_type,
                        "ResourceId": e.resource_id,
                        "EvaluationMode": "DETECTIVE",
                    },
                    "OrderingTimestamp": e.ordering_timestamp.timestamp(),
                },
                "ComplianceType": e.compliance_type,
                "ResultRecordedTime": e.recorded.timestamp(),
                "ConfigRuleInvokedTime": e.recorded.timestamp(),
                **({"Annotation": e.annotation} if e.annotation else {}),
            }
            for e in page
        ]
    }
    if start + limit < len(matching):
        body["NextToken"] = str(start + limit)
    return json.dumps(body)


_original_history = ConfigResponse.get_resource_config_history


def configuration_item(account_id: str, name: str) -> dict[str, Any] | None:
    """The current configuration item of a server certificate, as GetResourceConfigHistory gives it."""
    backend = iam_backends[account_id]["aws"]
    state = state_of(backend)
    live = next((c for c in backend.certificates.values() if c.cert_name == name), None)
    cert = live or state.deleted.get(name)
    if cert is None:
        return None
    now = datetime.now(UTC).timestamp()
    item: dict[str, Any] = {
        "version": "1.3",
        "accountId": account_id,
        "configurationItemCaptureTime": now,
        "configurationItemStatus": "OK" if live else "ResourceDeleted",
        "configurationStateId": str(int(now * 1000)),
        "configurationItemMD5Hash": "",
        "arn": cert.arn,
        "resourceType": RESOURCE_TYPE,
        "resourceId": name,
        "resourceName": name,
        "awsRegion": "global",
        "availabilityZone": "Not Applicable",
        "tags": {},
        "relatedEvents": [],
        "relationships": [],
        "configuration": json.dumps(
            {"ServerCertificateName": name, "Path": cert.path, "Arn": cert.arn} if live else None
        ),
        "supplementaryConfiguration": {},
    }
    if live:
        item["resourceCreationTime"] = metadata(backend, cert)["UploadDate"].timestamp()
    return item


def _get_resource_config_history(self: ConfigResponse) -> str:
    if self._get_param("resourceType") != RESOURCE_TYPE:
        return str(_original_history(self))
    resource_id = self._get_param("resourceId")
    item = configuration_item(self.current_account, resource_id)
    if item is None:
        raise ConfigError(
            "ResourceNotDiscoveredException",
            f"Resource {resource_id} of resourceType:{RESOURCE_TYPE} is unknown or has not been discovered",
        )
    return json.dumps({"configurationItems": [item]})


def _start_config_rules_evaluation(self: ConfigResponse) -> str:
    names = list(self._get_param("ConfigRuleNames") or [])
    if not 1 <= len(names) <= 25:
        raise ConfigError(
            "ValidationException", "Value at 'configRuleNames' failed to satisfy constraint: length between 1 and 25"
        )
    state = evaluation_state(self.config_backend)
    unknown = [name for name in names if name not in state.results]
    if unknown:
        raise ConfigError(
            "NoSuchConfigRuleException", f"The ConfigRule '{unknown[0]}' provided in the request is invalid."
        )
    now = datetime.now(UTC)
    busy = [
        n
        for n in names
        if n in state.last_started and (now - state.last_started[n]).total_seconds() < state.start_interval_s
    ]
    if busy:
        raise ConfigError("LimitExceededException", f"An evaluation of {busy[0]} was started less than a minute ago.")
    state.last_started.update((name, now) for name in names)
    state.started.append(StartedEvaluation(tuple(names), now))
    return "{}"


def install() -> None:
    ConfigResponse.put_evaluations = _put_evaluations  # type: ignore[method-assign]
    ConfigResponse.get_compliance_details_by_config_rule = _get_compliance_details_by_config_rule  # type: ignore[attr-defined]
    ConfigResponse.get_resource_config_history = _get_resource_config_history  # type: ignore[method-assign]
    ConfigResponse.start_config_rules_evaluation = _start_config_rules_evaluation  # type: ignore[attr-defined]
    ConfigResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]
