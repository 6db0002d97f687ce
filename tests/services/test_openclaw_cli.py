"""The pinned OpenClaw CLI itself (issue 11): the pin is published, the systemd unit and the
bootstrap use only commands and flags it has, and it accepts every config we can render,
including what `python main.py instances agent-config` prints."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import json5
import pytest

from services.cloud.bootstrap import render_bootstrap_script, render_unit
from services.cloud.openclaw_config import AgentEndpoints, AgentSpec, Persona, render_agent_files
from services.model_gateway.keys import PLACEHOLDER_KEY
from tests.standins.openclaw import install_home, node_home, pinned_version, run_cli

ROOT = Path(__file__).resolve().parents[2]


def _bot_token() -> str:
    return f"{secrets.randbelow(9 * 10**8) + 10**8}:AA{secrets.token_urlsafe(26)[:33]}"


def test_the_pinned_openclaw_version_is_published_on_npm() -> None:
    version = pinned_version()
    npm_cli = node_home() / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env = {**os.environ, "PATH": f"{node_home() / 'bin'}:{os.environ.get('PATH', '')}"}
    answer = subprocess.run(
        [str(node_home() / "bin" / "node"), str(npm_cli), "view", f"openclaw@{version}", "version", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert answer.returncode == 0, f"npm view openclaw@{version}: {answer.stderr[-500:]}"
    assert json.loads(answer.stdout) == version, f"openclaw@{version} is not published"


def test_the_unit_and_the_bootstrap_use_only_commands_and_flags_the_pinned_cli_has(
    openclaw, tmp_path
) -> None:
    top = run_cli("--help", home=tmp_path)
    gateway = run_cli("gateway", "--help", home=tmp_path)
    assert top.returncode == 0 and gateway.returncode == 0, top.stderr + gateway.stderr
    top_commands = set(re.findall(r"^  ([a-z][\w-]*)\s", top.stdout, re.M))
    top_flags = set(re.findall(r"(--[a-z][\w-]*)", top.stdout))
    gateway_flags = set(re.findall(r"(--[a-z][\w-]*)", gateway.stdout))

    exec_start = next(line for line in render_unit().splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/openclaw") and argv[1] == "gateway"
    assert "gateway" in top_commands
    for flag in (a for a in argv[2:] if a.startswith("--")):
        assert flag in gateway_flags, f"the unit passes {flag}, which `openclaw gateway` does not have"

    script_calls = re.findall(r"^openclaw (.+?)(?: \|\||$)", render_bootstrap_script(pinned_version()), re.M)
    assert script_calls, "the bootstrap calls the CLI (its --version check)"
    for call in script_calls:
        for flag in (a for a in shlex.split(call) if a.startswith("--")):
            assert flag in top_flags, f"the bootstrap passes {flag}, which `openclaw` does not have"
    version = run_cli("--version", home=tmp_path)
    assert pinned_version() in version.stdout


ENDPOINTS = {
    "production": AgentEndpoints(
        model_api_key="mm_live_" + "2" * 43, model_base_url="https://meetmatt.example.com/model/v1"
    ),
    "stand-ins": AgentEndpoints(
        model_api_key="mm_live_" + "1" * 43,
        model_base_url="http://127.0.0.1:4100/model/v1",
        telegram_api_root="http://127.0.0.1:4200",
    ),
    "agent-config placeholder": AgentEndpoints(
        model_api_key=PLACEHOLDER_KEY, model_base_url="https://meetmatt.example.com/model/v1"
    ),
}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_config_we_can_render_is_valid_for_the_pinned_cli(openclaw, tmp_path, name) -> None:
    files = render_agent_files(
        AgentSpec(
            bot_token=_bot_token(),
            allowed_user_id=424242,
            gateway_token=secrets.token_urlsafe(32),
            endpoints=ENDPOINTS[name],
        )
    )
    install_home(tmp_path, files.config_text, files.env_text)
    answer = run_cli("config", "validate", "--json", home=tmp_path)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    result = json.loads(answer.stdout)
    assert result["valid"] is True and result["warnings"] == [], result


def test_a_config_with_the_customers_persona_is_valid_for_the_pinned_cli(openclaw, tmp_path) -> None:
    persona = Persona('Nova "<3"', "Answer in one sentence.\nSign with a star.")
    files = render_agent_files(
        AgentSpec(
            bot_token=_bot_token(),
            allowed_user_id=424242,
            gateway_token=secrets.token_urlsafe(32),
            endpoints=ENDPOINTS["stand-ins"],
            persona=persona,
        )
    )
    install_home(tmp_path, files.config_text, files.env_text)
    answer = run_cli("config", "validate", "--json", home=tmp_path)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    result = json.loads(answer.stdout)
    assert result["valid"] is True and result["warnings"] == [], result
    assert files.soul_text is not None and "Sign with a star." in files.soul_text


def test_agent_config_prints_what_activation_writes_and_the_pinned_cli_accepts_it(openclaw, tmp_path) -> None:
    token = _bot_token()
    platform_key = "sk-" + secrets.token_hex(24)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "MOONSHOT_API_KEY": platform_key,
        "PUBLIC_BASE_URL": "https://meetmatt.example.com",
        "AGENT_TELEGRAM_API_ROOT": "http://127.0.0.1:4200",
    }

    def cli(*extra: str) -> tuple[str, str]:
        answer = subprocess.run(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "instances",
                "agent-config",
                "--owner",
                "515151",
                "--bot-token",
                token,
                *extra,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
        return answer.stdout, answer.stderr

    (config_text, config_err), (env_text, env_err) = cli(), cli("--env")
    # the platform key is in neither output: the agent's provider is the model gateway, its key a
    # marked placeholder (an instance's real key exists only in that instance's .env)
    for printed in (config_text, config_err, env_text, env_err):
        assert platform_key not in printed
    assert env_text == f"MEETMATT_MODEL_API_KEY={PLACEHOLDER_KEY}\n" and "placeholder" in env_err
    assert (
        json5.loads(config_text)["models"]["providers"]["meetmatt"]["baseUrl"]
        == "https://meetmatt.example.com/model/v1"
    )
    expected = render_agent_files(
        AgentSpec(
            bot_token=token,
            allowed_user_id=515151,
            gateway_token="x" * 43,
            endpoints=AgentEndpoints(
                model_api_key=PLACEHOLDER_KEY,
                model_base_url="https://meetmatt.example.com/model/v1",
                telegram_api_root=env["AGENT_TELEGRAM_API_ROOT"],
            ),
        )
    )
    printed_token = re.search(r'"token": "([^"]+)"', config_text)
    assert printed_token and len(printed_token.group(1)) >= 32  # a fresh throwaway gateway token
    assert config_text == expected.config_text.replace("x" * 43, printed_token.group(1))
    assert env_text == expected.env_text

    home = tmp_path / "home"
    install_home(home, config_text, env_text)
    answer = run_cli("config", "validate", "--json", home=home)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert json.loads(answer.stdout)["valid"] is True, answer.stdout


def test_agent_config_without_public_base_url_says_the_gateway_needs_it(tmp_path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MOONSHOT_API_KEY": "sk-" + "4" * 32}
    answer = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "instances",
            "agent-config",
            "--owner",
            "5",
            "--bot-token",
            _bot_token(),
            "--env",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # a missing setting is a failure (exit 1, one line), not a usage error (exit 2)
    assert answer.returncode == 1 and answer.stdout == "" and "Traceback" not in answer.stderr
    assert "PUBLIC_BASE_URL is not set" in answer.stderr and env["MOONSHOT_API_KEY"] not in answer.stderr


def test_agent_config_refuses_a_malformed_bot_token_clearly(tmp_path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "MOONSHOT_API_KEY": "sk-1",
        "PUBLIC_BASE_URL": "https://meetmatt.example.com",
    }
    answer = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "instances",
            "agent-config",
            "--owner",
            "5",
            "--bot-token",
            "not-a-token",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 2 and answer.stdout == ""
    assert "bot_token is not a Telegram bot token" in answer.stderr and "not-a-token" not in answer.stderr
