"""The composition root (cli/root.py): each command gets the clients it needs, built once, and every
one of them is closed when the command ends."""

from __future__ import annotations

import secrets

from cli.root import COMMAND, Needs, open_root
from config import Settings
from services.payments import stripe_api


def _settings(**values: object) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(27)}",
        stripe_secret_key="sk_test_" + secrets.token_hex(12),
        job_lease_seconds=42,
        **values,
    )


async def test_an_operator_command_gets_the_job_queue_and_nothing_it_does_not_use() -> None:
    async with open_root(_settings(), Needs(database=False)) as root:
        assert root.queue.lease.total_seconds() == 42
        assert (root.bot, root.messenger, root.payments, root.pool, root.background) == (None,) * 5
    assert COMMAND.database and not (COMMAND.bot or COMMAND.payments or COMMAND.background)


async def test_the_bot_and_one_stripe_client_are_built_once_and_closed_on_exit() -> None:
    async with open_root(_settings(), Needs(database=False, bot=True, payments=True)) as root:
        assert root.bot is not None and root.messenger is not None and root.payments is not None
        assert root.messenger.bot is root.bot  # the one Messenger speaks through the one Bot
        client = root.payments.client
        assert client in stripe_api._http_clients  # open: its HTTP session is the root's to close
        await root.bot.session.create_session()  # as the first Bot API call would
    assert client not in stripe_api._http_clients  # the root closed the Stripe client
    assert root.bot.session._session is None or root.bot.session._session.closed


async def test_without_a_stripe_key_the_bot_runs_with_payments_off() -> None:
    settings = _settings().model_copy(update={"stripe_secret_key": None})
    async with open_root(settings, Needs(database=False, bot=True, payments=True)) as root:
        assert root.bot is not None and root.payments is None
