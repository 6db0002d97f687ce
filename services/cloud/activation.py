"""Activation: push the agent's final OpenClaw config over SSH, restart the gateway, wait for /readyz.

The files are written in full every time (never patched), and a persona's SOUL.md is removed once
the persona has no instructions, so re-running activation, e.g. on an admin's re-provision, a
persona change or a resumed job, converges on the same state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from services.cloud.bootstrap import SERVICE_NAME, InstanceTarget
from services.cloud.openclaw_config import (
    CONFIG_PATH,
    ENV_PATH,
    GATEWAY_PORT,
    SOUL_PATH,
    AgentEndpoints,
    AgentFiles,
    AgentSpec,
    Persona,
    render_agent_files,
)
from services.cloud.ssh import CommandResult, SshConnector, SshError, SshSession
from services.infra.logging_setup import secrets
from services.model_gateway.keys import gateway_base_url

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger(__name__)

READY_CMD = f"curl -fsS -m 5 http://127.0.0.1:{GATEWAY_PORT}/readyz"
HEALTH_CMD = f"curl -fsS -m 5 http://127.0.0.1:{GATEWAY_PORT}/healthz"
ENABLE_CMD = f"sudo -n systemctl enable {SERVICE_NAME}"
RESTART_CMD = f"sudo -n systemctl restart {SERVICE_NAME}"
WORKSPACE_CMD = f"sudo -n install -d -o openclaw -g openclaw -m 0700 {SOUL_PATH.rsplit('/', 1)[0]}"
REMOVE_SOUL_CMD = f"sudo -n rm -f {SOUL_PATH}"


class GatewayNotReady(RuntimeError):
    """The gateway did not answer /readyz in time after a (re)start."""


async def wait_gateway_ready(
    session: SshSession, timeout_s: float, *, poll_interval_s: float = 2.0
) -> CommandResult:
    """Poll `curl /readyz` on the instance until it succeeds; GatewayNotReady after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    attempts = 0
    while True:
        attempts += 1
        result = await session.run(READY_CMD, timeout=10)
        if result.ok:
            return result
        if time.monotonic() + poll_interval_s >= deadline:
            detail = (result.stderr or result.stdout).strip()[-300:] or "no output"
            raise GatewayNotReady(
                f"{session.label}: gateway not ready {timeout_s:g}s after start "
                f"({attempts} checks; last: exit {result.exit_status}: {detail})"
            )
        await asyncio.sleep(poll_interval_s)


async def restart_gateway(
    session: SshSession, *, ready_timeout_s: float, poll_interval_s: float = 2.0
) -> None:
    """Restart the gateway service and wait until it is ready."""
    result = await session.run(RESTART_CMD, timeout=60)
    if not result.ok:
        raise GatewayNotReady(
            f"{session.label}: `systemctl restart {SERVICE_NAME}` failed "
            f"(exit {result.exit_status}): {result.stderr.strip()[-300:]}"
        )
    await wait_gateway_ready(session, ready_timeout_s, poll_interval_s=poll_interval_s)


class GatewayUrlMissing(RuntimeError):
    """PUBLIC_BASE_URL is not set, so agents have no model gateway to call."""


def require_public_base_url(settings: Settings) -> str:
    """PUBLIC_BASE_URL, under which agents reach the model gateway; GatewayUrlMissing when it is not
    set, so no agent config (and no model key for one) is made without it."""
    if not settings.public_base_url:
        raise GatewayUrlMissing(
            "PUBLIC_BASE_URL is not set: agents reach the model gateway at "
            f"PUBLIC_BASE_URL{settings.model_gateway_path}, so no agent config can "
            "be written"
        )
    return settings.public_base_url


def agent_endpoints(settings: Settings, model_key: str) -> AgentEndpoints:
    """Where an agent reaches its model and Telegram: Meet Matt's model gateway (PUBLIC_BASE_URL +
    MODEL_GATEWAY_PATH) with the instance's own `model_key`, never the platform's MOONSHOT_API_KEY
    (which only the gateway holds); Telegram's own API unless AGENT_TELEGRAM_API_ROOT says otherwise."""
    return AgentEndpoints(
        model_api_key=model_key,
        model_base_url=gateway_base_url(require_public_base_url(settings), settings.model_gateway_path),
        telegram_api_root=settings.agent_telegram_api_root or None,
    )


def persona_of(instance: object) -> Persona | None:
    """The persona the customer set for this instance in /mybots, if any."""
    name = getattr(instance, "persona_name", None)
    return Persona(name, getattr(instance, "persona_prompt", None) or "") if name else None


async def write_agent_config(session: SshSession, files: AgentFiles) -> None:
    """Overwrite openclaw.json and .env (both 0600, owned by the openclaw user), and the persona's
    SOUL.md in the agent's workspace when it has instructions; remove that SOUL.md when the persona
    has none any more, so a re-run converges on the persona as it is now."""
    await session.upload(ENV_PATH, files.env_text, 0o600, owner="openclaw")
    await session.upload(CONFIG_PATH, files.config_text, 0o600, owner="openclaw")
    if files.remove_soul:
        removed = await session.run(REMOVE_SOUL_CMD, timeout=30)
        if not removed.ok:
            raise SshError(
                f"{session.label}: removing the persona's old SOUL.md failed (exit {removed.exit_status})"
            )
    if files.soul_text is not None:
        made = await session.run(WORKSPACE_CMD, timeout=30)
        if not made.ok:
            raise SshError(
                f"{session.label}: creating the agent's workspace failed (exit {made.exit_status})"
            )
        await session.upload(SOUL_PATH, files.soul_text, 0o600, owner="openclaw")


async def activate(
    ssh: SshConnector,
    instance: InstanceTarget,
    *,
    bot_token: str,
    allowed_user_id: int,
    gateway_token: str,
    endpoints: AgentEndpoints,
    ready_timeout_s: float = 120.0,
    poll_interval_s: float = 2.0,
    connect_deadline_s: float | None = None,
) -> None:
    """Write the agent's config, (re)start the gateway and wait for `/readyz`.

    Raises SshError subclasses when the host cannot be reached, GatewayNotReady when the gateway
    does not come up in `ready_timeout_s`. Secrets are registered for log redaction first (the
    model key is the instance's own: the platform key is never in an agent's files).
    """
    secrets.add(bot_token, endpoints.model_api_key, gateway_token)
    files = render_agent_files(
        AgentSpec(bot_token, allowed_user_id, gateway_token, endpoints, persona=persona_of(instance))
    )
    async with await ssh.connect(
        instance.public_ip, instance.host_key_public, deadline_s=connect_deadline_s
    ) as session:
        await write_agent_config(session, files)
        enabled = await session.run(ENABLE_CMD, timeout=30)
        if not enabled.ok:
            log.warning(
                "enabling the gateway service failed",
                extra={"instance_id": instance.id, "exit_status": enabled.exit_status},
            )
        await restart_gateway(session, ready_timeout_s=ready_timeout_s, poll_interval_s=poll_interval_s)
    log.info("agent activated", extra={"instance_id": instance.id})
