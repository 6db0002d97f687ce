from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from cli.config_check import check_settings
from config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_names_every_setting_with_placeholders_only() -> None:
    text = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert re.search(rf"^#?\s*{name.upper()}=", text, re.M), f"{name.upper()} missing from .env.example"
    settings = Settings(_env_file=str(ROOT / ".env.example"))
    reports = {r.name: r for r in check_settings(settings)}
    # the example's values are placeholders, not working credentials
    assert not reports["database"].ok
    assert "ENCRYPTION_KEY (still the .env.example placeholder)" in " ".join(reports["database"].missing)


def _complete(**overrides) -> Settings:
    values = {
        "encryption_key": Fernet.generate_key().decode(),
        "bot_token": "123456:" + "x" * 35,
        "admin_ids": "1",
        "stripe_secret_key": "sk_test_abc",
        "stripe_webhook_secret": "whsec_abc",
        "telegram_api_id": 1,
        "telegram_api_hash": "a" * 32,
        "telegram_phone": "+15550000000",
        "telegram_session": "1abc",
        "aws_access_key_id": "k",
        "aws_secret_access_key": "s",
        "moonshot_api_key": "m",
        "admin_telegram_chat_id": -1,
        "public_base_url": "https://matt.example",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def test_a_complete_configuration_passes_every_component() -> None:
    assert all(r.ok for r in check_settings(_complete()))


@pytest.mark.parametrize(
    ("overrides", "component", "fragment"),
    [
        ({"bot_token": "nope"}, "bot", "BOT_TOKEN"),
        ({"telegram_mode": "webhook", "public_base_url": None}, "bot", "PUBLIC_BASE_URL"),
        ({"stripe_webhook_secret": "abc"}, "stripe webhook", "STRIPE_WEBHOOK_SECRET"),
        ({"telegram_api_hash": "short"}, "creator pool", "TELEGRAM_API_HASH"),
        ({"aws_region": "mars"}, "cloud", "AWS_REGION"),
        ({"openclaw_version": "latest"}, "cloud", "OPENCLAW_VERSION"),
        ({"ec2_ami_id": "ubuntu"}, "cloud", "EC2_AMI_ID"),
        ({"model_upstream_base_url": "api.moonshot.ai"}, "cloud", "MODEL_UPSTREAM_BASE_URL"),
        ({"model_gateway_path": "model v1"}, "cloud", "MODEL_GATEWAY_PATH"),
        ({"alert_webhook_url": "ftp://x"}, "alerts", "ALERT_WEBHOOK_URL"),
    ],
)
def test_malformed_settings_are_named_per_component(overrides, component: str, fragment: str) -> None:
    report = next(r for r in check_settings(_complete(**overrides)) if r.name == component)
    assert not report.ok and fragment in " ".join(report.missing + report.malformed)


def test_managed_mode_does_not_need_the_creator_pool() -> None:
    settings = _complete(
        bot_creation_mode="managed",
        telegram_api_id=None,
        telegram_api_hash=None,
        telegram_phone=None,
        telegram_session=None,
    )
    pool = next(r for r in check_settings(settings) if r.name == "creator pool")
    assert not pool.needed_by_run
