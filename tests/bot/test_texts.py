"""Every text that carries a user-typed value escapes it for HTML parse mode."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import texts
from models import AdminAction, Instance, Order, TelegramAccount
from services.payments.packages import DEFAULT_PACKAGES

EVIL = '<script>alert("x")</script>&<b>'
ESCAPED = '&lt;script&gt;alert("x")&lt;/script&gt;&amp;&lt;b&gt;'


def test_customer_texts_escape_what_users_typed() -> None:
    assert ESCAPED in texts.welcome(EVIL, DEFAULT_PACKAGES)
    data = {"bot_name": EVIL, "bot_username": EVIL, "description": EVIL, "package": "starter"}
    summary = texts.summary(data, DEFAULT_PACKAGES[0])
    assert summary.count(ESCAPED) == 3 and "<script>" not in summary
    order = Order(id=5, bot_name=EVIL, status="awaiting_payment")
    assert ESCAPED in texts.my_open_order(order)
    instance = Instance(id=3, bot_username=EVIL, status="active", expires_at=datetime(2027, 1, 2, tzinfo=UTC))
    assert ESCAPED in texts.my_bot(instance) and "2027-01-02" in texts.my_bot(instance)
    assert "<script>" not in texts.renewal_pay(order, instance, DEFAULT_PACKAGES[0])


def test_admin_texts_escape_stored_values() -> None:
    account = TelegramAccount(
        id=1,
        phone="+15550001111",
        api_id=1,
        status="active",
        priority=3,
        last_error=EVIL,
        created_bots=1,
        bot_limit=20,
        source="db",
    )
    text = texts.admin_account(account)
    assert ESCAPED in text and "+1555000" not in text and "…1111" in text
    instance = Instance(
        id=2,
        bot_username=EVIL,
        status="unhealthy",
        instance_type="t3.small",
        last_health={"log": EVIL},
        repair_attempts=1,
    )
    instance.order_id = instance.customer_id = None  # an unsaved row has no relation ids yet
    assert "<script>" not in texts.admin_instance(instance) and "<script>" not in texts.admin_instance_line(
        instance
    )
    order = Order(
        id=9,
        bot_name=EVIL,
        bot_username=None,
        status="paid",
        package="pro",
        amount=7900,
        currency="usd",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert ESCAPED in texts.admin_orders([order], "paid")
    action = AdminAction(action="account_disable", target=EVIL, detail=EVIL)
    assert texts.admin_action_echo(action, EVIL).count(ESCAPED) == 3


def test_package_lines_list_every_package_with_price_and_term() -> None:
    lines = texts.package_lines(DEFAULT_PACKAGES)
    assert len(lines) == len(DEFAULT_PACKAGES)
    assert "<b>Starter</b>: $29.00 for 30 days" in lines[0]
