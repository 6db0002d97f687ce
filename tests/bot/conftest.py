from tests.bot.fixtures import admin, alice, harness, payments, settings, stripe_api  # noqa: F401
