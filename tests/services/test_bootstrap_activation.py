"""Activation over SSH against the stand-in instance: the expected commands, the expected files,
and a clear failure when the gateway does not become ready."""

from __future__ import annotations

import secrets
import time

import json5
import pytest

from services.cloud.activation import GatewayNotReady, activate
from services.cloud.openclaw_config import CONFIG_PATH, ENV_PATH, SOUL_PATH, AgentEndpoints
from services.cloud.ssh import HostKeyMismatch
from tests.standins import ssh_server
from tests.standins.ssh_server import connector_for

platform_key, instance_key, ssh_box = ssh_server.platform_key, ssh_server.instance_key, ssh_server.ssh_box


class _Target:
    def __init__(self, host_key_public: str, persona_name: str | None = None, prompt: str = "") -> None:
        self.id = 12
        self.public_ip = "198.51.100.12"
        self.host_key_public = host_key_public
        self.persona_name, self.persona_prompt = persona_name, prompt


def _secrets() -> dict:
    return {
        "bot_token": f"{secrets.randbelow(9 * 10**8) + 10**8}:AA{secrets.token_urlsafe(26)[:33]}",
        "endpoints": AgentEndpoints(
            model_api_key="mm_live_" + secrets.token_urlsafe(32),
            model_base_url="https://meetmatt.example/model/v1",
        ),
        "gateway_token": secrets.token_urlsafe(32),
    }


def _secret_values(values: dict) -> list[str]:
    return [values["bot_token"], values["gateway_token"], values["endpoints"].model_api_key]


async def test_activation_writes_both_files_restarts_the_gateway_and_waits_for_readyz(
    ssh_box, platform_key, instance_key
) -> None:
    values = _secrets()
    await activate(
        connector_for(ssh_box, platform_key),
        _Target(instance_key.public_openssh),
        allowed_user_id=5550001,
        ready_timeout_s=5,
        poll_interval_s=0.05,
        **values,
    )

    commands = [c.command for c in ssh_box.commands]
    assert commands == [
        f"sudo -n install -m 0600 -o openclaw -g openclaw /dev/stdin {ENV_PATH}",
        f"sudo -n install -m 0600 -o openclaw -g openclaw /dev/stdin {CONFIG_PATH}",
        "sudo -n systemctl enable openclaw-gateway",
        "sudo -n systemctl restart openclaw-gateway",
        "curl -fsS -m 5 http://127.0.0.1:18789/readyz",
    ]
    env, config_file = ssh_box.files[ENV_PATH], ssh_box.files[CONFIG_PATH]
    assert env.content == f"MEETMATT_MODEL_API_KEY={values['endpoints'].model_api_key}\n"
    assert (env.mode, env.owner) == ("0600", "openclaw")
    assert (config_file.mode, config_file.owner) == ("0600", "openclaw")
    config = json5.loads(config_file.content)
    assert config["channels"]["telegram"]["botToken"] == values["bot_token"]
    assert config["channels"]["telegram"]["allowFrom"] == ["5550001"]
    assert config["gateway"]["auth"]["token"] == values["gateway_token"]
    for secret in _secret_values(values):  # secrets travel in stdin only, never on a command line
        assert all(secret not in c for c in commands)


async def test_activation_twice_overwrites_the_files_completely(ssh_box, platform_key, instance_key) -> None:
    connector = connector_for(ssh_box, platform_key)
    first, second = _secrets(), _secrets()
    await activate(
        connector,
        _Target(instance_key.public_openssh),
        allowed_user_id=1,
        ready_timeout_s=5,
        poll_interval_s=0.05,
        **first,
    )
    await activate(
        connector,
        _Target(instance_key.public_openssh),
        allowed_user_id=2,
        ready_timeout_s=5,
        poll_interval_s=0.05,
        **second,
    )
    config = json5.loads(ssh_box.files[CONFIG_PATH].content)
    assert config["channels"]["telegram"]["allowFrom"] == ["2"]
    assert first["bot_token"] not in ssh_box.files[CONFIG_PATH].content
    assert ssh_box.files[ENV_PATH].content == f"MEETMATT_MODEL_API_KEY={second['endpoints'].model_api_key}\n"


async def test_a_persona_changed_to_a_name_only_removes_the_old_instructions(
    ssh_box, platform_key, instance_key
) -> None:
    connector = connector_for(ssh_box, platform_key)

    async def push(target: _Target) -> None:
        await activate(
            connector, target, allowed_user_id=1, ready_timeout_s=5, poll_interval_s=0.05, **_secrets()
        )

    await push(_Target(instance_key.public_openssh, "Nova", "Sign with a star."))
    assert "Sign with a star." in ssh_box.files[SOUL_PATH].content

    await push(_Target(instance_key.public_openssh, "Nova"))
    assert SOUL_PATH not in ssh_box.files  # OpenClaw's own default behaviour again, under the name
    assert json5.loads(ssh_box.files[CONFIG_PATH].content)["agents"]["entries"]["main"]["identity"] == {
        "name": "Nova"
    }
    [removed] = ssh_box.commands_matching("rm -f")
    assert removed.command == f"sudo -n rm -f {SOUL_PATH}" and removed.exit_status == 0


async def test_a_gateway_that_never_gets_ready_fails_activation_at_its_timeout(
    ssh_box, platform_key, instance_key
) -> None:
    ssh_box.behaviour.readiness_broken = True
    started = time.monotonic()
    with pytest.raises(GatewayNotReady, match="not ready 0.5s after start") as caught:
        await activate(
            connector_for(ssh_box, platform_key),
            _Target(instance_key.public_openssh),
            allowed_user_id=3,
            ready_timeout_s=0.5,
            poll_interval_s=0.05,
            **_secrets(),
        )
    assert time.monotonic() - started < 3
    assert "503" in str(caught.value)
    assert len(ssh_box.commands_matching("systemctl restart")) == 1


async def test_activation_refuses_an_instance_with_another_host_key(ssh_box, platform_key) -> None:
    from services.cloud.host_keys import generate_host_key

    with pytest.raises(HostKeyMismatch):
        await activate(
            connector_for(ssh_box, platform_key),
            _Target(generate_host_key().public_openssh),
            allowed_user_id=3,
            ready_timeout_s=1,
            **_secrets(),
        )
    assert ssh_box.files == {}


def test_agents_reach_the_model_gateway_with_their_own_key_never_the_platform_key() -> None:
    from pydantic import SecretStr

    from config import Settings
    from services.cloud.activation import GatewayUrlMissing, agent_endpoints

    platform_key, instance_key = "sk-" + secrets.token_hex(16), "mm_live_" + secrets.token_urlsafe(32)
    production = agent_endpoints(
        Settings(
            _env_file=None,
            moonshot_api_key=SecretStr(platform_key),
            public_base_url="https://meetmatt.example/",
            agent_telegram_api_root="",
        ),
        instance_key,
    )
    assert production == AgentEndpoints(
        model_api_key=instance_key, model_base_url="https://meetmatt.example/model/v1", telegram_api_root=None
    )
    local = agent_endpoints(
        Settings(
            _env_file=None,
            moonshot_api_key=SecretStr(platform_key),
            public_base_url="http://127.0.0.1:4100",
            model_gateway_path="/llm/v1",
            agent_telegram_api_root="http://127.0.0.1:4200",
        ),
        instance_key,
    )
    assert (local.model_base_url, local.telegram_api_root) == (
        "http://127.0.0.1:4100/llm/v1",
        "http://127.0.0.1:4200",
    )
    assert platform_key not in repr(production) + repr(local)
    with pytest.raises(GatewayUrlMissing, match="PUBLIC_BASE_URL"):
        agent_endpoints(Settings(_env_file=None, moonshot_api_key=SecretStr(platform_key)), instance_key)
