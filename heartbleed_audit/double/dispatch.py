"""moto extension: memoize the server's host -> service lookup.

moto's DomainDispatcherApplication rescans its module list and URL patterns for
every request (about 1.5 ms each), which caps the server near 150 requests a
second; the answer for a host never changes, so it is computed once.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_original = DomainDispatcherApplication.get_backend_for_host
_known: dict[str | None, Any] = {}


def _get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    if host not in _known:
        _known[host] = _original(self, host)
    return _known[host]


def install() -> None:
    DomainDispatcherApplication.get_backend_for_host = _get_backend_for_host  # type: ignore[method-assign]
