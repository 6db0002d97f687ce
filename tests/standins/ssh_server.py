"""A booted customer instance, as seen over SSH: an in-process asyncssh server on 127.0.0.1.

It accepts only the platform's client key, presents the host key it was given (the "pinned"
one), records every command with its stdin, and answers like an Ubuntu host after the Meet Matt
bootstrap: the bootstrap marker, `curl` on the gateway's /healthz and /readyz, `systemctl show`,
`systemctl restart`, `journalctl` (kernel log with OOM kills, gateway log with Telegram 409
conflicts), `free -m`, file uploads (`sudo -n install ... /dev/stdin <path>`) and removals
(`sudo -n rm -f <path>`).

The instance's behaviour is a plain mutable `InstanceBehaviour`; e.g. `readiness_broken=True`
makes /readyz fail even after restarts, `conflict_409=True` puts a 409 line in the gateway log
until the next restart. Optional latency knobs (all 0 by default: answers at once) make it slow
like a real host for benchmarks: `command_delay_s` before every answer, `boot_delay_s` (the
bootstrap marker reads "pending" until that long after the connection's first bootstrap check:
one stand-in plays every instance, and the saga waits for each instance's bootstrap on one
connection) and `gateway_start_s` (/readyz fails until that long after `systemctl restart` on the
same connection).

    async with SshInstanceStandIn(host_key, platform_key) as box:
        connector = SshConnector(platform_key, port=box.port, host_override="127.0.0.1")
        ...
        box.commands_matching("systemctl restart")

With `real=RealInstance(home)` (tests/standins/openclaw/instance.py) the agent side is the REAL
OpenClaw gateway: the written files, `systemctl restart`, `/readyz`, `/healthz`, `systemctl show`
and the gateway log are answered by a real `openclaw gateway` process; the behaviour knobs then
only shape the simulated rest (bootstrap marker, kernel log, memory of the host).
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncssh
import pytest

from services.cloud.host_keys import HostKeyPair, generate_host_key
from services.cloud.ssh import SshConnector

if TYPE_CHECKING:
    from tests.standins.openclaw.instance import RealInstance

GATEWAY_409_LINE = (
    "[telegram] getUpdates failed: GrammyError: Call to 'getUpdates' failed! (409: Conflict: "
    "terminated by other getUpdates request; make sure that only one bot instance is running)"
)
OOM_LINE = "Out of memory: Killed process 4242 (node) total-vm:1843200kB, anon-rss:1203200kB"


@dataclass
class RecordedCommand:
    command: str
    stdin: str | None
    exit_status: int


@dataclass
class UploadedFile:
    content: str
    mode: str
    owner: str | None


@dataclass
class InstanceBehaviour:
    bootstrap_state: str = "done"  # done | pending | failed
    gateway_running: bool = False
    readiness_broken: bool = False  # /readyz fails even when the gateway runs
    healthz_broken: bool = False
    conflict_409: bool = False  # the gateway log shows getUpdates 409 conflicts
    conflict_clears_on_restart: bool = True
    oom_kills: int = 0
    n_restarts: int = 0
    gateway_memory_bytes: int = 480 * 1024 * 1024
    mem_total_mb: int = 1910
    mem_used_mb: int = 820
    restart_fails: bool = False
    # latency knobs (benchmarks); per SSH connection, since one stand-in plays every instance
    command_delay_s: float = 0.0
    boot_delay_s: float = 0.0
    gateway_start_s: float = 0.0


@dataclass
class SshInstanceStandIn:
    host_key: asyncssh.SSHKey
    client_key: asyncssh.SSHKey
    username: str = "ubuntu"
    behaviour: InstanceBehaviour = field(default_factory=InstanceBehaviour)
    commands: list[RecordedCommand] = field(default_factory=list)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    directories: list[str] = field(default_factory=list)  # made with `install -d`
    port: int = 0
    real: RealInstance | None = None  # the real gateway plays the agent side (see the docstring)
    _server: asyncssh.SSHAcceptor | None = None
    _clocks: dict[tuple[object, str], float] = field(default_factory=dict)  # (connection, event) -> time

    async def start(self) -> SshInstanceStandIn:
        authorized = asyncssh.import_authorized_keys(self.client_key.export_public_key("openssh").decode())
        self._server = await asyncssh.create_server(
            asyncssh.SSHServer,
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=authorized,
            process_factory=self._handle,
            encoding="utf-8",
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self.real is not None:
            await self.real.close()

    async def __aenter__(self) -> SshInstanceStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def commands_matching(self, fragment: str) -> list[RecordedCommand]:
        return [c for c in self.commands if fragment in c.command]

    # --- the "instance" ------------------------------------------------------------------------

    async def _handle(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command or ""
        stdin = None
        if "/dev/stdin" in command or "cat >" in command:
            stdin = await process.stdin.read()
        b = self.behaviour
        if b.command_delay_s > 0:
            await asyncio.sleep(b.command_delay_s)
        real_answer = await self.real.answer(command, stdin) if self.real is not None else None
        if real_answer is not None:
            status, out, err = real_answer
        elif b.boot_delay_s > 0 or b.gateway_start_s > 0:
            status, out, err = self._timed_answer(process.get_extra_info("connection"), command, stdin)
        else:
            status, out, err = self._answer(command, stdin)
        self.commands.append(RecordedCommand(command, stdin, status))
        if out:
            process.stdout.write(out)
        if err:
            process.stderr.write(err)
        process.exit(status)

    def _timed_answer(self, conn: object, command: str, stdin: str | None) -> tuple[int, str, str]:
        """The answers of a host that boots and starts its gateway in real time (per connection)."""
        b = self.behaviour
        now = time.monotonic()
        if "bootstrap.done" in command and b.bootstrap_state == "done" and b.boot_delay_s > 0:
            first = self._clocks.setdefault((conn, "boot"), now)
            if now - first < b.boot_delay_s:
                return 0, "pending\n", ""
        if "/readyz" in command and b.gateway_start_s > 0 and b.gateway_running:
            restarted = self._clocks.get((conn, "restart"))
            if restarted is not None and now - restarted < b.gateway_start_s:
                return 7, "", self._curl_error(False)
        answer = self._answer(command, stdin)
        if "systemctl restart" in command and answer[0] == 0:
            self._clocks[(conn, "restart")] = now
        return answer

    def _answer(self, command: str, stdin: str | None) -> tuple[int, str, str]:
        b = self.behaviour
        if "bootstrap.done" in command:
            if b.bootstrap_state == "failed":
                return 0, "failed\nE: Unable to locate package nodejs\n", ""
            return 0, b.bootstrap_state + "\n", ""
        if "install -m" in command and ("/dev/stdin" in command or "/dev/null" in command):
            return self._upload(command, stdin or "")
        if "/readyz" in command:
            if b.gateway_running and not b.readiness_broken:
                return 0, '{"ready":true}', ""
            return 7 if not b.gateway_running else 22, "", self._curl_error(b.gateway_running)
        if "/healthz" in command:
            if b.gateway_running and not b.healthz_broken:
                return 0, '{"ok":true}', ""
            return 7 if not b.gateway_running else 22, "", self._curl_error(b.gateway_running)
        if "systemctl show" in command:
            state = "active" if b.gateway_running else "inactive"
            memory = b.gateway_memory_bytes if b.gateway_running else "[not set]"
            return 0, f"NRestarts={b.n_restarts}\nActiveState={state}\nMemoryCurrent={memory}\n", ""
        if "systemctl restart" in command:
            if b.restart_fails:
                return 1, "", "Job for openclaw-gateway.service failed.\n"
            b.gateway_running = True
            if b.conflict_clears_on_restart:
                b.conflict_409 = False
            return 0, "", ""
        if "systemctl enable" in command:
            return 0, "", ""
        if command.startswith("sudo -n rm -f "):  # a file the agent must not have any more
            for path in shlex.split(command)[4:]:
                self.files.pop(path, None)
            return 0, "", ""
        if "install -d" in command:  # a directory for the agent (its workspace)
            self.directories.append(shlex.split(command)[-1])
            return 0, "", ""
        if "journalctl -k" in command:
            return 0, "".join(OOM_LINE + "\n" for _ in range(b.oom_kills)), ""
        if "journalctl -u" in command:
            return 0, (GATEWAY_409_LINE + "\n") * 3 if b.conflict_409 else "", ""
        if command.startswith("free"):
            free = b.mem_total_mb - b.mem_used_mb
            return 0, f"{b.mem_total_mb} {b.mem_used_mb} {free}\n", ""
        return 127, "", f"bash: {command.split()[0] if command.split() else ''}: command not found\n"

    @staticmethod
    def _curl_error(running: bool) -> str:
        if not running:
            return "curl: (7) Failed to connect to 127.0.0.1 port 18789: Connection refused\n"
        return "curl: (22) The requested URL returned error: 503\n"

    def _upload(self, command: str, content: str) -> tuple[int, str, str]:
        args = shlex.split(command)
        while args and args[0] in ("sudo", "-n"):
            args = args[1:]
        mode, owner = "0755", None
        i = 1
        while i < len(args) - 2:
            if args[i] == "-m":
                mode = args[i + 1]
            elif args[i] == "-o":
                owner = args[i + 1]
            i += 2 if args[i] in ("-m", "-o", "-g") else 1
        self.files[args[-1]] = UploadedFile(content, mode, owner)
        return 0, "", ""


# --- fixtures (import them into a test module) ---------------------------------------------------


@pytest.fixture
def platform_key() -> asyncssh.SSHKey:
    """The platform's SSH client key, fresh per test."""
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture
def instance_key() -> HostKeyPair:
    """The instance's pinned host key pair, as the platform would generate it."""
    return generate_host_key()


@pytest.fixture
async def ssh_box(
    platform_key: asyncssh.SSHKey, instance_key: HostKeyPair
) -> AsyncIterator[SshInstanceStandIn]:
    """A running stand-in instance that presents `instance_key` and accepts `platform_key`."""
    box = SshInstanceStandIn(asyncssh.import_private_key(instance_key.private_openssh), platform_key)
    async with box:
        yield box


def connector_for(box: SshInstanceStandIn, platform_key: asyncssh.SSHKey, **overrides: Any) -> SshConnector:
    """An SshConnector that reaches every "instance" at the stand-in (host/port override)."""
    options: dict[str, Any] = {
        "port": box.port,
        "host_override": "127.0.0.1",
        "connect_timeout": 5.0,
        "retry_interval": 0.1,
    }
    options.update(overrides)
    return SshConnector(platform_key, **options)
