"""Attacker tests share the webhook server and bot harness fixtures of the layers they attack."""

from tests.bot.fixtures import admin, alice, harness, payments, settings, stripe_api  # noqa: F401
from tests.webhooks.conftest import order, server  # noqa: F401
