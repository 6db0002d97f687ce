"""`accounts login` with Telethon's login surface scripted: code, 2FA, wrong code, wrong password, banned."""

from __future__ import annotations

import secrets

import pytest
from tortoise import connections

from cli.accounts import LoginError, store_login, telegram_login
from models import AccountStatus, AdminAction, TelegramAccount
from tests.standins.botfather import ScriptedLogin

PHONE = "+15550007777"
API_HASH = secrets.token_hex(16)


def answers(*values: str):
    """An input function that answers the prompts in order and records them."""
    queue = list(values)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return queue.pop(0)

    ask.asked = asked  # type: ignore[attr-defined]
    return ask


def no_input(prompt: str) -> str:
    raise AssertionError(f"unexpected prompt: {prompt}")


async def _login(login: ScriptedLogin, ask_code, ask_password=no_input, said: list[str] | None = None):
    return await telegram_login(
        login.client_factory,
        phone=PHONE,
        api_id=12345,
        api_hash=API_HASH,
        ask_code=ask_code,
        ask_password=ask_password,
        say=(said.append if said is not None else print),
    )


async def test_login_with_the_code_returns_a_string_session_and_disconnects() -> None:
    login = ScriptedLogin(code="24680")
    result = await _login(login, answers("24680"))
    assert result.phone == PHONE and result.session.startswith("1") and len(result.session) > 300
    assert login.codes_sent == [PHONE]
    assert login.clients[0].connected is False
    assert result.session not in repr(result)


async def test_login_with_two_step_verification_asks_for_the_password() -> None:
    login = ScriptedLogin(code="24680", password="correct horse")
    ask_password = answers("correct horse")
    result = await _login(login, answers("2 4 6 8 0"), ask_password)  # spaces typed in the code are fine
    assert result.session
    assert ask_password.asked == ["Two-step verification password: "]
    assert login.sign_ins == [{"code": True, "password": False}, {"code": False, "password": True}]


async def test_a_wrong_code_is_explained_and_asked_again() -> None:
    login = ScriptedLogin(code="24680")
    said: list[str] = []
    result = await _login(login, answers("11111", "24680"), said=said)
    assert result.session
    assert said == ["That code is wrong. Check the message from Telegram and try again (2 left)."]


async def test_three_wrong_codes_end_the_login_with_a_clear_error() -> None:
    login = ScriptedLogin(code="24680")
    with pytest.raises(LoginError, match="wrong too many times"):
        await _login(login, answers("1", "2", "3"), said=[])
    assert login.clients[0].connected is False


async def test_a_wrong_password_is_explained_and_asked_again() -> None:
    login = ScriptedLogin(code="24680", password="right")
    said: list[str] = []
    result = await _login(login, answers("24680"), answers("wrong", "right"), said)
    assert result.session
    assert said == ["That password is wrong. Try again (2 left)."]


async def test_three_wrong_passwords_end_the_login() -> None:
    login = ScriptedLogin(code="24680", password="right")
    with pytest.raises(LoginError, match="password was wrong"):
        await _login(login, answers("24680"), answers("a", "b", "c"), said=[])


async def test_a_banned_number_is_refused_plainly_without_asking_for_a_code() -> None:
    login = ScriptedLogin(banned_phones={PHONE})
    with pytest.raises(LoginError) as caught:
        await _login(login, no_input)
    assert "banned" in str(caught.value) and "7777" in str(caught.value) and PHONE not in str(caught.value)


async def test_a_ban_revealed_at_sign_in_is_refused_plainly_and_the_client_disconnects() -> None:
    login = ScriptedLogin(code="24680", banned_at_sign_in=True)
    with pytest.raises(LoginError, match="banned"):
        await _login(login, answers("24680"))
    assert login.clients[0].connected is False


async def test_store_login_keeps_the_session_encrypted_and_revives_a_dead_account(db: str) -> None:
    login = ScriptedLogin(code="1")
    result = await _login(login, answers("1"))
    account, created = await store_login(result, api_id=12345, api_hash=API_HASH, priority=5)
    assert created and account.status == AccountStatus.ACTIVE and account.priority == 5
    rows = await connections.get("default").execute_query_dict(
        "SELECT session, api_hash FROM telegram_account WHERE id = " + str(account.id)
    )
    assert rows[0]["session"] != result.session and result.session not in rows[0]["session"]
    assert API_HASH not in rows[0]["api_hash"]
    assert (await TelegramAccount.get(id=account.id)).session == result.session

    account.status = AccountStatus.SESSION_DEAD
    await account.save()
    again = await _login(ScriptedLogin(code="1"), answers("1"))
    account2, created2 = await store_login(again, api_id=12345, api_hash=API_HASH)
    assert not created2 and account2.id == account.id
    stored = await TelegramAccount.get(id=account.id)
    assert (stored.status, stored.session, stored.priority) == (AccountStatus.ACTIVE, again.session, 5)
    assert await AdminAction.filter(action="accounts.login").count() == 2


async def test_store_login_is_audited_like_every_admin_action(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = await _login(ScriptedLogin(code="1"), answers("1"))
    with caplog.at_level("INFO", logger="services.operations.audit"):
        account, _ = await store_login(result, api_id=12345, api_hash=API_HASH)
    [row] = await AdminAction.filter(action="accounts.login")
    assert (row.target, row.detail, row.admin_telegram_id) == (f"account:{account.id}", "created", None)
    assert f"admin action action=accounts.login target=account:{account.id} admin=cli" in caplog.text
