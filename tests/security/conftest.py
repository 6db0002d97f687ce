"""Attacker tests share the fixtures of the layers they attack: the webhook server, the bot harness,
and the whole stand-in stack."""

from tests.bot.fixtures import admin, alice, harness, payments, settings, stripe_api  # noqa: F401
from tests.e2e.bot_fixtures import live_bot, telegram_api  # noqa: F401
from tests.e2e.conftest import make_stack  # noqa: F401
from tests.standins.moto_ec2 import moto_server  # noqa: F401
from tests.webhooks.conftest import order, server  # noqa: F401
