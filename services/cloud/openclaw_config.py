"""The agent's OpenClaw configuration, rendered as pure text (DESIGN section 5).

`~openclaw/.openclaw/openclaw.json` (JSON5; written as strict JSON, which JSON5 accepts, under a
comment header) and `~openclaw/.openclaw/.env` (holds the model key, which the config references
as "${MEETMATT_MODEL_API_KEY}" so the key is in one file only).

Two choices keep the pinned OpenClaw (2026.9.6) from trying to install its external
`@openclaw/moonshot-provider` plugin at every start (and running "degraded" when it cannot): the
provider id is our own (`meetmatt`, which no official plugin claims) and the key's variable is not
`MOONSHOT_API_KEY` (the gateway counts that variable alone as "Moonshot configured").

Where the agent reaches its model and Telegram is a parameter (`AgentEndpoints`): the model is
Meet Matt's model gateway with the instance's own key (services/cloud/activation.py builds it from
PUBLIC_BASE_URL; the platform's Moonshot key never reaches an instance), Telegram is its own API in
production and a local stand-in in tests. Nothing else in the files differs.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from services.orders.validation import PERSONA_NAME_MAX, PERSONA_PROMPT_MAX  # one limit, checked at both ends

GATEWAY_PORT = 18789
OPENCLAW_HOME = "/home/openclaw/.openclaw"
CONFIG_PATH = f"{OPENCLAW_HOME}/openclaw.json"
ENV_PATH = f"{OPENCLAW_HOME}/.env"
SOUL_PATH = f"{OPENCLAW_HOME}/workspace/SOUL.md"  # the agent's persona, read into its system prompt
AGENT_ID = "main"
PROVIDER_ID = "meetmatt"  # not "moonshot": see the module docstring
MODEL_KEY_ENV = "MEETMATT_MODEL_API_KEY"  # not MOONSHOT_API_KEY: see the module docstring
MODEL_ID = "kimi-k2.5"
MODEL_NAME = "Kimi K2.5"
PRIMARY_MODEL = f"{PROVIDER_ID}/{MODEL_ID}"

_BOT_TOKEN_RE = re.compile(r"^\d{6,12}:[A-Za-z0-9_-]{30,}$")


class ConfigValueError(ValueError):
    """An input to the config is malformed (the message never includes the value of a secret)."""


@dataclass(frozen=True)
class AgentEndpoints:
    """Where the agent reaches its model and Telegram, and the model key it presents.

    `model_base_url` is an OpenAI-compatible base URL ending before `/chat/completions`;
    `telegram_api_root` is a Bot API root (no `/bot<token>`), None for Telegram's own.
    """

    model_api_key: str
    model_base_url: str
    telegram_api_root: str | None = None


@dataclass(frozen=True)
class AgentFiles:
    """The files activation writes into `~openclaw/.openclaw/` (config and env hold secrets: mode
    0600). `soul_text` is the persona's SOUL.md for the agent's workspace; `remove_soul` says a
    persona without instructions is set, so a SOUL.md written for earlier instructions must go.
    Neither (no persona at all): the workspace's SOUL.md is OpenClaw's own and is left alone."""

    config_text: str
    env_text: str
    soul_text: str | None = None
    remove_soul: bool = False


@dataclass(frozen=True)
class Persona:
    """What the customer set in /mybots: the name the agent uses (in the config, as its identity)
    and how it behaves (its workspace SOUL.md, which OpenClaw puts into the system prompt)."""

    name: str
    instructions: str = ""


def _check_persona(persona: Persona) -> None:
    # validated when typed (services/orders/validation.py); checked again because this writes a file
    if not persona.name or len(persona.name) > PERSONA_NAME_MAX or "\n" in persona.name:
        raise ConfigValueError(f"persona name must be one line of 1-{PERSONA_NAME_MAX} characters")
    if len(persona.instructions) > PERSONA_PROMPT_MAX:
        raise ConfigValueError(f"persona instructions are limited to {PERSONA_PROMPT_MAX} characters")
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in persona.name + persona.instructions):
        raise ConfigValueError("persona contains control characters")


def render_soul(persona: Persona | None) -> str | None:
    """SOUL.md for the persona's instructions, None when there are none (see AgentFiles)."""
    if persona is None or not persona.instructions:
        return None
    _check_persona(persona)
    return (
        f"# {persona.name}\n\nYou are {persona.name}, the personal assistant of the one person who "
        f"talks to you. Your owner asked you to behave like this:\n\n{persona.instructions}\n"
    )


def _check_url(name: str, value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value or ""):
        raise ConfigValueError(f"{name} must be an http(s) URL without query or fragment")
    return value.rstrip("/")


@dataclass(frozen=True)
class AgentSpec:
    """Everything an agent's files are made from: its bot, the one Telegram user it answers, the
    token of its loopback gateway, where it reaches its model and Telegram, and its persona."""

    bot_token: str
    allowed_user_id: int
    gateway_token: str
    endpoints: AgentEndpoints
    persona: Persona | None = None
    port: int = GATEWAY_PORT


def _check_spec(spec: AgentSpec) -> None:
    if not _BOT_TOKEN_RE.match(spec.bot_token or ""):
        raise ConfigValueError("bot_token is not a Telegram bot token (<digits>:<secret>)")
    user_id = spec.allowed_user_id
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise ConfigValueError("allowed_user_id must be the verified positive Telegram user id")
    token = spec.gateway_token
    if not token or len(token) < 24 or not token.isascii():
        raise ConfigValueError("gateway_token must be a random ASCII string of at least 24 characters")


def _telegram_channel(spec: AgentSpec) -> dict[str, Any]:
    telegram: dict[str, Any] = {
        "enabled": True,
        "botToken": spec.bot_token,
        "dmPolicy": "allowlist",
        "allowFrom": [str(spec.allowed_user_id)],  # numeric ids, as strings
        "groupPolicy": "disabled",  # a personal agent: direct messages from its owner only
    }
    if spec.endpoints.telegram_api_root:
        telegram["apiRoot"] = _check_url("telegram_api_root", spec.endpoints.telegram_api_root)
    return telegram


def _model_providers(model_base_url: str) -> dict[str, Any]:
    """Kimi K2.5 behind Meet Matt's model gateway (the agent never talks to Moonshot itself)."""
    return {
        "mode": "merge",
        "providers": {
            PROVIDER_ID: {
                "baseUrl": model_base_url,
                "apiKey": "${" + MODEL_KEY_ENV + "}",
                "api": "openai-completions",
                "models": [
                    {
                        "id": MODEL_ID,
                        "name": MODEL_NAME,
                        "reasoning": False,
                        "input": ["text"],
                        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                        "contextWindow": 256000,
                        "maxTokens": 8192,
                    }
                ],
            },
        },
    }


def build_openclaw_config(spec: AgentSpec) -> dict[str, Any]:
    """The config as a dict: loopback token-auth gateway, Telegram for one user, Kimi K2.5."""
    _check_spec(spec)
    model_base_url = _check_url("model_base_url", spec.endpoints.model_base_url)
    telegram = _telegram_channel(spec)
    agents: dict[str, Any] = {
        "defaults": {
            "model": {"primary": PRIMARY_MODEL},
            "models": {PRIMARY_MODEL: {"alias": MODEL_NAME}},
        },
    }
    if spec.persona is not None:
        _check_persona(spec.persona)
        # the pinned OpenClaw keys agents by id under `entries` (it migrates the older `list`)
        agents["entries"] = {AGENT_ID: {"identity": {"name": spec.persona.name}}}
    return {
        "gateway": {
            "mode": "local",
            "port": spec.port,
            "bind": "loopback",  # never reachable from the internet; Telegram uses long polling
            "auth": {"mode": "token", "token": spec.gateway_token},
        },
        "channels": {"telegram": telegram},
        "models": _model_providers(model_base_url),
        # JSON lines on the console (journald): levels a health check and a test can read
        "logging": {"consoleStyle": "json"},
        "agents": agents,
    }


def render_openclaw_config(spec: AgentSpec) -> str:
    """`openclaw.json` text (JSON5). Holds the bot token and gateway token: write it mode 0600."""
    config = build_openclaw_config(spec)
    header = (
        "// OpenClaw configuration written by Meet Matt at activation. Each activation overwrites\n"
        "// this file completely; the model key lives in .env beside it.\n"
    )
    return header + json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def render_env(*, model_api_key: str) -> str:
    """`.env` text for the gateway: the model key, referenced from the config."""
    if not model_api_key or any(c in model_api_key for c in "\r\n\"'\\ $`"):
        raise ConfigValueError("model_api_key is empty or contains characters not allowed in .env")
    return f"{MODEL_KEY_ENV}={model_api_key}\n"


def render_agent_files(spec: AgentSpec) -> AgentFiles:
    """The files an instance gets at activation (what `instances agent-config` prints)."""
    soul_text = render_soul(spec.persona)
    return AgentFiles(
        config_text=render_openclaw_config(spec),
        env_text=render_env(model_api_key=spec.endpoints.model_api_key),
        soul_text=soul_text,
        remove_soul=spec.persona is not None and soul_text is None,
    )
