"""moto extension: DescribeListeners shows a listener's default certificate only, as ELBv2 does.

ELBv2 API Reference: the Listener data type's Certificates is "[HTTPS or TLS listener] The default
certificate for the listener", and DescribeListenerCertificates "describes the default certificate
and the certificate list" (the extra, SNI certificates, with IsDefault). moto 5.2 lists the whole
certificate list in DescribeListeners, so a user finder that skipped DescribeListenerCertificates
would still find a listener's extra certificates here and never in AWS. moto keeps the default
first in its list, as its own DescribeListenerCertificates assumes.
"""

from __future__ import annotations

from typing import Any, cast

from moto.core.responses import ActionResult
from moto.elbv2.responses import ELBV2Response

_original_describe_listeners = ELBV2Response.describe_listeners


class _AsDescribed:
    """A listener as DescribeListeners shows it: every attribute, but only the default certificate."""

    def __init__(self, listener: Any) -> None:
        self._listener = listener

    def __getattr__(self, name: str) -> Any:
        return getattr(self._listener, name)

    @property
    def certificates(self) -> list[str]:
        return list(self._listener.certificates[:1])


def _describe_listeners(self: ELBV2Response) -> ActionResult:
    result = cast(dict[str, Any], _original_describe_listeners(self).result)
    return ActionResult({**result, "Listeners": [_AsDescribed(listener) for listener in result["Listeners"]]})


def install() -> None:
    ELBV2Response.describe_listeners = _describe_listeners  # type: ignore[method-assign]
