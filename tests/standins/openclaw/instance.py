"""The customer's instance with the REAL gateway behind the SSH stand-in.

`SshInstanceStandIn(real=RealInstance(home))` answers the commands that touch the agent for real:
uploads of `~openclaw/.openclaw/{openclaw.json,.env,workspace/SOUL.md}` land in (and `rm -f`
removes them from) `home/.openclaw/`; `systemctl
restart openclaw-gateway` (re)starts `openclaw gateway` there (HOME=home, heap capped, as the
systemd unit does); `curl /readyz|/healthz` asks that gateway; `systemctl show` reports whether it
runs and its memory; `journalctl -u` greps its log. The rest (bootstrap marker, kernel log, free)
stays simulated: cloud-init, NodeSource and systemd are not run here.

The gateway listens on a free local port (the config's port 18789 is mapped to it), so runs on a
shared machine do not collide. One RealInstance plays one instance.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from services.cloud.openclaw_config import GATEWAY_PORT, OPENCLAW_HOME
from tests.standins import free_port
from tests.standins.openclaw import HEALTH_PATH, READY_PATH, GatewayProcess

_REFUSED = f"curl: (7) Failed to connect to 127.0.0.1 port {GATEWAY_PORT}: Connection refused\n"


@dataclass
class RealInstance:
    home: Path
    version: str | None = None
    gateway: GatewayProcess = field(init=False)

    def __post_init__(self) -> None:
        self.gateway = GatewayProcess(self.home, free_port(), self.version)

    def local_path(self, instance_path: str) -> Path | None:
        """Where a file under ~openclaw/.openclaw on the instance lives in this home folder."""
        if instance_path.startswith(OPENCLAW_HOME + "/"):
            return self.home / ".openclaw" / instance_path[len(OPENCLAW_HOME) + 1 :]
        return None

    async def answer(self, command: str, stdin: str | None) -> tuple[int, str, str] | None:
        """The answer of the real instance, or None when the simulated one answers."""
        if "install -m" in command and "/dev/stdin" in command:
            target = self.local_path(shlex.split(command)[-1])
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                target.write_text(stdin or "")
                target.chmod(0o600)
            return None  # the stand-in records the upload too
        if command.startswith("sudo -n rm -f "):
            for path in shlex.split(command)[4:]:
                target = self.local_path(path)
                if target is not None:
                    target.unlink(missing_ok=True)
            return None  # the stand-in forgets the upload too
        if "systemctl restart" in command:
            await asyncio.to_thread(self.gateway.restart)
            return 0, "", ""
        if "systemctl enable" in command:
            return 0, "", ""
        if "systemctl show" in command:
            running = self.gateway.running
            memory = self.gateway.rss_bytes() if running else "[not set]"
            return (
                0,
                (f"NRestarts=0\nActiveState={'active' if running else 'inactive'}\nMemoryCurrent={memory}\n"),
                "",
            )
        for path in (READY_PATH, HEALTH_PATH):
            if f":{GATEWAY_PORT}{path}" in command:
                status, body = await self.gateway.get(path)
                if status == 200:
                    if path == READY_PATH:
                        self.gateway.note_ready()
                    return 0, body, ""
                if status == 0:
                    return 7, "", _REFUSED
                return 22, "", f"curl: (22) The requested URL returned error: {status}\n"
        if "journalctl -u" in command:
            lines = [
                x
                for x in self.gateway.lines(current_run_only=False)
                if "409" in x.message or "Conflict" in x.message
            ][-20:]
            return 0, "".join(f"{x.time} {x.subsystem}: {x.message}\n" for x in lines), ""
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self.gateway.stop)
