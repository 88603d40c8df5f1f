"""What `heartbleed-audit ledger import` reads from files: certificates and public keys, as evidence.

Pure apart from reading the files: no AWS. A file is read whole or not at all: one block that does not
parse skips the file, so nothing partial of it reaches the ledger. Private keys in a file (a backup
often keeps the key beside its certificate) are passed over and never echoed; messages name files,
fingerprints and dates only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from heartbleed.certificate import BodyError, read_body, refused_by_parser

MAX_FILE_BYTES = 1 << 20  # far above any PEM bundle; a larger file (an archive, say) is not read
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
CERTIFICATE, PUBLIC_KEY = "CERTIFICATE", "PUBLIC KEY"


class UnreadablePath(ValueError):
    """An import path that does not exist or cannot be read (bad input: the command writes nothing)."""


@dataclass(frozen=True)
class Found:
    """One certificate or public key from a file, as evidence against its key."""

    name: str  # the file's name, and "[n]" for the n-th block of a bundle
    kind: str  # CERTIFICATE or PUBLIC_KEY
    key: str  # SHA-256 of the DER SubjectPublicKeyInfo
    content_id: str  # the same certificate (or key) from any file gets the same ledger item
    not_before: datetime | None  # None for a bare public key: the operator gives the date


@dataclass(frozen=True)
class FileEvidence:
    path: Path
    found: tuple[Found, ...] = ()
    skipped: str | None = None  # why nothing of the file is imported


def files_under(paths: Sequence[str]) -> list[Path]:
    """Every file named or under a named directory (recursively), sorted; UnreadablePath names the first bad one."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise UnreadablePath(f"import path {text!r} does not exist")
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise UnreadablePath(f"import path {text!r} is a directory that cannot be read")
            inner = sorted(p for p in path.rglob("*") if p.is_file() or (p.is_symlink() and not p.exists()))
        else:
            inner = [path]
        for file in inner:
            if not file.exists():
                raise UnreadablePath(f"import path {str(file)!r} is a link to nothing")
            if not os.access(file, os.R_OK):
                raise UnreadablePath(f"import path {str(file)!r} cannot be read (permission denied)")
        found += inner
    return list(dict.fromkeys(found))  # a file named twice is read once


def _public_key(der: bytes) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

    try:
        spki = load_der_public_key(der).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except BaseException as error:  # only the parser's refusals are caught (see refused_by_parser)
        if not refused_by_parser(error):
            raise
        raise BodyError(f"not a public key ({type(error).__name__})") from None
    return hashlib.sha256(spki).hexdigest()


def _blocks(data: bytes) -> Iterator[tuple[str, bytes]]:
    for match in _BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        if label in (CERTIFICATE, PUBLIC_KEY):
            yield label, match.group(0)


def read_file(path: Path) -> FileEvidence:
    """The certificates and public keys of one PEM file or bundle, or why it is skipped."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return FileEvidence(path, skipped=f"larger than {MAX_FILE_BYTES} bytes: not a PEM file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadablePath(f"import path {str(path)!r} cannot be read ({error.strerror})") from None
    blocks = list(_blocks(data))
    if not blocks:
        return FileEvidence(path, skipped="holds no PEM certificate or public key")
    found = []
    for number, (label, pem) in enumerate(blocks, 1):
        name = path.name if len(blocks) == 1 else f"{path.name} [{number}]"
        try:
            if label == CERTIFICATE:
                facts = read_body(pem.decode("ascii"))
                der = base64.b64decode(b"".join(pem.splitlines()[1:-1]), validate=True)
                content = "sha256:" + hashlib.sha256(der).hexdigest()
                found.append(Found(name, label, facts.key_fingerprint, content, facts.not_before))
            else:
                der = base64.b64decode(b"".join(pem.splitlines()[1:-1]), validate=True)
                key = _public_key(der)
                found.append(Found(name, label, key, "spki:" + key, None))
        except (BodyError, binascii.Error, UnicodeDecodeError) as error:
            reason = str(error) if isinstance(error, BodyError) else "not valid PEM"
            return FileEvidence(path, skipped=f"block {number} ({label}) cannot be read: {reason}")
    return FileEvidence(path, tuple(found))
