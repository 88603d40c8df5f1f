"""moto extension: ACM certificates listed and authorized as ACM does.

- ACM API Reference, Filters (keyTypes): "Default filtering returns only RSA_1024 and
  RSA_2048 certificates"; other key types are listed only when keyTypes names them.
  moto 5.2 lists every certificate when no filter is given.
- IAM policy enforcement sees the certificate ARN as the resource of a request that
  names one (GetCertificate, DescribeCertificate...), so resource-scoped statements match;
  moto 5.2 checks every ACM request against "*".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend, CertBundle
from moto.acm.responses import AWSCertificateManagerResponse

DEFAULT_KEY_TYPES = ["RSA_1024", "RSA_2048"]
_original = AWSCertificateManagerBackend.list_certificates


def _list_certificates(
    self: AWSCertificateManagerBackend, statuses: list[str], includes: dict[str, Any]
) -> Iterable[CertBundle]:
    if not (includes or {}).get("keyTypes"):
        includes = {**(includes or {}), "keyTypes": DEFAULT_KEY_TYPES}
    return _original(self, statuses, includes)


def _determine_resource(self: AWSCertificateManagerResponse) -> str:
    arn = self._get_param("CertificateArn")
    return str(arn) if arn else "*"  # moto's own default for a service without the hook


def install() -> None:
    AWSCertificateManagerBackend.list_certificates = _list_certificates  # type: ignore[method-assign]
    AWSCertificateManagerResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]
