"""Accounts from TELEGRAM_* and TELEGRAM_FALLBACK_<n>_*: StringSession or session file, stored encrypted."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession, StringSession

from cli.accounts import LoginResult, store_login
from models import AccountStatus, TelegramAccount
from services.accounts.env_import import (
    SessionError,
    env_session_wins,
    import_env_accounts,
    load_session,
    read_env_accounts,
)
from tests.standins.botfather import fake_string_session


def session_file(path: Path) -> tuple[Path, bytes]:
    """A real Telethon .session file (SQLite) with a random auth key."""
    session = SQLiteSession(str(path))
    session.set_dc(4, "149.154.167.91", 443)
    key = os.urandom(256)
    session.auth_key = AuthKey(key)
    session.save()
    session.close()
    return Path(str(path) + ".session") if not str(path).endswith(".session") else path, key


def test_a_session_file_is_converted_to_an_equivalent_string_session(tmp_path: Path) -> None:
    path, key = session_file(tmp_path / "creator.session")
    string = load_session(str(path))
    restored = StringSession(string)
    assert restored.auth_key.key == key and restored.dc_id == 4 and restored.port == 443
    assert load_session(str(tmp_path / "creator")) == string  # the path without .session works too


def test_a_string_session_is_kept_as_it_is() -> None:
    value = fake_string_session()
    assert load_session(f"  {value}\n") == value


@pytest.mark.parametrize("value", ["not-a-session", "1" + "A" * 40])
def test_garbage_sessions_are_refused_naming_the_variable_not_the_value(value: str) -> None:
    with pytest.raises(SessionError) as caught:
        load_session(value, variable="TELEGRAM_FALLBACK_2_SESSION")
    assert "TELEGRAM_FALLBACK_2_SESSION" in str(caught.value) and value not in str(caught.value)


def test_a_missing_session_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="does not exist"):
        load_session(str(tmp_path / "nope.session"))


def test_read_env_accounts_finds_the_primary_and_any_numbered_fallbacks_in_order(tmp_path: Path) -> None:
    path, _ = session_file(tmp_path / "fallback7.session")
    hashes = [secrets.token_hex(16) for _ in range(4)]
    env = {
        "TELEGRAM_API_ID": "111",
        "TELEGRAM_API_HASH": hashes[0],
        "TELEGRAM_PHONE": "+1 555 000 0001",
        "TELEGRAM_SESSION": fake_string_session(),
        "TELEGRAM_FALLBACK_7_API_ID": "777",
        "TELEGRAM_FALLBACK_7_API_HASH": hashes[1],
        "TELEGRAM_FALLBACK_7_PHONE": "15550000007",
        "TELEGRAM_FALLBACK_7_SESSION": str(path),
        "TELEGRAM_FALLBACK_2_API_ID": "222",
        "TELEGRAM_FALLBACK_2_API_HASH": hashes[2],
        "TELEGRAM_FALLBACK_2_PHONE": "+15550000002",
        "TELEGRAM_FALLBACK_3_PHONE": "+15550000003",  # incomplete
        "TELEGRAM_FALLBACK_4_API_ID": "abc",
        "TELEGRAM_FALLBACK_4_API_HASH": hashes[3],
        "TELEGRAM_FALLBACK_4_PHONE": "+15550000004",
    }
    accounts, problems = read_env_accounts(env)
    assert [(a.label, a.phone, a.api_id, a.priority) for a in accounts] == [
        ("TELEGRAM", "+15550000001", 111, 10),
        ("TELEGRAM_FALLBACK_2", "+15550000002", 222, 12),
        ("TELEGRAM_FALLBACK_7", "+15550000007", 777, 17),
    ]
    assert accounts[1].session is None and accounts[2].session.startswith("1")
    assert problems == [
        "TELEGRAM_FALLBACK_3: missing TELEGRAM_FALLBACK_3_API_ID, TELEGRAM_FALLBACK_3_API_HASH",
        "TELEGRAM_FALLBACK_4_API_ID must be a number (from my.telegram.org)",
    ]
    for account in accounts:
        assert account.api_hash not in repr(account)


async def test_import_stores_encrypted_and_a_second_import_updates_without_duplicates(db: str) -> None:
    env = {
        "TELEGRAM_API_ID": "111",
        "TELEGRAM_API_HASH": secrets.token_hex(16),
        "TELEGRAM_PHONE": "+15550000001",
        "TELEGRAM_SESSION": fake_string_session(),
        "TELEGRAM_FALLBACK_1_API_ID": "222",
        "TELEGRAM_FALLBACK_1_API_HASH": secrets.token_hex(16),
        "TELEGRAM_FALLBACK_1_PHONE": "+15550000002",
    }
    report = await import_env_accounts(env, bot_limit=15)
    assert report.created == ["…0001 (TELEGRAM)", "…0002 (TELEGRAM_FALLBACK_1)"] and report.errors == []
    primary = await TelegramAccount.get(phone="+15550000001")
    fallback = await TelegramAccount.get(phone="+15550000002")
    assert (primary.status, primary.source, primary.bot_limit, primary.session) == (
        AccountStatus.ACTIVE,
        "env",
        15,
        env["TELEGRAM_SESSION"],
    )
    assert fallback.status == AccountStatus.SESSION_DEAD and "accounts login" in fallback.last_error

    # an admin changed the primary's priority; the fallback gets a session: re-import keeps / revives
    primary.priority = 1
    await primary.save()
    env["TELEGRAM_FALLBACK_1_SESSION"] = fake_string_session()
    report = await import_env_accounts(env)
    assert report.updated == ["…0001 (TELEGRAM)", "…0002 (TELEGRAM_FALLBACK_1)"] and report.created == []
    assert await TelegramAccount.all().count() == 2
    assert (await TelegramAccount.get(id=primary.id)).priority == 1
    fallback = await TelegramAccount.get(id=fallback.id)
    assert (fallback.status, fallback.session) == (AccountStatus.ACTIVE, env["TELEGRAM_FALLBACK_1_SESSION"])


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored_from", "stored_dead", "env_mtime", "wins"),
    [
        (None, False, None, True),  # a session the environment put there: the environment manages it
        ("env", False, None, True),
        ("login", False, None, False),  # a string of unknown age never beats a working login
        ("login", False, NOW - timedelta(hours=1), False),  # a session file older than the login
        ("login", False, NOW + timedelta(hours=1), True),  # a session file saved after the login
        ("login", True, None, True),  # the login's session died: anything is better
    ],
)
def test_env_session_wins_only_when_newer_than_a_login(stored_from, stored_dead, env_mtime, wins) -> None:
    assert (
        env_session_wins(stored_from=stored_from, stored_at=NOW, stored_dead=stored_dead, env_mtime=env_mtime)
        is wins
    )


async def test_import_env_at_start_keeps_the_session_accounts_login_refreshed_and_says_so(
    db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = fake_string_session()
    env = {
        "TELEGRAM_API_ID": "111",
        "TELEGRAM_API_HASH": secrets.token_hex(16),
        "TELEGRAM_PHONE": "+15550000001",
        "TELEGRAM_SESSION": old,
    }
    await import_env_accounts(env)
    fresh = fake_string_session()
    await store_login(
        LoginResult(phone="+15550000001", session=fresh, user_id=1, name="Creator"),
        api_id=111,
        api_hash=env["TELEGRAM_API_HASH"],
    )

    with caplog.at_level("WARNING", logger="services.accounts.env_import"):
        report = await import_env_accounts(env)  # the next `python main.py run`
    account = await TelegramAccount.get(phone="+15550000001")
    assert account.session == fresh and account.session_from == "login"
    assert report.kept == ["…0001 (TELEGRAM)"] and report.updated == []
    assert "TELEGRAM_SESSION not applied" in caplog.text and "newer" in caplog.text
    assert old not in caplog.text and fresh not in caplog.text

    # a session file saved after the login is newer: it wins
    path, _ = session_file(tmp_path / "newer.session")
    later = (account.session_updated_at + timedelta(minutes=5)).timestamp()
    os.utime(path, (later, later))
    report = await import_env_accounts({**env, "TELEGRAM_SESSION": str(path)})
    account = await TelegramAccount.get(phone="+15550000001")
    assert report.updated == ["…0001 (TELEGRAM)"] and account.session == load_session(str(path))
    assert account.session_from == "env"
