"""What must never reach a log or a terminal: PEM blocks, base64 DER (certificates and keys), the session token."""

from __future__ import annotations

import re

SESSION_TOKEN_CANARY = "IQoJb3JpZ2luX2VjEheartbleedCANARYsessionTOKEN"
SECRETS = re.compile(rf"-----BEGIN|PRIVATE KEY|MII[A-Za-z0-9+/]{{40,}}|{SESSION_TOKEN_CANARY}")
