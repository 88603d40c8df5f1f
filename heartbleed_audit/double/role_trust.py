"""moto extension: AssumeRole honours the role's trust policy in every account while IAM enforcement is on.

Under enforcement, moto 5.2 checks a trust policy only when the role is in the caller's
own account, and grants AssumeRole on a role that does not exist or that lives in
another account. IAM allows sts:AssumeRole only when the role exists and its trust
policy (the role's resource policy) names the caller as a principal (IAM User Guide,
"How IAM roles differ from resource-based policies" and "AWS JSON policy elements:
Principal"); otherwise STS answers AccessDenied "User: <caller> is not authorized to
perform: sts:AssumeRole on resource: <role>". Modelled here: Allow statements for
sts:AssumeRole whose principal is "*", the caller's account (ID or :root ARN) or the
caller's own ARN (an assumed-role session matches its role's ARN); Deny statements and
Conditions are left to moto's own check (same account) and not evaluated across accounts.
Enforced only under moto's IAM enforcement (enable_iam_authentication), where the caller
is known.

moto also ignores the conditions of the caller's own policy. One is evaluated here, for a caller
that is a role's session: aws:ResourceOrgID with StringEquals, the organization (in the double's
Organizations) of the account that owns the role, where ${aws:PrincipalOrgID} stands for the
caller's own organization (IAM User Guide, global condition context keys). The request is allowed
only if a statement that grants it has such conditions that hold, or none.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from moto import settings
from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends
from moto.sts.responses import TokenResponse

_original_assume_role = TokenResponse.assume_role
_ROLE = re.compile(r"arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):role/.+")
_SESSION = re.compile(r"arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+")


class AccessDenied(ServiceException):
    code = "AccessDenied"


def _enforcing() -> bool:
    return bool(float("inf") != settings.INITIAL_NO_AUTH_ACTION_COUNT)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _caller_names(arn: str, account: str) -> set[str]:
    """The principal values that name this caller in a trust policy."""
    partition = arn.split(":")[1]
    names = {"*", account, f"arn:{partition}:iam::{account}:root", arn}
    session = _SESSION.fullmatch(arn)
    if session:
        names.add(f"arn:{partition}:iam::{account}:role/{session['role']}")
    return names


def trusts(policy_document: str, caller_arn: str, caller_account: str) -> bool:
    names = _caller_names(caller_arn, caller_account)
    policy = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    for statement in _as_list(policy.get("Statement", [])):
        actions = {a.lower() for a in _as_list(statement.get("Action", []))}
        if statement.get("Effect") != "Allow" or not actions & {"sts:assumerole", "sts:*", "*"}:
            continue
        principal = statement.get("Principal", {})
        named = ["*"] if principal == "*" else _as_list(principal.get("AWS", []))
        if names & set(named):
            return True
    return False


def organization_of(account: str) -> str | None:
    """The id of the organization in the double's Organizations that holds the account, if any."""
    for per_account in list(organizations_backends.values()):
        for backend in list(per_account.values()):
            if backend.org is not None and any(member.id == account for member in backend.accounts):
                return str(backend.org.id)
    return None


def _grants(statement: dict[str, Any], role_arn: str) -> bool:
    actions = {a.lower() for a in _as_list(statement.get("Action", []))}
    resources = _as_list(statement.get("Resource", []))
    return (
        statement.get("Effect") == "Allow"
        and bool(actions & {"sts:assumerole", "sts:*", "*"})
        and any(fnmatch.fnmatchcase(role_arn, pattern) for pattern in resources)
    )


def _organization_conditions_hold(statement: dict[str, Any], role_org: str | None, caller_org: str | None) -> bool:
    for operator, pairs in statement.get("Condition", {}).items():
        for key, expected in pairs.items():
            if key.lower() != "aws:resourceorgid":
                continue
            values = [str(v).replace("${aws:PrincipalOrgID}", caller_org or "") for v in _as_list(expected)]
            if operator != "StringEquals" or role_org is None or role_org not in values:
                return False
    return True


def identity_allows(caller_arn: str, caller_account: str, role_arn: str) -> bool:
    """Whether the caller's role policies grant AssumeRole on role_arn with their organization conditions met;
    True when the caller is no role's session or no statement names the role (moto's own check decides)."""
    session = _SESSION.fullmatch(caller_arn)
    role_parts = _ROLE.fullmatch(role_arn)
    if session is None or role_parts is None:
        return True
    roles = iam_backends[caller_account][session["partition"]].get_roles()
    caller_role = next((r for r in roles if r.name == session["role"]), None)
    if caller_role is None:
        return True
    documents = [json.loads(d) if isinstance(d, str) else d for d in caller_role.policies.values()]
    documents += [
        json.loads(v.document) for p in caller_role.managed_policies.values() for v in p.versions if v.is_default
    ]
    granting = [s for d in documents for s in _as_list(d.get("Statement", [])) if _grants(s, role_arn)]
    if not granting:
        return True
    role_org, caller_org = organization_of(role_parts["account"]), organization_of(caller_account)
    return any(_organization_conditions_hold(s, role_org, caller_org) for s in granting)


def _assume_role(self: TokenResponse) -> Any:
    if _enforcing():
        role_arn = self._get_param("RoleArn")
        _, caller_arn, caller_account = self.backend.get_caller_identity(self.get_access_key(), self.region)
        parts = _ROLE.fullmatch(role_arn or "")
        roles = iam_backends[parts["account"]][parts["partition"]].get_roles() if parts else []
        role = next((r for r in roles if r.arn == role_arn), None)
        if (
            role is None
            or not trusts(role.assume_role_policy_document, caller_arn, caller_account)
            or not identity_allows(caller_arn, caller_account, role_arn)
        ):
            raise AccessDenied(
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
    return _original_assume_role(self)


def install() -> None:
    TokenResponse.assume_role = _assume_role  # type: ignore[method-assign]
