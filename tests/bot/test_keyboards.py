"""Buttons services ask for: URLs stay URLs, actions become this bot's own callback data."""

from __future__ import annotations

import pytest

from bot.callbacks import RenewCb
from bot.keyboards import url_buttons
from services.notifications.customers import RENEW_ACTION, action


def test_a_renew_action_becomes_the_renew_callback_and_a_url_stays_a_url() -> None:
    markup = url_buttons([("Renew @ada_bot", action(RENEW_ACTION, 42)), ("Open", "https://t.me/ada_bot")])
    renew, open_ = (row[0] for row in markup.inline_keyboard)
    assert renew.callback_data == RenewCb(instance_id=42).pack() and renew.url is None
    assert open_.url == "https://t.me/ada_bot" and open_.callback_data is None


@pytest.mark.parametrize("target", ["action:delete:1", "action:renew:x"])
def test_an_unknown_or_malformed_action_is_refused(target: str) -> None:
    with pytest.raises(ValueError):
        url_buttons([("?", target)])
