"""SSH to customer instances with asyncssh: pinned host keys only, deadlines, redacted logs.

`SshConnector.connect(host, host_key_public)` retries until the host answers or the deadline
passes, and refuses any host key other than the pinned one (no trust-on-first-use: the platform
generated the key and put it on the instance through cloud-init). The returned `SshSession` runs
commands with timeouts and uploads files through stdin, so file contents (secrets) never appear
on a command line or in a log.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from dataclasses import dataclass
from typing import Any

import asyncssh

from config import Settings
from services.cloud.host_keys import load_or_create_client_key, load_public_key
from services.infra.logging_setup import redact

log = logging.getLogger(__name__)

_OUTPUT_LOG_LIMIT = 2000


class SshError(RuntimeError):
    """Base of every SSH failure the services raise (messages never hold secrets)."""


class SshUnreachable(SshError):
    """The host did not accept an SSH connection before the deadline."""


class HostKeyMismatch(SshError):
    """The host presented a key other than the pinned one: the connection was refused."""


class SshAuthFailed(SshError):
    """The host refused the platform's client key."""


class CommandTimeout(SshError):
    """A remote command did not finish within its timeout."""


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class SshSession:
    """One open SSH connection to an instance. Use as an async context manager, or `close()`."""

    def __init__(self, conn: asyncssh.SSHClientConnection, label: str) -> None:
        self._conn = conn
        self.label = label

    async def __aenter__(self) -> SshSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._conn.close()
        try:
            await asyncio.wait_for(self._conn.wait_closed(), 5)
        except (TimeoutError, OSError):
            pass

    async def run(
        self, cmd: str, timeout: float = 30.0, *, input: str | None = None, log_output: bool = True
    ) -> CommandResult:
        """Run `cmd`; returns its exit status and output. Raises CommandTimeout after `timeout` s."""
        started = time.monotonic()
        try:
            completed = await self._conn.run(cmd, input=input, check=False, timeout=timeout)
        except asyncssh.TimeoutError:
            log.warning(
                "ssh command timed out", extra={"host": self.label, "cmd": redact(cmd), "timeout_s": timeout}
            )
            raise CommandTimeout(
                f"{self.label}: `{redact(cmd)}` did not finish within {timeout:g}s"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise SshError(f"{self.label}: `{redact(cmd)}` failed: {redact(str(exc))}") from None
        status = completed.exit_status if completed.exit_status is not None else -1
        result = CommandResult(status, _text(completed.stdout), _text(completed.stderr))
        extra: dict[str, Any] = {
            "host": self.label,
            "cmd": redact(cmd),
            "exit_status": status,
            "ms": int((time.monotonic() - started) * 1000),
        }
        if log_output:
            extra["stdout"] = redact(result.stdout[-_OUTPUT_LOG_LIMIT:])
            extra["stderr"] = redact(result.stderr[-_OUTPUT_LOG_LIMIT:])
        log.debug("ssh command", extra=extra)
        return result

    async def upload(
        self, path: str, content: str, mode: int = 0o600, *, owner: str | None = None, timeout: float = 30.0
    ) -> None:
        """Write `content` to `path` on the host (full overwrite), via stdin: never on a command line.

        With `owner`, the file belongs to that user (and its group); written with sudo.
        """
        ownership = f" -o {shlex.quote(owner)} -g {shlex.quote(owner)}" if owner else ""
        # an empty stdin would never see EOF through asyncssh: an empty file comes from /dev/null
        source = "/dev/stdin" if content else "/dev/null"
        cmd = f"sudo -n install -m {mode:04o}{ownership} {source} {shlex.quote(path)}"
        result = await self.run(cmd, timeout, input=content or None, log_output=False)
        if not result.ok:
            raise SshError(
                f"{self.label}: writing {path} failed (exit {result.exit_status}): "
                f"{redact(result.stderr.strip()[-500:])}"
            )
        log.info(
            "ssh upload",
            extra={"host": self.label, "path": path, "bytes": len(content.encode()), "mode": f"{mode:04o}"},
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class SshConnector:
    """Opens SSH sessions to instances with the platform's client key.

    `host_override`/`port` let tests (and bastion setups) reach every instance at one address.
    """

    def __init__(
        self,
        client_key: asyncssh.SSHKey,
        *,
        username: str = "ubuntu",
        port: int = 22,
        host_override: str | None = None,
        connect_timeout: float = 20.0,
        retry_interval: float = 3.0,
    ) -> None:
        self.client_key = client_key
        self.username = username
        self.port = port
        self.host_override = host_override
        self.connect_timeout = connect_timeout
        self.retry_interval = retry_interval

    @classmethod
    def from_settings(cls, settings: Settings, client_key: asyncssh.SSHKey | None = None) -> SshConnector:
        """With `client_key` (the platform key from the database); without, SSH_PRIVATE_KEY_PATH's key."""
        key = client_key or load_or_create_client_key(settings.ssh_private_key_path)
        return cls(
            key,
            username=settings.ssh_user,
            port=settings.ssh_port,
            host_override=settings.ssh_host_override,
            connect_timeout=settings.ssh_connect_timeout,
        )

    async def connect(
        self, host: str | None, host_key_public: str | None, *, deadline_s: float | None = None
    ) -> SshSession:
        """Connect to `host`, trusting only `host_key_public`; retry until `deadline_s` runs out.

        Raises HostKeyMismatch at once on a wrong key (never retried), SshAuthFailed when the
        client key is refused, SshUnreachable when the deadline passes.
        """
        if not host_key_public:
            raise HostKeyMismatch(
                f"{host}: no pinned host key is stored for this instance; refusing to connect"
            )
        target = self.host_override or host
        if not target:
            raise SshUnreachable("the instance has no public IP address yet")
        label = f"{target}:{self.port}"
        trusted = load_public_key(host_key_public)
        deadline = time.monotonic() + (deadline_s if deadline_s is not None else self.connect_timeout)
        attempts = 0
        last_error = "no attempt made"
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            try:
                conn = await asyncssh.connect(
                    target,
                    self.port,
                    username=self.username,
                    client_keys=[self.client_key],
                    known_hosts=([trusted], [], []),
                    agent_path=None,
                    config=None,
                    connect_timeout=max(0.5, min(self.connect_timeout, remaining)),
                    login_timeout=max(0.5, min(self.connect_timeout, remaining)),
                    keepalive_interval=30,
                )
                log.debug("ssh connected", extra={"host": label, "attempts": attempts})
                return SshSession(conn, label)
            except asyncssh.HostKeyNotVerifiable:
                log.error("ssh host key mismatch", extra={"host": label})
                raise HostKeyMismatch(
                    f"{label} presented a host key that does not match the pinned key: refused "
                    f"(possible interception, or the instance was re-keyed)"
                ) from None
            except asyncssh.PermissionDenied:
                raise SshAuthFailed(f"{label} refused the platform key for user {self.username!r}") from None
            except (OSError, TimeoutError, asyncssh.Error) as exc:
                last_error = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
            if time.monotonic() + self.retry_interval >= deadline:
                raise SshUnreachable(
                    f"{label} did not accept SSH within {deadline_s or self.connect_timeout:g}s "
                    f"({attempts} attempts; last error: {last_error})"
                )
            await asyncio.sleep(self.retry_interval)
