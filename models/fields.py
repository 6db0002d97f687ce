"""An encrypted text field: Fernet at rest, plaintext in Python.

The key is installed once at start-up with `install_cipher()` (services.infra.db does it from
ENCRYPTION_KEY). Reading a value written with another key fails loudly, naming the setting.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tortoise.fields import TextField

_cipher: MultiFernet | None = None


class EncryptionKeyError(RuntimeError):
    """The ENCRYPTION_KEY setting is missing, malformed, or not the key the data was written with."""


def install_cipher(key: str | None, old_keys: list[str] | None = None) -> None:
    """Install the Fernet key (and optional older keys still accepted for reading)."""
    global _cipher
    if not key:
        _cipher = None
        return
    try:
        keys = [Fernet(key.encode())] + [Fernet(k.encode()) for k in old_keys or []]
    except (ValueError, TypeError) as exc:
        raise EncryptionKeyError(
            "ENCRYPTION_KEY is not a valid Fernet key (make one with `python main.py gen-key`)"
        ) from exc
    _cipher = MultiFernet(keys)


def _require_cipher() -> MultiFernet:
    if _cipher is None:
        raise EncryptionKeyError(
            "ENCRYPTION_KEY is not set: encrypted columns cannot be read or written "
            "(make one with `python main.py gen-key`)"
        )
    return _cipher


def encrypt_text(plain: str) -> str:
    return _require_cipher().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _require_cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "cannot decrypt a stored secret with ENCRYPTION_KEY: the key is not the one the data "
            "was written with (or the value was altered)"
        ) from None


class EncryptedTextField(TextField):
    """Text stored as a Fernet token. None stays None."""

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        return encrypt_text(str(value))

    def to_python_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and value.startswith("gAAAAA"):
            return decrypt_text(value)
        return value
