"""POST /webhooks/stripe on the real server, with bodies signed exactly as Stripe signs them."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from models import Alert, Customer, Job, Order, OrderStatus, StripeEvent
from services.jobs.kinds import DELIVER_ALERT, NOTIFY_CUSTOMER, PROVISION
from services.notifications.customer_text import decode, plain
from services.payments.stripe_events import StripeEventProcessor
from services.payments.stripe_paid import PaidSessions
from tests.webhooks.conftest import make_event, paid_session, serve, sign, webhook_settings
from webhooks.app import STRIPE_WEBHOOK_KEY


async def _nothing_written(order: Order | None = None) -> None:
    assert await StripeEvent.all().count() == 0
    assert await Job.all().count() == 0
    assert await Alert.all().count() == 0
    if order is not None:
        assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT


async def test_paid_session_marks_the_order_paid_and_enqueues_one_provision_job(server, order):
    session = paid_session(order)
    event = make_event("checkout.session.completed", session)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "paid")
    paid = await Order.get(id=order.id)
    assert paid.status == OrderStatus.PAID
    assert (paid.amount, paid.currency) == (2900, "usd")
    assert paid.stripe_session_id == session["id"]
    assert paid.stripe_payment_intent == session["payment_intent"]
    assert paid.paid_at is not None
    [job] = await Job.all()
    assert (job.kind, job.key) == (PROVISION, f"provision:order:{order.id}")
    assert job.payload == {"order_id": order.id}
    [row] = await StripeEvent.all()
    assert (row.event_id, row.type, row.outcome) == (event["id"], "checkout.session.completed", "paid")
    assert row.processed_at is not None and row.payload["id"] == event["id"]


async def test_redelivery_is_answered_200_and_does_nothing(server, order):
    event = make_event("checkout.session.completed", paid_session(order))
    assert (await server.post_event(event))[0] == 200
    status, body = await server.post_event(event)
    assert (status, body["outcome"]) == (200, "duplicate")
    assert await Job.filter(kind=PROVISION).count() == 1
    assert await StripeEvent.all().count() == 1


async def test_fifty_concurrent_identical_deliveries_have_one_effect(server, order):
    event = make_event("checkout.session.completed", paid_session(order))
    results = await asyncio.gather(*(server.post_event(event) for _ in range(50)))

    assert [status for status, _ in results] == [200] * 50
    outcomes = sorted(body["outcome"] for _, body in results)
    assert outcomes.count("paid") == 1 and outcomes.count("duplicate") == 49
    assert await Job.filter(kind=PROVISION).count() == 1
    assert await StripeEvent.all().count() == 1
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_completed_and_async_succeeded_for_one_order_provision_once(server, order):
    session = paid_session(order)
    events = [
        make_event("checkout.session.completed", session),
        make_event("checkout.session.async_payment_succeeded", session),
    ] * 10
    results = await asyncio.gather(*(server.post_event(e) for e in events))
    assert all(status == 200 for status, _ in results)
    assert await Job.filter(kind=PROVISION).count() == 1
    assert sorted(r.outcome for r in await StripeEvent.all()) == ["already_paid", "paid"]


async def test_async_payment_waits_for_success_before_provisioning(server, order):
    session = paid_session(order, payment_status="unpaid")
    status, body = await server.post_event(make_event("checkout.session.completed", session))
    assert (status, body["outcome"]) == (200, "awaiting_async_payment")
    assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT
    assert await Job.all().count() == 0

    status, body = await server.post_event(make_event("checkout.session.async_payment_succeeded", session))
    assert (status, body["outcome"]) == (200, "paid")
    assert await Job.filter(kind=PROVISION, key=f"provision:order:{order.id}").count() == 1


async def test_forged_stale_and_missing_signatures_are_refused_and_write_nothing(server, order):
    event = make_event("checkout.session.completed", paid_session(order))
    forged = await server.post_event(event, secret="whsec_" + "0" * 32)
    stale = await server.post_event(event, timestamp=int(time.time()) - 301)
    missing = await server.post_event(event, headers={"Stripe-Signature": None})
    garbage = await server.post_event(event, headers={"Stripe-Signature": "t=abc,v1"})
    body = json.dumps(event).encode()
    tampered = body.replace(b'"amount_total": 2900', b'"amount_total": 1')
    async with server.http.post(
        f"{server.url}/webhooks/stripe",
        data=tampered,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, server.secret)},
    ) as resp:
        tampered_status = resp.status

    assert [forged[0], stale[0], missing[0], garbage[0], tampered_status] == [400] * 5
    await _nothing_written(order)


async def test_a_signature_within_tolerance_is_accepted(server, order):
    event = make_event("checkout.session.completed", paid_session(order))
    status, _ = await server.post_event(event, timestamp=int(time.time()) - 200)
    assert status == 200 and (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_malformed_or_wrong_content_is_refused_and_writes_nothing(server, order):
    not_json = await server.post_event(b'{"id": "evt_1", "type": ')
    not_utf8 = await server.post_event(b"\xff\xfe{}")
    not_event = await server.post_event(b'{"hello": "world"}')
    a_list = await server.post_event(b"[1, 2, 3]")
    no_object = await server.post_event(
        json.dumps({"id": "evt_x", "type": "checkout.session.completed", "data": {}}).encode()
    )
    plain_text = await server.post_event(
        make_event("checkout.session.completed", paid_session(order)), headers={"Content-Type": "text/plain"}
    )

    assert [r[0] for r in (not_json, not_utf8, not_event, a_list, no_object)] == [400] * 5
    assert plain_text[0] == 415
    await _nothing_written(order)


async def test_bodies_over_one_mebibyte_are_refused_with_413(server, order):
    event = make_event("checkout.session.completed", paid_session(order))
    event["padding"] = "x" * (1024 * 1024)
    big = json.dumps(event).encode()
    status, _ = await server.post_event(big)

    async def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    # chunked transfer: no Content-Length to trust, the server must count while reading
    async with server.http.post(
        f"{server.url}/webhooks/stripe",
        data=chunks(),
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(big, server.secret)},
    ) as resp:
        chunked_status = resp.status
    assert (status, chunked_status) == (413, 413)
    await _nothing_written(order)


async def test_unknown_order_with_good_metadata_creates_the_order_and_provisions(server):
    session = paid_session(
        None, telegram_id=555000111, package="pro", bot_name="Payment link bot", amount=7900
    )
    status, body = await server.post_event(make_event("checkout.session.completed", session))

    assert (status, body["outcome"]) == (200, "order_created")
    customer = await Customer.get(telegram_id=555000111)
    [created] = await Order.filter(customer=customer)
    assert (created.package, created.bot_name) == ("pro", "Payment link bot")
    assert created.status == OrderStatus.PAID
    assert (created.amount, created.stripe_session_id) == (7900, session["id"])
    assert created.stripe_payment_intent == session["payment_intent"]
    [job] = await Job.filter(kind=PROVISION)
    assert job.payload == {"order_id": created.id} and job.key == f"provision:order:{created.id}"


async def test_an_order_id_we_do_not_know_uses_the_metadata_and_an_existing_customer(server, order):
    session = paid_session(
        None,
        session_id="cs_test_link1",
        metadata={"order_id": "99999", "userId": "4242", "botName": "Second", "packageType": "starter"},
    )
    status, body = await server.post_event(make_event("checkout.session.completed", session))
    assert (status, body["outcome"]) == (200, "order_created")
    assert await Customer.all().count() == 1
    second = await Order.get(stripe_session_id="cs_test_link1")
    assert second.customer_id == order.customer_id and second.id != 99999
    assert await Job.filter(kind=PROVISION).count() == 1


async def test_bad_metadata_keeps_the_event_alerts_and_answers_200(server):
    cases = [
        {},
        {"userId": "not-a-number", "botName": "x", "packageType": "starter"},
        {"userId": "12345", "botName": "", "packageType": "starter"},
        {"userId": "12345", "botName": "ok", "packageType": "platinum"},
    ]
    for metadata in cases:
        event = make_event("checkout.session.completed", paid_session(None, metadata=metadata))
        status, body = await server.post_event(event)
        assert (status, body["outcome"]) == (200, "needs_attention"), metadata
        row = await StripeEvent.get(event_id=event["id"])
        assert row.outcome == "needs_attention" and row.payload["data"]["object"]["metadata"] == metadata

    assert await Order.all().count() == 0 and await Job.filter(kind=PROVISION).count() == 0
    alerts = await Alert.all().order_by("id")
    assert len(alerts) == 4 and all(a.kind == "stripe.needs_attention" for a in alerts)
    assert "packageType is not one of starter" in alerts[3].text
    assert await Job.filter(kind=DELIVER_ALERT).count() == 4


async def test_expired_session_closes_the_order_and_tells_the_customer_once(server, order):
    order.bot_name = "<b>Ann</b>"
    await order.save()
    session = {**paid_session(order, payment_status="unpaid"), "status": "expired", "payment_intent": None}
    event = make_event("checkout.session.expired", session)
    status, body = await server.post_event(event)
    again, _ = await server.post_event(event)

    assert (status, body["outcome"], again) == (200, "order_closed", 200)
    closed = await Order.get(id=order.id)
    assert closed.status == OrderStatus.CANCELLED
    assert closed.closed_reason == "checkout session expired unpaid"
    [message] = await Job.filter(kind=NOTIFY_CUSTOMER)
    assert message.key == f"stripe:{event['id']}:customer" and message.payload["chat_id"] == 4242
    text = plain(decode(message.payload["text"]))  # a Text, rendered in the customer's language on delivery
    assert "&lt;b&gt;Ann&lt;/b&gt;" in text and "expired" in text
    assert await Job.filter(kind=PROVISION).count() == 0


async def test_async_payment_failure_closes_the_order(server, order):
    event = make_event("checkout.session.async_payment_failed", paid_session(order, payment_status="unpaid"))
    status, body = await server.post_event(event)
    assert (status, body["outcome"]) == (200, "order_closed")
    assert (await Order.get(id=order.id)).closed_reason == "payment failed"
    assert await Job.filter(kind=NOTIFY_CUSTOMER).count() == 1


async def test_an_older_session_expiring_leaves_a_newer_one_open(server, order):
    old = paid_session(order, session_id="cs_test_old_window", payment_status="unpaid")
    status, body = await server.post_event(make_event("checkout.session.expired", old))
    assert (status, body["outcome"]) == (200, "stale")
    assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT
    assert await Job.all().count() == 0


async def test_a_paid_order_is_not_closed_by_a_late_expiry(server, order):
    session = paid_session(order)
    await server.post_event(make_event("checkout.session.completed", session))
    status, body = await server.post_event(make_event("checkout.session.expired", session))
    assert (status, body["outcome"]) == (200, "stale")
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_charge_refunded_records_partial_then_full_refunds(server, order):
    session = paid_session(order)
    await server.post_event(make_event("checkout.session.completed", session))
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 2900,
        "amount_refunded": 1000,
        "refunded": False,
        "payment_intent": session["payment_intent"],
        "metadata": {},
    }
    status, body = await server.post_event(make_event("charge.refunded", charge))
    assert (status, body["outcome"]) == (200, "partially_refunded")
    partial = await Order.get(id=order.id)
    assert (partial.amount_refunded, partial.status) == (1000, OrderStatus.PAID)

    status, body = await server.post_event(
        make_event("charge.refunded", {**charge, "amount_refunded": 2900, "refunded": True})
    )
    assert (status, body["outcome"]) == (200, "refunded")
    full = await Order.get(id=order.id)
    assert (full.amount_refunded, full.status) == (2900, OrderStatus.REFUNDED)
    # it was paid (a provision job exists), so an admin hears that an agent may be running
    assert await Alert.filter(kind="stripe.refunded_while_active").count() == 1


async def test_unknown_event_types_are_kept_and_ignored(server, order):
    event = make_event("customer.created", {"id": "cus_1", "object": "customer"})
    status, body = await server.post_event(event)
    assert (status, body["outcome"]) == (200, "ignored")
    assert (await StripeEvent.get(event_id=event["id"])).outcome == "ignored"
    assert await Job.all().count() == 0


class FlakyPaidSessions(PaidSessions):
    """The real paid path, except that the next provision enqueue fails after the order was updated."""

    failures = 1

    async def _enqueue_provision(self, conn, order_id):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the database went away mid-transaction")
        await super()._enqueue_provision(conn, order_id)


class FlakyProcessor(StripeEventProcessor):
    """The real processor with the flaky paid path."""

    def __init__(self, queue, packages):
        super().__init__(queue, packages)
        self._paid = FlakyPaidSessions(queue, packages, self.provision_max_attempts)


async def test_a_failure_inside_processing_answers_500_and_rolls_everything_back(server, order):
    webhook = server.app[STRIPE_WEBHOOK_KEY]
    webhook.processor = FlakyProcessor(webhook.processor.queue, webhook.processor.packages)
    event = make_event("checkout.session.completed", paid_session(order))
    status, _ = await server.post_event(event)
    assert status == 500
    await _nothing_written(order)

    status, body = await server.post_event(event)  # Stripe's retry redoes all of it
    assert (status, body["outcome"]) == (200, "paid")
    assert await Job.filter(kind=PROVISION).count() == 1
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_unconfigured_webhook_secret_answers_503_and_writes_nothing(db, order):
    async for server in serve(webhook_settings(stripe_webhook_secret=None)):
        event = make_event("checkout.session.completed", paid_session(order))
        status, _ = await server.post_event(event, secret="whsec_" + "1" * 32)
        assert status == 503
    await _nothing_written(order)


async def test_an_empty_unsigned_body_is_refused_and_the_server_keeps_serving(server, order):
    timeout = aiohttp.ClientTimeout(total=5)
    async with server.http.post(
        f"{server.url}/webhooks/stripe",
        data=b"",
        timeout=timeout,
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
    status, body = await server.post_event(make_event("checkout.session.completed", paid_session(order)))
    assert (status, body["outcome"]) == (200, "paid")
