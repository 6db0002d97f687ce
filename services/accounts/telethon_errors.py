"""What a Telethon error means for a creator account (DESIGN section 4).

`classify(exc)` returns the account status the error implies and, for flood waits, how long the
account must rest; None means the error is not about the account (network trouble, a bug, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from telethon import errors

from models.enums import AccountStatus
from services.infra.logging_setup import redact


@dataclass(frozen=True)
class AccountProblem:
    status: AccountStatus
    cooldown_seconds: int | None
    reason: str  # the error's class and text, redacted: safe for last_error and alerts


_LIMITED = (errors.PeerFloodError, errors.UserRestrictedError)
_BANNED = (errors.UserDeactivatedBanError, errors.UserDeactivatedError, errors.PhoneNumberBannedError)
_SESSION_DEAD = (
    errors.AuthKeyUnregisteredError,
    errors.AuthKeyInvalidError,
    errors.SessionRevokedError,
    errors.SessionExpiredError,
    errors.AuthKeyDuplicatedError,
    errors.SessionPasswordNeededError,
)


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def classify(exc: BaseException) -> AccountProblem | None:
    """The account-level meaning of a Telethon error, or None when it says nothing about the account."""
    if isinstance(exc, errors.FloodWaitError | errors.FloodPremiumWaitError):
        return AccountProblem(AccountStatus.COOLING_DOWN, max(1, int(exc.seconds)), describe(exc))
    if isinstance(exc, _LIMITED):
        return AccountProblem(AccountStatus.LIMITED, None, describe(exc))
    if isinstance(exc, _BANNED):
        return AccountProblem(AccountStatus.BANNED, None, describe(exc))
    if isinstance(exc, _SESSION_DEAD):
        return AccountProblem(AccountStatus.SESSION_DEAD, None, describe(exc))
    return None
