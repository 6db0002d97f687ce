"""The platform's SSH client key, kept encrypted in the database so every worker replica and every
rebuilt container uses the same key, and compared with the EC2 key pair before a worker starts.

- `load_platform_key(legacy_path)` returns the stored key, creating it once. A deployment that still
  has the old key file at SSH_PRIVATE_KEY_PATH (and nothing stored yet) has that key imported, so
  its running instances stay reachable. Two replicas racing at first start end with ONE key: the
  unique name makes the loser read the winner's row.
- `key_pair_matches(...)` is the pure comparison with what EC2 says about the key pair: the public
  key when EC2 returns it (`IncludePublicKey`), otherwise its fingerprint (AWS: SHA-256 base64 of
  the OpenSSH blob for ed25519, MD5 of the DER key for imported RSA; moto: hex SHA-256 of the DER key).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from cryptography.hazmat.primitives import serialization
from tortoise.exceptions import IntegrityError

from models import PlatformKey
from services.cloud.host_keys import KEY_ALGORITHM, public_key_line
from services.infra.operator_errors import OperatorError

log = logging.getLogger(__name__)

SSH_CLIENT_KEY = "ssh-client"


class PlatformKeyMismatch(OperatorError):
    """The EC2 key pair holds another public key than the platform's: instances launched with it
    would refuse our SSH. The message says what to do; it never holds key material."""


@dataclass(frozen=True)
class PlatformSshKey:
    private: asyncssh.SSHKey
    public_openssh: str  # `ssh-ed25519 AAAA… comment`

    @property
    def fingerprint(self) -> str:
        """OpenSSH's `SHA256:…` fingerprint (what `ssh-keygen -lf` prints)."""
        return openssh_fingerprint(self.public_openssh)

    def __repr__(self) -> str:  # the private half never prints
        return f"PlatformSshKey({self.fingerprint})"


def _blob(public_openssh: str) -> bytes:
    parts = public_openssh.strip().split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key line")
    return base64.b64decode(parts[1])


def openssh_fingerprint(public_openssh: str) -> str:
    digest = hashlib.sha256(_blob(public_openssh)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def ec2_fingerprints(public_openssh: str) -> set[str]:
    """Every spelling EC2 (or moto) may report for this key's fingerprint, normalised."""
    blob = _blob(public_openssh)
    der = serialization.load_ssh_public_key(public_openssh.strip().encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sha_b64 = base64.b64encode(hashlib.sha256(blob).digest()).decode()
    return {
        _normal(value)
        for value in (
            sha_b64,
            "SHA256:" + sha_b64.rstrip("="),
            hashlib.sha256(der).hexdigest(),
            hashlib.md5(der, usedforsecurity=False).hexdigest(),
        )
    }


def _normal(fingerprint: str) -> str:
    value = fingerprint.strip()
    if value.upper().startswith("SHA256:"):
        value = value[7:]
    if ":" in value:  # hex with colons
        return value.replace(":", "").lower()
    return value.rstrip("=")


def key_pair_matches(public_openssh: str, *, ec2_public_key: str | None, ec2_fingerprint: str | None) -> bool:
    """Whether the EC2 key pair holds this public key (comment ignored)."""
    if ec2_public_key:
        return _blob(ec2_public_key) == _blob(public_openssh)
    if ec2_fingerprint:
        return _normal(ec2_fingerprint) in ec2_fingerprints(public_openssh)
    return False


def mismatch_message(key_name: str, our_fingerprint: str, their_fingerprint: str) -> str:
    return (
        f"EC2 key pair {key_name!r} does not hold this deployment's platform SSH key "
        f"(EC2 has fingerprint {their_fingerprint}, the database has {our_fingerprint}). Instances "
        f"launched with it would refuse our SSH, so the worker does not start. If the platform key "
        f"was rotated on purpose, run `python main.py instances network --rotate-key` to import the "
        f"stored key into EC2; if another deployment owns that key pair, set EC2_KEY_NAME to a name "
        f"of your own."
    )


def _from_row(row: PlatformKey) -> PlatformSshKey:
    return PlatformSshKey(asyncssh.import_private_key(row.private_openssh), row.public_openssh)


def _read_legacy(path: str | None) -> asyncssh.SSHKey | None:
    if not path or not Path(path).is_file():
        return None
    try:
        return asyncssh.read_private_key(path)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ValueError(
            f"SSH_PRIVATE_KEY_PATH={path} is not a readable unencrypted OpenSSH private key: {exc}"
        ) from None


async def load_platform_key(legacy_path: str | None = None) -> PlatformSshKey:
    """The platform SSH key from the database, created (or imported from `legacy_path`) once."""
    row = await PlatformKey.get_or_none(name=SSH_CLIENT_KEY)
    if row is not None:
        return _from_row(row)
    key = _read_legacy(legacy_path)
    source = f"imported from {legacy_path}" if key is not None else "generated"
    if key is None:
        key = asyncssh.generate_private_key(KEY_ALGORITHM, comment="meetmatt-platform")
    try:
        row = await PlatformKey.create(
            name=SSH_CLIENT_KEY,
            private_openssh=key.export_private_key("openssh").decode(),
            public_openssh=public_key_line(key),
        )
    except IntegrityError:  # another replica stored its key first: use that one
        row = await PlatformKey.get(name=SSH_CLIENT_KEY)
        return _from_row(row)
    stored = _from_row(row)
    log.info(
        "platform SSH key stored in the database", extra={"source": source, "fingerprint": stored.fingerprint}
    )
    return stored


async def replace_platform_key(key: asyncssh.SSHKey | None = None) -> PlatformSshKey:
    """Store a new platform key (a fresh one unless given). Instances keep trusting the old one."""
    key = key or asyncssh.generate_private_key(KEY_ALGORITHM, comment="meetmatt-platform")
    row, _ = await PlatformKey.get_or_create(
        name=SSH_CLIENT_KEY, defaults={"private_openssh": "", "public_openssh": ""}
    )
    row.private_openssh = key.export_private_key("openssh").decode()
    row.public_openssh = public_key_line(key)
    await row.save()
    return _from_row(row)
