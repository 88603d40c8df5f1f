"""moto extension: ACM certificates listed and authorized as ACM does.

- ACM API Reference, Filters (keyTypes): "Default filtering returns only RSA_1024 and
  RSA_2048 certificates"; other key types are listed only when keyTypes names them.
  moto 5.2 lists every certificate when no filter is given.
- IAM policy enforcement sees the certificate ARN as the resource of a request that
  names one (GetCertificate, DescribeCertificate...), so resource-scoped statements match;
  moto 5.2 checks every ACM request against "*".
- A denial is answered as ACM answers it, a JSON AccessDeniedException (HTTP 400), so the SDK's
  error code is what the rule reads; moto sends an XML AccessDenied with HTTP 403, which a
  JSON-protocol client reads as the code "403".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend, CertBundle
from moto.acm.responses import AWSCertificateManagerResponse
from moto.core.exceptions import AccessDeniedError, AWSError

DEFAULT_KEY_TYPES = ["RSA_1024", "RSA_2048"]
_original = AWSCertificateManagerBackend.list_certificates
_original_authorize = AWSCertificateManagerResponse._authenticate_and_authorize_normal_action


class AccessDeniedException(AWSError):
    TYPE = "AccessDeniedException"


def _list_certificates(
    self: AWSCertificateManagerBackend, statuses: list[str], includes: dict[str, Any]
) -> Iterable[CertBundle]:
    if not (includes or {}).get("keyTypes"):
        includes = {**(includes or {}), "keyTypes": DEFAULT_KEY_TYPES}
    return _original(self, statuses, includes)


def _determine_resource(self: AWSCertificateManagerResponse) -> str:
    arn = self._get_param("CertificateArn")
    return str(arn) if arn else "*"  # moto's own default for a service without the hook


def _authorize(self: AWSCertificateManagerResponse, resource: str = "*") -> None:
    try:
        _original_authorize(self, resource)
    except AccessDeniedError as denied:
        raise AccessDeniedException(f"{denied.message} on resource: {resource}") from None


def install() -> None:
    AWSCertificateManagerBackend.list_certificates = _list_certificates  # type: ignore[method-assign]
    AWSCertificateManagerResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]
    response: Any = AWSCertificateManagerResponse
    response._authenticate_and_authorize_normal_action = _authorize
