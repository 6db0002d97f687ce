"""SSH keys of the fleet: each instance's pinned ed25519 host key, and the platform's client key.

The platform generates an instance's host key before launch and hands it to cloud-init
(`ssh_keys`), so the very first SSH connection is already verified against a known key.
The platform's own client key pair is read from SSH_PRIVATE_KEY_PATH, or created there once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

KEY_ALGORITHM = "ssh-ed25519"


@dataclass(frozen=True)
class HostKeyPair:
    """An instance's host key in OpenSSH text form (the private half is stored encrypted)."""

    private_openssh: str
    public_openssh: str

    def __repr__(self) -> str:  # the private half never prints
        return f"HostKeyPair(public={self.public_openssh!r})"


def generate_host_key(comment: str = "meetmatt-instance") -> HostKeyPair:
    """A fresh ed25519 host key for one instance."""
    key = asyncssh.generate_private_key(KEY_ALGORITHM, comment=comment)
    return HostKeyPair(
        private_openssh=key.export_private_key("openssh").decode(),
        public_openssh=key.export_public_key("openssh").decode().strip(),
    )


def public_key_line(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA… comment` for a key (what EC2 ImportKeyPair and authorized_keys take)."""
    return key.export_public_key("openssh").decode().strip()


def load_or_create_client_key(path: str | os.PathLike[str]) -> asyncssh.SSHKey:
    """The platform's SSH client key: read it from `path`, or create it there (mode 0600) once.

    A `.pub` file with the public half is written beside a newly created key.
    """
    key_path = Path(path)
    if key_path.exists():
        try:
            return asyncssh.read_private_key(str(key_path))
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValueError(
                f"SSH_PRIVATE_KEY_PATH={key_path} is not a readable unencrypted OpenSSH private key: {exc}"
            ) from None
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key(KEY_ALGORITHM, comment="meetmatt-platform")
    # create with 0600 from the start: the key never exists world-readable, even briefly
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    key_path.with_name(key_path.name + ".pub").write_text(public_key_line(key) + "\n")
    return key


def load_public_key(text: str) -> asyncssh.SSHKey:
    """Parse one OpenSSH public key line, with a clear error naming what was wrong."""
    try:
        return asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ValueError(f"not an OpenSSH public key: {exc}") from None
