"""The agent's openclaw.json parses as JSON5 and holds exactly what DESIGN section 5 lists."""

from __future__ import annotations

import secrets

import json5
import pytest

from services.cloud.openclaw_config import (
    AgentEndpoints,
    AgentSpec,
    ConfigValueError,
    build_openclaw_config,
    render_env,
    render_openclaw_config,
)

GATEWAY = "https://meetmatt.example.com/model/v1"  # PUBLIC_BASE_URL + MODEL_GATEWAY_PATH


def spec(*, model_base_url: str, telegram_api_root: str | None = None, **fields) -> AgentSpec:
    """The config's one input, from the fields these tests vary (the model key goes to .env only)."""
    return AgentSpec(endpoints=AgentEndpoints("sk-unused", model_base_url, telegram_api_root), **fields)


def _bot_token() -> str:
    return f"{secrets.randbelow(9 * 10**8) + 10**8}:AA{secrets.token_urlsafe(26)[:33]}"


def test_rendered_config_parses_as_json5_with_the_design_keys_and_values() -> None:
    token, gateway_token = _bot_token(), secrets.token_urlsafe(32)
    text = render_openclaw_config(
        spec(bot_token=token, allowed_user_id=424242, gateway_token=gateway_token, model_base_url=GATEWAY)
    )
    assert text.startswith("//")  # a JSON5 comment header: strict JSON would refuse it
    config = json5.loads(text)

    assert config["gateway"]["mode"] == "local"
    assert config["gateway"]["bind"] == "loopback"
    assert config["gateway"]["port"] == 18789
    assert config["gateway"]["auth"] == {"mode": "token", "token": gateway_token}

    telegram = config["channels"]["telegram"]
    assert telegram["enabled"] is True
    assert telegram["botToken"] == token
    assert telegram["dmPolicy"] == "allowlist"
    assert telegram["allowFrom"] == ["424242"]

    assert "apiRoot" not in telegram  # production: Telegram's own API

    # our own provider id and key variable: with "moonshot" / MOONSHOT_API_KEY the pinned gateway
    # tries to install @openclaw/moonshot-provider at every start and runs degraded
    assert list(config["models"]["providers"]) == ["meetmatt"]
    provider = config["models"]["providers"]["meetmatt"]
    assert provider["baseUrl"] == GATEWAY  # Meet Matt's model gateway, never Moonshot itself
    assert provider["api"] == "openai-completions"
    assert provider["apiKey"] == "${MEETMATT_MODEL_API_KEY}"  # the key itself stays in .env
    assert [m["id"] for m in provider["models"]] == ["kimi-k2.5"]
    assert provider["models"][0]["name"] == "Kimi K2.5"

    assert config["agents"]["defaults"]["model"]["primary"] == "meetmatt/kimi-k2.5"
    assert "MOONSHOT" not in text and '"moonshot"' not in text


def test_the_endpoints_move_only_the_model_url_and_the_telegram_root() -> None:
    args = {"bot_token": _bot_token(), "allowed_user_id": 5, "gateway_token": secrets.token_urlsafe(32)}
    production = build_openclaw_config(spec(**args, model_base_url=GATEWAY))
    local = build_openclaw_config(
        spec(**args, model_base_url="http://127.0.0.1:4100/v1/", telegram_api_root="http://127.0.0.1:4200")
    )
    assert local["models"]["providers"]["meetmatt"]["baseUrl"] == "http://127.0.0.1:4100/v1"
    assert local["channels"]["telegram"].pop("apiRoot") == "http://127.0.0.1:4200"
    local["models"]["providers"]["meetmatt"]["baseUrl"] = GATEWAY
    assert local == production


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_base_url", "api.moonshot.ai/v1"),
        ("model_base_url", "https://api.example/v1?key=x"),
        ("telegram_api_root", "ftp://127.0.0.1"),
    ],
)
def test_endpoint_urls_that_are_not_plain_http_urls_are_refused(field, value) -> None:
    args = {
        "bot_token": _bot_token(),
        "allowed_user_id": 5,
        "gateway_token": secrets.token_urlsafe(32),
        "model_base_url": GATEWAY,
        field: value,
    }
    with pytest.raises(ConfigValueError, match=field):
        build_openclaw_config(spec(**args))


def test_env_file_holds_the_model_key_the_config_refers_to() -> None:
    key = "sk-" + secrets.token_hex(24)
    assert render_env(model_api_key=key) == f"MEETMATT_MODEL_API_KEY={key}\n"
    text = render_openclaw_config(
        spec(
            bot_token=_bot_token(),
            allowed_user_id=7,
            gateway_token=secrets.token_urlsafe(32),
            model_base_url=GATEWAY,
        )
    )
    assert key not in text


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("bot_token", "not-a-token", "bot_token"),
        ("allowed_user_id", 0, "allowed_user_id"),
        ("allowed_user_id", -5, "allowed_user_id"),
        ("gateway_token", "short", "gateway_token"),
    ],
)
def test_malformed_inputs_are_refused_naming_the_field_but_not_the_value(field, value, reason) -> None:
    args = {
        "bot_token": _bot_token(),
        "allowed_user_id": 99,
        "gateway_token": secrets.token_urlsafe(32),
        "model_base_url": GATEWAY,
    }
    args[field] = value
    with pytest.raises(ConfigValueError) as caught:
        build_openclaw_config(spec(**args))
    assert reason in str(caught.value)
    if isinstance(value, str):
        assert value not in str(caught.value)


def test_env_refuses_a_key_that_would_break_the_env_file() -> None:
    with pytest.raises(ConfigValueError):
        render_env(model_api_key="sk-abc\nEVIL=1")
    with pytest.raises(ConfigValueError):
        render_env(model_api_key="")


def test_a_persona_names_the_agent_in_the_config_and_its_instructions_go_to_soul_md() -> None:
    from services.cloud.openclaw_config import Persona, render_soul

    persona = Persona('Nova "<x>"', 'Answer briefly.\nNever say "}" breaks JSON.')
    text = render_openclaw_config(
        spec(
            bot_token=_bot_token(),
            allowed_user_id=424242,
            gateway_token=secrets.token_urlsafe(32),
            model_base_url=GATEWAY,
            persona=persona,
        )
    )
    config = json5.loads(text)
    assert config["agents"]["entries"] == {"main": {"identity": {"name": 'Nova "<x>"'}}}
    assert config["agents"]["defaults"]["model"]["primary"]  # the model stays as it was
    soul = render_soul(persona)
    assert soul is not None and 'Answer briefly.\nNever say "}" breaks JSON.' in soul
    assert render_soul(Persona("Nova")) is None and render_soul(None) is None
    plain = json5.loads(
        render_openclaw_config(
            spec(
                bot_token=_bot_token(),
                allowed_user_id=1,
                gateway_token=secrets.token_urlsafe(32),
                model_base_url=GATEWAY,
            )
        )
    )
    assert "entries" not in plain["agents"]  # no persona: OpenClaw's default agent


@pytest.mark.parametrize(
    "persona", [("", "x"), ("N" * 33, ""), ("two\nlines", ""), ("ok", "y" * 1001), ("ok", "bell\x07")]
)
def test_a_persona_the_bot_would_have_refused_is_refused_here_too(persona: tuple[str, str]) -> None:
    from services.cloud.openclaw_config import Persona

    with pytest.raises(ConfigValueError):
        build_openclaw_config(
            spec(
                bot_token=_bot_token(),
                allowed_user_id=1,
                gateway_token=secrets.token_urlsafe(32),
                model_base_url=GATEWAY,
                persona=Persona(*persona),
            )
        )
