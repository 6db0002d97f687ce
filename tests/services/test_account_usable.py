"""`usable` is the one rule for "the pool may pick this account now"; the pool and /stats both use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import AccountStatus, TelegramAccount
from services.accounts.account_status import bot_cap, usable

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
PAST, FUTURE = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)


def _account(**fields: object) -> TelegramAccount:
    values: dict[str, object] = dict(
        phone="+15550000001", api_id=1, status=AccountStatus.ACTIVE, session="s", created_bots=0, bot_limit=20
    )
    values.update(fields)
    return TelegramAccount(**values)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"status": AccountStatus.COOLING_DOWN, "cooldown_until": PAST}, True),
        ({"status": AccountStatus.LIMITED, "cooldown_until": PAST}, True),
        ({"status": AccountStatus.COOLING_DOWN, "cooldown_until": FUTURE}, False),
        ({"status": AccountStatus.LIMITED, "cooldown_until": FUTURE}, False),
        ({"cooldown_until": FUTURE}, False),  # active, but a cooldown still runs
        ({"session": None}, False),
        ({"created_bots": 20}, False),
        ({"status": AccountStatus.FULL}, False),
        ({"status": AccountStatus.BANNED}, False),
        ({"status": AccountStatus.SESSION_DEAD}, False),
        ({"status": AccountStatus.DISABLED}, False),
    ],
)
def test_usable_means_active_in_effect_with_a_session_and_room_under_the_cap(
    fields: dict[str, object], expected: bool
) -> None:
    account = _account(**fields)
    assert usable(account, NOW, bot_cap(account, 20)) is expected


def test_the_bot_cap_is_the_accounts_own_limit_never_above_the_pools() -> None:
    assert bot_cap(_account(bot_limit=5), 20) == 5
    assert bot_cap(_account(bot_limit=50), 20) == 20
    assert bot_cap(_account(bot_limit=0), 20) == 20
