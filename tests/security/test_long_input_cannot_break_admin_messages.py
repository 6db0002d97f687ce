"""Attack: fill a field that admins see (a bot name, an error text from outside) with characters
that grow when escaped, so that a cut escaped text splits an HTML entity or a list passes Telegram's
4096 characters, and the admin message is refused: admins lose sight of orders or accounts.
Texts are cut BEFORE they are escaped."""

from __future__ import annotations

import re

from bot import texts
from models import Customer, Order, TelegramAccount
from tests.bot.harness import BotHarness, FakeUser, last_sent


def well_formed(text: str) -> bool:
    """Every & starts a whole entity: nothing was cut inside one."""
    return re.search(r"&(?!amp;|lt;|gt;|quot;)", text) is None


async def test_an_account_error_full_of_ampersands_is_cut_then_escaped(db):
    account = await TelegramAccount.create(
        phone="+15550001111", api_id=1, api_hash="f" * 32, last_error="&" * 400
    )
    card, line = texts.admin_account(account), texts.admin_account_line(account)
    assert card.endswith("&amp;" * 299 + "…") and line.endswith("&amp;" * 59 + "…")
    assert well_formed(card) and well_formed(line)


async def test_twenty_orders_named_to_bloat_fit_one_admin_message(harness: BotHarness, admin: FakeUser):
    customer = await Customer.create(telegram_id=555)
    for _ in range(20):
        await Order.create(customer=customer, package="starter", bot_name="<&>" * 21, bot_username=None)
    listing = last_sent(await harness.send(admin, "/orders"))
    assert len(listing.text) < 4096
    assert listing.text.count("“") == 20 and "&lt;&amp;&gt;" in listing.text and "<&>" not in listing.text
