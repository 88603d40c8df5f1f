"""What a warm Lambda container keeps between invocations, as one object.

Lambda runs invocations one after another in a container it keeps warm, and a module's objects
live as long as the container. The handler module (HeartbleedServerCertificate.py) owns one
WarmContainer and passes it down to what reads or fills it; a cold start begins with an empty one.
The CLI makes its own (one per audit); a benchmark container is a fresh interpreter, so it starts with the
handler's empty one; each test that wants a cold container makes a new one (new_container).

Everything kept is either unchanging for its key (a body, a registration) or checked before use
(the member list is read again for an account it lacks; the SDK session is rebuilt when its
environment changes), so a warm invocation decides nothing a cold one would decide differently:
it only reads less.

This module is imported by the handler at its start: it stays free of boto3 and cryptography.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .run_log import APICalls

if TYPE_CHECKING:
    import boto3.session
    import botocore.session

    from .certificate import BodyFacts, CertificateMetadata
    from .pacing import TakenOver

# (ARN, certificate id) of one upload: IAM gives every upload a new ServerCertificateId, and an ACM
# re-import a new ImportedAt, so a body never changes for one key.
BodyKey = tuple[str, str]
# (table, account, Region, rule, role): a rule's registration in a key ledger.
Registration = tuple[str, str, str, str, str]
BODY_CACHE_LIMIT = 5000


@dataclass(eq=False)  # one container's own: compared by identity
class Bodies:
    """The bodies read, keyed by ARN (which names the account) and certificate id. Bounded."""

    read: dict[BodyKey, BodyFacts] = field(default_factory=dict)
    limit: int = BODY_CACHE_LIMIT

    def remember(self, meta: CertificateMetadata, body: BodyFacts) -> None:
        if meta.certificate_id is None:
            return
        if len(self.read) >= self.limit:
            self.read.clear()  # rare (several accounts at the raised quota): start over, stay bounded
        self.read[(meta.arn, meta.certificate_id)] = body

    def get(self, key: BodyKey) -> BodyFacts | None:
        return self.read.get(key)


@dataclass(eq=False)
class Members:
    """The organization's member list, and when it was last read for each account it lacked
    (heartbleed/organization_guard.py)."""

    accounts: frozenset[str] = frozenset()
    read_for: dict[str, float] = field(default_factory=dict)  # unknown account -> monotonic time of its read
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class SdkSession:
    """The SDK session rdklib's clients come from, the environment it was built from, and the current
    invocation's call counter (heartbleed/clients.py). Built once per container: a new session loads
    and resolves the service models again."""

    session: boto3.session.Session | None = None
    botocore_session: botocore.session.Session | None = None
    environment: tuple[str | None, ...] = ()
    calls: APICalls = field(default_factory=APICalls)

    def on_call(self, **kwargs: Any) -> None:
        self.calls.on_call(**kwargs)

    def on_send(self, **kwargs: Any) -> None:
        self.calls.on_send(**kwargs)


@dataclass(eq=False)
class WarmContainer:
    """Everything one container keeps: a new one is a cold start."""

    bodies: Bodies = field(default_factory=Bodies)
    registrations: set[Registration] = field(default_factory=set)  # written once per container, not per run
    members: Members = field(default_factory=Members)
    sdk: SdkSession = field(default_factory=SdkSession)
    # The clients whose retry handler a pace took over (heartbleed/pacing.py); clients die with their run.
    paced_clients: TakenOver = field(default_factory=weakref.WeakKeyDictionary)
