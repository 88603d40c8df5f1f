"""moto extension: SigV4 checks of REST GET requests, such as CloudFront ListDistributions.

Under IAM enforcement moto recomputes each request's signature. For a GET without a body it
hashes the request's parsed parameters as the payload, where SigV4 (and botocore) hash the
empty body, so every such request failed with SignatureDoesNotMatch. A GET's payload is its
(empty) body: the query string is signed from the URL.
"""

from __future__ import annotations

from botocore.awsrequest import AWSRequest
from moto.iam.access_control import IAMRequestBase

_original = IAMRequestBase._create_aws_request


def _create_aws_request(self: IAMRequestBase) -> AWSRequest:
    request = _original(self)
    if self._method in ("GET", "HEAD") and not self._body:
        request.data = b""
    return request


def install() -> None:
    IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign]
