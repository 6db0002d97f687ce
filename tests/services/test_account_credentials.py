"""One rule for a creator account's phone and API hash: `accounts login`, `check-config` and the import
from the environment accept and refuse the same values."""

from __future__ import annotations

import argparse

import pytest

from cli.accounts import login_inputs
from cli.config_check import check_settings
from config import Settings
from services.accounts.credentials import normalise_api_hash, normalise_phone
from services.accounts.env_import import read_env_accounts
from services.infra.operator_errors import OperatorError

UPPER_HASH = "AB12CD34" * 4


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+15550001234", "+15550001234"),
        ("15550001234", "+15550001234"),
        ("+1 (555) 000-1234", "+15550001234"),
        ("+123456", None),  # 6 digits
        ("+1234567890123456", None),  # 16 digits
        ("+1555abc1234", None),
        ("", None),
    ],
)
def test_normalise_phone(text: str, phone: str | None) -> None:
    assert normalise_phone(text) == phone


@pytest.mark.parametrize(
    ("text", "api_hash"),
    [
        ("ab" * 16, "ab" * 16),
        (UPPER_HASH, UPPER_HASH.lower()),
        (f"  {'ab' * 16}\n", "ab" * 16),
        ("ab" * 15, None),
        ("g" * 32, None),
    ],
)
def test_normalise_api_hash(text: str, api_hash: str | None) -> None:
    assert normalise_api_hash(text) == api_hash


def _settings(api_hash: str, phone: str) -> Settings:
    return Settings(_env_file=None, telegram_api_id=12345, telegram_api_hash=api_hash, telegram_phone=phone)


def _pool_problems(settings: Settings) -> list[str]:
    pool = next(r for r in check_settings(settings) if r.name == "creator pool")
    return pool.malformed


def test_an_upper_case_api_hash_and_a_spaced_phone_pass_check_config_login_and_import_alike() -> None:
    phone = "+1 (555) 000-1234"
    settings = _settings(UPPER_HASH, phone)
    assert _pool_problems(settings) == []
    args = argparse.Namespace(phone=None, api_id=None)
    assert login_inputs(args, settings) == ("+15550001234", 12345, UPPER_HASH.lower())
    env = {"TELEGRAM_PHONE": phone, "TELEGRAM_API_ID": "12345", "TELEGRAM_API_HASH": UPPER_HASH}
    accounts, problems = read_env_accounts(env)
    assert problems == [] and (accounts[0].phone, accounts[0].api_hash) == (
        "+15550001234",
        UPPER_HASH.lower(),
    )


def test_a_malformed_api_hash_is_refused_by_check_config_login_and_import_alike() -> None:
    settings = _settings("z" * 32, "+15550001234")
    assert "TELEGRAM_API_HASH (expected 32 hex characters)" in _pool_problems(settings)
    with pytest.raises(OperatorError, match="32 hexadecimal characters"):
        login_inputs(argparse.Namespace(phone=None, api_id=None), settings)
    env = {"TELEGRAM_PHONE": "+15550001234", "TELEGRAM_API_ID": "12345", "TELEGRAM_API_HASH": "z" * 32}
    assert read_env_accounts(env) == (
        [],
        ["TELEGRAM_API_HASH must be 32 hexadecimal characters (from my.telegram.org)"],
    )
