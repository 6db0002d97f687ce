"""A real worker process for the crash-safety tests: `python -m tests.e2e.worker_proc <config.json>`.

It is `python main.py worker` against the local stand-ins: Settings from the config (the stack's own
values), the ORM, the composition root (`open_root`, `wire_jobs`) with the shared BotFather
(`RemoteBotFather`), the instance's pinned host key, the aiogram messenger on telegram-test-api, then
`runtime.worker().run(stop)` until SIGTERM.

Test-only crash points (never in production code): with `kill_at` set, the process SIGKILLs itself
- right after the job step `<name>` is recorded (`JobQueue.save_step` wrapped), for any step name;
- `instance_created`: right after the order's Instance row was written (step not yet recorded);
- `launch_returned`: right after `Ec2Fleet.launch` returned (RunInstances done, id not yet saved);
- `botfather_done`: right after BotFather answered "Done! ... token" (bot made, not yet saved);
- `activated`: right after the agent was activated over SSH (config written, gateway ready), before
  the order is marked active.

`lease_seconds` overrides the lease below Settings' minimum (crash tests want quick take-overs).

Importing aiogram, Telethon, aioboto3 and asyncssh costs seconds of CPU per process, so the tests
start workers from a fork server: `python -m tests.e2e.worker_proc --zygote` imports everything
once, then forks one real worker process per request (JSON lines on stdin: {"spawn": config, "out":
path, "log": path} -> {"pid": n}; {"poll": pid} -> {"exit": code or null}, negative = signal).
The children are ordinary processes: they are signalled (SIGTERM, SIGKILL) by pid.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cli.root import WORKER, Options, open_root
from cli.worker_wiring import wire_jobs
from config import Settings
from models import Instance
from services.cloud.ec2 import Ec2Fleet
from services.cloud.host_keys import HostKeyPair
from services.cloud.instance_actions import InstanceActions
from services.infra.logging_setup import setup_logging
from services.jobs.queue import JobQueue
from tests.standins.botfather_server import RemoteBotFather

MID_STEP_KILL_POINTS = ("instance_created", "launch_returned", "botfather_done", "activated")
BOTFATHER_DONE_PREFIX = "Done! Congratulations on your new bot"


def settings_values(settings: Settings) -> dict[str, Any]:
    """Every setting as plain JSON values (secrets unwrapped), to rebuild the same Settings elsewhere."""
    values: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value)
        values[name] = value
    return values


def write_config(
    path: Path,
    settings: Settings,
    *,
    host_key: HostKeyPair,
    botfather_url: str,
    kill_at: str | None = None,
    lease_seconds: float | None = None,
    concurrency: int | None = None,
) -> Path:
    """The config file a worker process reads (test-generated secrets inside: keep it in tmp_path)."""
    path.write_text(
        json.dumps(
            {
                "settings": settings_values(settings),
                "host_key": [host_key.private_openssh, host_key.public_openssh],
                "botfather_url": botfather_url,
                "kill_at": kill_at,
                "lease_seconds": lease_seconds,
                "concurrency": concurrency,
            },
            default=str,
        )
    )
    path.chmod(0o600)
    return path


def _die() -> None:
    sys.stderr.write(f"worker_proc {os.getpid()}: SIGKILL at the configured crash point\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill_point(kill_at: str | None) -> None:
    """Wrap the call after which the process dies (`botfather_done` is hooked on the client instead)."""
    if not kill_at or kill_at == "botfather_done":
        return
    if kill_at == "instance_created":
        create = Instance.create

        async def create_then_die(*args: Any, **kwargs: Any) -> Instance:
            row = await create(*args, **kwargs)
            _die()
            return row

        Instance.create = create_then_die  # type: ignore[method-assign]
        return
    if kill_at == "activated":
        # the one way an agent is activated (the saga's first activation and every later push)
        activate = InstanceActions.activate_agent

        async def activate_then_die(self: InstanceActions, *args: Any, **kwargs: Any) -> None:
            await activate(self, *args, **kwargs)
            _die()

        InstanceActions.activate_agent = activate_then_die  # type: ignore[method-assign]
        return
    if kill_at == "launch_returned":
        launch = Ec2Fleet.launch

        async def launch_then_die(self: Ec2Fleet, **kwargs: Any) -> str:
            ec2_id = await launch(self, **kwargs)
            _die()
            return ec2_id

        Ec2Fleet.launch = launch_then_die  # type: ignore[method-assign]
        return
    save_step = JobQueue.save_step

    async def save_then_die(self: JobQueue, claimed: Any, step: str, value: Any) -> None:
        await save_step(self, claimed, step, value)
        if step == kill_at:
            _die()

    JobQueue.save_step = save_then_die  # type: ignore[method-assign]


async def run(config: dict[str, Any]) -> None:
    settings = Settings(_env_file=None, **config["settings"])
    setup_logging(level="INFO", fmt="json")
    kill_at = config.get("kill_at")
    install_kill_point(kill_at)

    def on_reply(text: str) -> None:
        if kill_at == "botfather_done" and text.startswith(BOTFATHER_DONE_PREFIX):
            _die()

    botfather = RemoteBotFather(config["botfather_url"], on_reply=on_reply)
    host_key = HostKeyPair(*config["host_key"])
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = Options(
        client_factory=botfather.client_for,
        host_key_factory=lambda: host_key,
        poll_interval_s=0.1,
        sweep_scale=0.05,
        import_env=False,
    )
    async with open_root(settings, WORKER, options) as root:
        runtime = wire_jobs(root)
        if config.get("lease_seconds"):
            runtime.queue.lease = timedelta(seconds=float(config["lease_seconds"]))
        print(json.dumps({"worker": runtime.queue.worker_id}), flush=True)
        await runtime.worker(config.get("concurrency"), poll_interval=0.1).run(stop)


def _child(config_path: str, out_path: str, log_path: str) -> None:
    """In the forked process: own stdout/stderr files, no stdin, then the worker; never returns."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        asyncio.run(run(json.loads(Path(config_path).read_text())))
        code = 0
    except BaseException:  # noqa: BLE001 - the child reports everything, then exits
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def zygote() -> int:
    """Serve fork requests until stdin closes (one request, one JSON answer line)."""
    while line := sys.stdin.readline():
        request = json.loads(line)
        if "spawn" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["spawn"], request["out"], request["log"])
            answer: dict[str, Any] = {"pid": pid}
        elif "poll" in request:
            try:
                done, status = os.waitpid(int(request["poll"]), os.WNOHANG)
            except ChildProcessError:
                answer = {"exit": None, "error": "no such child"}
            else:
                answer = {"exit": os.waitstatus_to_exitcode(status) if done else None}
        else:
            answer = {"error": f"unknown request {sorted(request)}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["--zygote"]:
        return zygote()
    if len(argv) != 2:
        print("usage: python -m tests.e2e.worker_proc <config.json> | --zygote", file=sys.stderr)
        return 2
    asyncio.run(run(json.loads(Path(argv[1]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
