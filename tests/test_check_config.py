"""`check-config` tells the truth: one table decides what each command needs, .env.example's
placeholders are reported as not set, `--json`, and `--online` tries every credential against the
local stand-ins (moto's STS, the Stripe stand-in, telegram-test-api's getMe, the scripted accounts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from cli.config_check import COMMANDS, NEEDED_BY, check_settings, problems_for
from cli.online_checks import run_online_checks
from config import Settings
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.standins import free_port
from tests.standins.botfather import ScriptedTelegram
from tests.standins.moto_ec2 import moto_server  # noqa: F401
from tests.standins.stack import bot_token_shaped, fake_string_session
from tests.standins.stripe_api import StripeStandIn
from tests.test_cli import run, workdir  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SETTINGS = [
    "ENCRYPTION_KEY",
    "BOT_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "TELEGRAM_API_HASH",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MOONSHOT_API_KEY",
    "ADMIN_TELEGRAM_CHAT_ID",
]


def test_check_config_on_env_example_verbatim_exits_non_zero_naming_the_placeholders(workdir: Path) -> None:  # noqa: F811
    shutil.copy(ROOT / ".env.example", workdir / ".env")
    result = run(workdir, "check-config")
    assert result.returncode == 1, result.stdout
    for name in PLACEHOLDER_SETTINGS:
        assert f"{name} (still the .env.example placeholder)" in result.stdout, name
    assert "ADMIN_IDS is still the .env.example placeholder" in result.stdout
    assert "`python main.py run` cannot start." in result.stdout
    assert "replace-me" not in result.stdout and "sk_test_replace_me" not in result.stdout
    assert "SSH_SOURCE_CIDR=0.0.0.0/0 opens SSH" in result.stdout


def test_check_config_json_reports_every_component_and_which_commands_can_start(workdir: Path) -> None:  # noqa: F811
    shutil.copy(ROOT / ".env.example", workdir / ".env")
    result = run(workdir, "check-config", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    components = {c["component"]: c for c in report["components"]}
    assert set(components) == set(NEEDED_BY)
    assert components["cloud"]["needed_by"] == ["run", "worker"] and not components["cloud"]["ok"]
    assert report["can_start"] == {"run": False, "bot": False, "web": False, "worker": False}
    assert report["online"] is None


def _complete(**overrides) -> Settings:
    values = {
        "encryption_key": Fernet.generate_key().decode(),
        "bot_token": bot_token_shaped(),
        "admin_ids": "1",
        "stripe_secret_key": "sk_test_abc",
        "stripe_webhook_secret": "whsec_abc",
        "aws_access_key_id": "AKIAEXAMPLEEXAMPLE",
        "aws_secret_access_key": "s" * 40,
        "moonshot_api_key": "m",
        "admin_telegram_chat_id": -1,
        "ssh_source_cidr": "203.0.113.7/32",
        "public_base_url": "https://meetmatt.example",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("unset", "blocked"),
    [
        ("bot_token", {"run", "bot", "worker"}),
        ("stripe_secret_key", {"run"}),
        ("stripe_webhook_secret", {"run", "web"}),
        ("aws_access_key_id", {"run", "worker"}),
        ("public_base_url", {"run", "worker"}),  # the model gateway's address, written into every agent
        ("encryption_key", set(COMMANDS)),
    ],
)
def test_one_table_decides_which_commands_a_missing_setting_blocks(unset: str, blocked: set[str]) -> None:
    settings = _complete(**{unset: None})
    assert {command for command in COMMANDS if problems_for(command, settings)} == blocked


def test_a_placeholder_counts_as_not_set_and_blocks_the_commands_that_need_it() -> None:
    settings = _complete(stripe_secret_key="sk_test_replace_me")
    payments = next(r for r in check_settings(settings) if r.name == "payments")
    assert payments.missing == ["STRIPE_SECRET_KEY (still the .env.example placeholder)"]
    assert problems_for("run", settings) and not problems_for("web", settings)


def test_ssh_open_to_the_world_is_a_warning_and_a_narrow_cidr_is_not() -> None:
    def cloud(settings: Settings):
        return next(r for r in check_settings(settings) if r.name == "cloud")

    assert any("0.0.0.0/0" in w for w in cloud(_complete(ssh_source_cidr="0.0.0.0/0")).warnings)
    assert cloud(_complete()).warnings == []


def test_the_worker_needs_an_https_public_base_url_for_the_agents_model_gateway() -> None:
    cloud = {
        str(url): next(r for r in check_settings(_complete(public_base_url=url)) if r.name == "cloud")
        for url in (None, "meetmatt.example", "http://meetmatt.example")
    }
    assert any("PUBLIC_BASE_URL" in m and "/model/v1" in m for m in cloud["None"].missing)
    assert any("PUBLIC_BASE_URL" in m for m in cloud["meetmatt.example"].malformed)
    plain = cloud["http://meetmatt.example"]
    assert plain.ok and any("PUBLIC_BASE_URL is not https" in w for w in plain.warnings)


def test_commands_refuse_to_start_on_stderr_with_the_same_verdict_as_check_config(workdir: Path) -> None:  # noqa: F811
    env = {"ENCRYPTION_KEY": Fernet.generate_key().decode(), "OPS_PORT": ""}
    verdict = json.loads(run(workdir, "check-config", "--json", env=env).stdout)["can_start"]
    for command in ("web", "bot", "worker", "run"):
        result = run(workdir, command, env=env)
        assert not verdict[command]
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert f"`python main.py {command}` cannot start" in result.stderr
        assert "Traceback" not in result.stderr


# --- --online, against the stand-ins ---------------------------------------------------------------


@pytest.fixture
async def stripe_api():
    async with StripeStandIn() as api:
        yield api


def _online_settings(telegram_api, stripe_api, moto_server, **overrides) -> Settings:  # noqa: F811
    values = {
        "telegram_api_server": telegram_api.base_url,
        "stripe_api_base": stripe_api.base_url,
        "aws_endpoint_url": moto_server,
        "stripe_secret_key": "sk_test_" + "a" * 24,
    }
    values.update(overrides)
    return _complete(**values)


ACCOUNT_ENV = {
    "TELEGRAM_PHONE": "+15550007777",
    "TELEGRAM_API_ID": "1234",
    "TELEGRAM_API_HASH": "ab" * 16,
    "TELEGRAM_SESSION": "",
    "TELEGRAM_FALLBACK_1_PHONE": "+15550008888",
    "TELEGRAM_FALLBACK_1_API_ID": "1234",
    "TELEGRAM_FALLBACK_1_API_HASH": "cd" * 16,
}


async def test_online_checks_pass_against_the_stand_ins(telegram_api, stripe_api, moto_server) -> None:  # noqa: F811
    world = ScriptedTelegram()
    env = {k: v for k, v in ACCOUNT_ENV.items() if not k.startswith("TELEGRAM_FALLBACK_")}
    env["TELEGRAM_SESSION"] = fake_string_session()
    checks = await run_online_checks(
        _online_settings(telegram_api, stripe_api, moto_server), client_factory=world.client_for, env=env
    )
    by_name = {c.name.split(" (")[0]: c for c in checks}
    assert all(c.ok for c in checks), checks
    assert by_name["Bot API getMe"].detail.startswith("the token belongs to @")
    assert by_name["Stripe balance read"].detail == "Stripe accepted the key (test mode)"
    assert by_name["AWS sts get-caller-identity"].detail.startswith("AWS accepted the keys")
    assert [r.path for r in stripe_api.requests] == ["/v1/balance"]
    assert world.connects["+15550007777"] == 1


async def test_online_checks_name_each_failure_without_echoing_a_value(
    telegram_api,
    stripe_api,  # noqa: F811
    moto_server,
) -> None:  # noqa: F811
    world = ScriptedTelegram()
    world.deauthorize("+15550007777")
    settings = _online_settings(
        telegram_api,
        stripe_api,
        moto_server,
        stripe_secret_key="sk_live_" + "b" * 24,  # the stand-in takes test keys only
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
        telegram_api_server=f"http://127.0.0.1:{free_port()}",
    )
    env = {**ACCOUNT_ENV, "TELEGRAM_SESSION": fake_string_session()}
    checks = await run_online_checks(settings, client_factory=world.client_for, env=env)
    failed = {c.name: c.detail for c in checks if not c.ok}
    assert failed["Bot API getMe (BOT_TOKEN)"].startswith("cannot reach the Bot API")
    assert (
        failed["Stripe balance read (STRIPE_SECRET_KEY)"]
        == "Stripe refused STRIPE_SECRET_KEY (authentication failed)"
    )
    assert failed["AWS sts get-caller-identity (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"].startswith(
        "cannot reach AWS"
    )
    assert "not authorised" in failed["creator account TELEGRAM …7777 get_me"]
    fallback = failed["creator account TELEGRAM_FALLBACK_1 …8888 get_me"]
    assert "TELEGRAM_FALLBACK_1_SESSION is empty" in fallback
    text = json.dumps([c.as_dict() for c in checks])
    for secret in (settings.stripe_secret_key, settings.bot_token, settings.aws_secret_access_key):
        assert isinstance(secret, SecretStr) and secret.get_secret_value() not in text


def test_check_config_online_cli_reports_json_and_exits_by_the_checks(
    telegram_api,
    moto_server,  # noqa: F811
    tmp_path,
) -> None:
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    api = StripeStandIn()
    loop.run_until_complete(api.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        settings = _online_settings(telegram_api, api, moto_server)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
            "BOT_TOKEN": settings.bot_token.get_secret_value(),
            "TELEGRAM_API_SERVER": telegram_api.base_url,
            "STRIPE_API_BASE": api.base_url,
            "STRIPE_SECRET_KEY": "sk_test_" + "c" * 24,
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "s" * 40,
            "AWS_ENDPOINT_URL": moto_server,
            "MOONSHOT_API_KEY": "m",
            "PUBLIC_BASE_URL": "https://meetmatt.example",
        }
        ok = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "check-config", "--online", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        online = {c["check"]: c for c in json.loads(ok.stdout)["online"]}
        assert all(c["ok"] for c in online.values()) and len(online) == 3

        env["STRIPE_SECRET_KEY"] = "sk_live_" + "d" * 24
        bad = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "check-config", "--online"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bad.returncode == 1
        assert "[online FAILED] Stripe balance read (STRIPE_SECRET_KEY): Stripe refused" in bad.stdout
        assert env["STRIPE_SECRET_KEY"] not in bad.stdout + bad.stderr
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
