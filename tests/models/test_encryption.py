from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from tortoise import connections

from models import AccountStatus, TelegramAccount
from models.fields import EncryptionKeyError, install_cipher
from tests.conftest import TEST_ENCRYPTION_KEY

API_HASH = "0123456789abcdef0123456789abcdef"
SESSION = "1" + "Q" * 300


async def _raw_row(account_id: int) -> dict:
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        'SELECT api_hash, session FROM "telegram_account" WHERE id = ' + str(int(account_id))
    )
    return dict(rows[0])


async def test_encrypted_columns_hold_no_plaintext(db: str) -> None:
    account = await TelegramAccount.create(
        phone="+15550001111", api_id=1, api_hash=API_HASH, session=SESSION, status=AccountStatus.ACTIVE
    )
    raw = await _raw_row(account.id)
    assert API_HASH not in raw["api_hash"] and SESSION not in raw["session"]
    assert raw["api_hash"].startswith("gAAAAA")
    fresh = await TelegramAccount.get(id=account.id)
    assert fresh.api_hash == API_HASH and fresh.session == SESSION


async def test_reading_with_a_wrong_key_names_the_setting(db: str) -> None:
    account = await TelegramAccount.create(phone="+15550002222", api_id=1, api_hash=API_HASH)
    install_cipher(Fernet.generate_key().decode())
    try:
        with pytest.raises(EncryptionKeyError, match="ENCRYPTION_KEY"):
            await TelegramAccount.get(id=account.id)
    finally:
        install_cipher(TEST_ENCRYPTION_KEY)


def test_malformed_key_is_refused_with_the_setting_name() -> None:
    with pytest.raises(EncryptionKeyError, match="ENCRYPTION_KEY"):
        install_cipher("not-a-key")
    install_cipher(TEST_ENCRYPTION_KEY)


async def test_missing_key_is_a_clear_error(db: str) -> None:
    install_cipher(None)
    try:
        with pytest.raises(EncryptionKeyError, match="ENCRYPTION_KEY is not set"):
            await TelegramAccount.create(phone="+15550003333", api_id=1, api_hash=API_HASH)
    finally:
        install_cipher(TEST_ENCRYPTION_KEY)
