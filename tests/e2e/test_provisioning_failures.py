"""The provisioning saga's failure paths (issue 7), each through every stand-in at once: the web
server takes a signed Stripe event, the worker runs the saga against moto, the scripted BotFather
and the SSH stand-in, and messages travel through telegram-test-api. Each test asserts where the
order ends (DESIGN section 3), that nothing is orphaned (moto's live instances and BotFather's bots
belong to ACTIVE orders only), and what the customer and the admin chat were told.

Orders are created directly (Customer + Order + a Checkout Session at the Stripe stand-in) and paid
with a signed `checkout.session.completed`; driving the chat is covered by test_provisioning_e2e.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import aioboto3
import pytest
from telethon import errors

from cli.run import Running, running
from models import (
    AccountStatus,
    Alert,
    AlertSeverity,
    Customer,
    Instance,
    InstanceStatus,
    Job,
    JobStatus,
    Order,
    OrderStatus,
    TelegramAccount,
)
from services.cloud.openclaw_config import CONFIG_PATH
from services.jobs.queue import utcnow
from services.payments.stripe_api import PaymentsService, make_stripe_client
from services.provisioning.pool_wait import POOL_WAIT_REASON
from tests.standins import free_port
from tests.standins.stack import CREATOR_PHONES, Stack, wait_until
from tests.standins.telegram import BotMessage, TelegramTestUser

# --- the harness ---------------------------------------------------------------------------------


async def place_order(
    app: Running, customer_id: int, bot_name: str, wanted: str, package: str | None = None
) -> Order:
    """An order awaiting payment with its Checkout Session at the Stripe stand-in (as /new leaves it);
    of the first package unless `package` names another."""
    customer = await Customer.create(telegram_id=customer_id, full_name=bot_name.split("'")[0])
    order = await Order.create(
        customer=customer,
        package=package or app.settings.packages[0].code,
        bot_name=bot_name,
        bot_username=wanted,
        description="Keeps my diary",
    )
    payments = PaymentsService(
        make_stripe_client(app.settings), app.settings.packages, bot_username="meetmatt_test_bot"
    )
    await payments.create_checkout(order)
    return await Order.get(id=order.id)


async def assert_nothing_orphaned(stack: Stack, *, also_owned_by: tuple[int, ...] = ()) -> None:
    """Every live server and every existing bot belongs to an ACTIVE order's instance (or to one of
    the orders in `also_owned_by`, still being provisioned)."""
    owners = await Instance.filter(order__status=OrderStatus.ACTIVE, status=InstanceStatus.ACTIVE)
    owners += await Instance.filter(order_id__in=list(also_owned_by)) if also_owned_by else []
    servers = {i.ec2_instance_id for i in owners}
    bots = {(i.bot_username or "").lower() for i in owners}
    orphan_servers = [i["InstanceId"] for i in await stack.live_instances() if i["InstanceId"] not in servers]
    orphan_bots = [b.username for key, b in stack.botfather.bots.items() if key not in bots]
    assert orphan_servers == [], f"servers left running: {orphan_servers}"
    assert orphan_bots == [], f"bots left at BotFather: {orphan_bots}"


async def progress_messages(customer: TelegramTestUser) -> list[BotMessage]:
    return [m for m in await customer.messages() if "▰" in m.text or "▱" in m.text]


async def deep_link(customer: TelegramTestUser, timeout: float = 30) -> tuple[str, str]:
    message = await customer.wait_for(
        lambda ms: next((m for m in ms if any("?start=" in b.get("url", "") for b in m.buttons)), None),
        timeout=timeout,
        what="the verification deep link",
    )
    link = next(b["url"] for b in message.buttons if "?start=" in b.get("url", ""))
    bot_username, code = link.removeprefix("https://t.me/").split("?start=")
    return bot_username, code


async def verify_and_go_live(stack: Stack, customer: TelegramTestUser, order: Order, user_id: int) -> None:
    bot_username, code = await deep_link(customer)
    instance = await Instance.get(order_id=order.id, bot_username=bot_username)
    new_bot = stack.on_bot(instance.bot_token or "", user_id)
    try:
        await new_bot.send(f"/start {code}")
        await new_bot.wait_text("Verified", timeout=30)
    finally:
        await new_bot.close()

    async def live() -> bool:
        return (await Order.get(id=order.id)).status == OrderStatus.ACTIVE

    await wait_until(live, 60, f"order {order.id} to go live")


async def dead_job(order: Order, timeout: float) -> Job:
    async def dead() -> bool:
        job = await _provision_job(order)
        return job is not None and job.status == JobStatus.DEAD

    await wait_until(dead, timeout, f"order {order.id}'s provision job to be dead")
    job = await _provision_job(order)
    assert job is not None
    return job


async def _provision_job(order: Order) -> Job | None:
    return await Job.get_or_none(kind="provision", key=f"provision:order:{order.id}")


async def alerts_delivered() -> bool:
    return not await Alert.filter(delivered_at=None).exists()


async def delivered(kind: str, timeout: float = 20) -> None:
    """An alert of `kind` exists and every alert so far reached the admins."""

    async def done() -> bool:
        return await Alert.filter(kind=kind).exists() and await alerts_delivered()

    await wait_until(done, timeout, f"a delivered {kind!r} alert")


# --- 1. the primary creator account is banned mid-order --------------------------------------------


async def test_banned_primary_account_fails_over_and_the_order_still_goes_live(make_stack) -> None:
    async with make_stack() as stack:
        primary, fallback = await stack.add_creator_accounts()
        stack.botfather.fail(CREATOR_PHONES[0], "/newbot", errors.UserDeactivatedBanError(request=None))
        customer, admin_chat = stack.customer(930_001, "Bea"), stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_001, "Bea's Agent", "bea_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            await verify_and_go_live(stack, customer, order, 930_001)
            await customer.wait_text("Your agent is live", timeout=10)
            await wait_until(alerts_delivered, 20, "alerts to be delivered")

        instance = await Instance.get(order_id=order.id)
        assert instance.status == InstanceStatus.ACTIVE and instance.owner_telegram_id == 930_001
        assert instance.creator_account_id == fallback.id
        # the primary talked to BotFather, was banned, and the fallback made the bot in the SAME job run
        assert stack.botfather.created == [(CREATOR_PHONES[1], instance.bot_username)]
        assert (await TelegramAccount.get(id=primary.id)).status == AccountStatus.BANNED
        assert (await TelegramAccount.get(id=fallback.id)).status == AccountStatus.ACTIVE
        job = await _provision_job(order)
        assert job is not None and job.status == JobStatus.DONE and job.attempts == 1

        # exactly one alert about it, critical, delivered to the admin chat through telegram-test-api
        alerts = await Alert.all()
        assert [(a.kind, a.severity) for a in alerts] == [("account_status", AlertSeverity.CRITICAL)], [
            a.text for a in alerts
        ]
        assert f"#{primary.id}" in alerts[0].text and "banned" in alerts[0].text
        assert CREATOR_PHONES[0] not in alerts[0].text  # the phone is masked
        admin_texts = [m.text for m in await admin_chat.messages()]
        assert len([t for t in admin_texts if "banned" in t]) == 1, admin_texts
        assert not any("could not be provisioned" in t for t in admin_texts)

        # the customer saw normal progress: one message, edited to "live", no trouble mentioned
        progress = await progress_messages(customer)
        assert len(progress) == 1 and "Your agent is live" in progress[0].text
        assert "problem" not in progress[0].text
        await assert_nothing_orphaned(stack)
        await customer.close()
        await admin_chat.close()


# --- 2. EC2 refuses to launch --------------------------------------------------------------------

MISSING_AMI = "ami-0badc0ffee0000000"  # well-formed, but no such image


@pytest.fixture
def moto_validates_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (in this process) checks RunInstances' ImageId like EC2 does: InvalidAMIID.NotFound."""
    from moto import settings as moto_settings

    monkeypatch.setattr(moto_settings, "ENABLE_AMI_VALIDATION", True)


async def assert_failed_and_released(
    stack: Stack,
    order: Order,
    customer: TelegramTestUser,
    admin_chat: TelegramTestUser,
    *,
    reason: str,
    refunded: bool,
) -> None:
    """The dead job's compensation: server gone, bot deleted, order closed, both sides told."""
    order = await Order.get(id=order.id)
    assert order.status == (OrderStatus.REFUNDED if refunded else OrderStatus.FAILED), order.status
    assert reason in (order.closed_reason or "") or refunded
    instance = await Instance.get(order_id=order.id)
    assert instance.status == InstanceStatus.TERMINATED
    # the bot that WAS created is gone at BotFather, deleted by the account that made it
    assert len(stack.botfather.created) == 1
    assert stack.botfather.deleted == stack.botfather.created
    await assert_nothing_orphaned(stack)

    progress = await progress_messages(customer)
    assert len(progress) == 1, [m.text for m in progress]
    assert "hit a problem" in progress[0].text and "What happens next" in progress[0].text
    assert progress[0].buttons == []  # the deep link of a deleted bot is no longer offered
    if refunded:
        assert "refunding your payment" in progress[0].text
    else:
        assert "retry or refund" in progress[0].text

    failed = await Alert.filter(kind="provision_failed")
    assert len(failed) == 1 and f"Order {order.id}" in failed[0].text and reason in failed[0].text
    assert failed[0].severity == AlertSeverity.WARNING or failed[0].severity == AlertSeverity.CRITICAL
    admin_texts = [m.text for m in await admin_chat.messages()]
    assert len([t for t in admin_texts if f"Order {order.id}" in t and reason in t]) == 1, admin_texts


@pytest.mark.parametrize("refund", [False, True], ids=["no-refund", "refund-on-failure"])
async def test_ec2_launch_failing_ends_failed_with_the_bot_deleted_and_nothing_running(
    make_stack, moto_validates_images, refund: bool
) -> None:
    async with make_stack(
        ec2_ami_id=MISSING_AMI,
        provision_max_attempts=2,
        job_backoff_base_seconds=0.2,
        refund_on_failure=refund,
    ) as stack:
        await stack.add_creator_accounts()
        customer, admin_chat = stack.customer(930_002, "Cy"), stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_002, "Cy's Agent", "cy_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            job = await dead_job(order, 40)

            async def closed() -> bool:
                status = (await Order.get(id=order.id)).status
                return status == (OrderStatus.REFUNDED if refund else OrderStatus.FAILED)

            await wait_until(closed, 20, "the order to be closed")
            await delivered("provision_failed")
            if refund:
                await customer.wait_text("has been refunded", timeout=20)

        assert job.attempts == 2 and "InvalidAMIID.NotFound" in (job.last_error or "")
        assert await stack.live_instances() == []
        await assert_failed_and_released(
            stack, order, customer, admin_chat, reason="InvalidAMIID.NotFound", refunded=refund
        )
        refunds = stack.stripe.requests_to("/v1/refunds")
        if refund:
            assert [r.status for r in refunds] == [200]
            assert refunds[0].form["metadata[order_id]"] == str(order.id)
            assert (await Order.get(id=order.id)).amount_refunded == order.amount > 0
        else:
            assert refunds == []
        await customer.close()
        await admin_chat.close()


# --- 3. SSH never answers ------------------------------------------------------------------------


async def ec2_state(stack: Stack, ec2_id: str) -> str:
    session = aioboto3.Session(
        aws_access_key_id=stack.settings.aws_access_key_id.get_secret_value(),  # type: ignore[union-attr]
        aws_secret_access_key=stack.settings.aws_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
        region_name="us-east-1",
    )
    async with session.client("ec2", endpoint_url=stack.moto_url) as ec2:
        answer = await ec2.describe_instances(InstanceIds=[ec2_id])
    return answer["Reservations"][0]["Instances"][0]["State"]["Name"]


async def test_ssh_never_reachable_ends_failed_with_the_server_terminated_and_the_bot_deleted(
    make_stack,
) -> None:
    closed_port = free_port()  # nothing listens here: every SSH connection is refused
    async with make_stack(
        ssh_port=closed_port,
        ssh_connect_timeout=0.5,
        bootstrap_timeout_s=1.0,
        provision_max_attempts=2,
        job_backoff_base_seconds=0.2,
    ) as stack:
        await stack.add_creator_accounts()
        customer, admin_chat = stack.customer(930_003, "Dee"), stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_003, "Dee's Agent", "dee_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            job = await dead_job(order, 40)

            async def closed() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.FAILED

            await wait_until(closed, 20, "the order to be closed")
            await delivered("provision_failed")

        assert job.attempts == 2 and "BootstrapError" in (job.last_error or "")
        instance = await Instance.get(order_id=order.id)
        assert instance.ec2_instance_id  # the server was launched, once, and is terminated now
        assert await ec2_state(stack, instance.ec2_instance_id) in ("shutting-down", "terminated")
        assert stack.ssh.commands == []  # nothing ever reached an SSH server
        await assert_failed_and_released(
            stack, order, customer, admin_chat, reason="BootstrapError", refunded=False
        )
        failed = await Alert.get(kind="provision_failed")
        assert f"server {instance.ec2_instance_id} terminated" in failed.text
        assert f"bot @{instance.bot_username} deleted" in failed.text
        await customer.close()
        await admin_chat.close()


# --- 4. the customer never verifies ---------------------------------------------------------------


async def test_verification_never_done_expires_and_the_order_ends_failed_with_everything_released(
    make_stack,
) -> None:
    async with make_stack(verification_ttl_minutes=0.05) as stack:  # the deep link lives 3 s
        await stack.add_creator_accounts()
        customer, admin_chat = stack.customer(930_004, "Eve"), stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_004, "Eve's Agent", "eve_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            await deep_link(customer)  # the link was offered ...
            job = await dead_job(order, 40)  # ... and nobody opened it

            async def closed() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.FAILED

            await wait_until(closed, 20, "the order to be closed")
            await delivered("provision_failed")

        assert job.attempts == 1  # PermanentError: no retry can help
        assert "verification expired" in (job.last_error or "")
        instance = await Instance.get(order_id=order.id)
        assert instance.ec2_instance_id
        assert await ec2_state(stack, instance.ec2_instance_id) in ("shutting-down", "terminated")
        assert CONFIG_PATH not in stack.ssh.files  # never activated
        await assert_failed_and_released(
            stack, order, customer, admin_chat, reason="verification expired", refunded=False
        )
        progress = (await progress_messages(customer))[0]
        assert "link to prove this bot is yours was not opened in time" in progress.text
        await customer.close()
        await admin_chat.close()


# --- 5. paid, but no creator account can make the bot ------------------------------------------------


async def test_paid_orders_wait_for_a_creator_account_and_complete_when_one_comes_back(make_stack) -> None:
    """DESIGN: pool exhausted -> the job waits (no attempt spent), ONE "pool exhausted" alert however
    many orders wait, nothing lost. Decided here: each waiting order keeps its own server (launched
    in parallel with bot creation; it stays READY so the order completes in seconds when an account
    returns) and no bot exists meanwhile. When an admin puts an account back in service, the
    waiting orders resume and go live."""
    async with make_stack() as stack:
        accounts = await stack.add_creator_accounts()
        for account, phone in zip(accounts, CREATOR_PHONES, strict=True):
            # Telegram banned both: the pool knows it, and every health check confirms it
            account.status, account.last_error = AccountStatus.BANNED, "UserDeactivatedBanError"
            await account.save(update_fields=["status", "last_error"])
            stack.botfather.fail(phone, "get_me", errors.UserDeactivatedBanError(request=None), times=1000)
        ann, bob = stack.customer(930_005, "Ann"), stack.customer(930_006, "Bob")
        admin_chat = stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            first = await place_order(app, 930_005, "Ann's Agent", "ann_waits_bot")
            second = await place_order(app, 930_006, "Bob's Agent", "bob_waits_bot")
            assert await stack.pay(first, app.web_port) == 200
            assert await stack.pay(second, app.web_port) == 200

            async def both_waiting() -> bool:
                jobs = [await _provision_job(o) for o in (first, second)]
                return all(
                    j is not None
                    and j.status == JobStatus.PENDING
                    and "ready" in j.state
                    and j.run_after > utcnow() + timedelta(minutes=5)
                    for j in jobs
                )

            await wait_until(both_waiting, 30, "both orders to wait for a creator account")
            await delivered("pool_exhausted")
            await ann.wait_text("Your order is paid and queued", timeout=10)
            await bob.wait_text("Your order is paid and queued", timeout=10)

            # the waiting state: nothing lost, nothing spent, one alert
            for order in (first, second):
                job = await _provision_job(order)
                assert job is not None and job.attempts == 0
                assert (job.last_error or "").startswith(POOL_WAIT_REASON)
                assert (await Order.get(id=order.id)).status == OrderStatus.PROVISIONING
                instance = await Instance.get(order_id=order.id)
                assert instance.status == InstanceStatus.READY and instance.bot_username is None
            exhausted = await Alert.filter(kind="pool_exhausted")
            assert len(exhausted) == 1 and exhausted[0].severity == AlertSeverity.CRITICAL
            assert exhausted[0].count >= 2  # the second order's wait merged into the first alert
            assert "add one with `python main.py accounts login`" in exhausted[0].text
            admin_texts = [m.text for m in await admin_chat.messages()]
            assert len([t for t in admin_texts if "No creator account can create bots" in t]) == 1, (
                admin_texts
            )
            assert stack.botfather.created == [] and stack.botfather.bots == {}
            servers = await stack.live_instances()
            assert len(servers) == 2  # each waiting order's own server, no more
            await assert_nothing_orphaned(stack, also_owned_by=(first.id, second.id))

            # Telegram lifts the ban on the fallback; an admin puts it back in service
            # (what `accounts enable` and the /accounts button do)
            stack.botfather.scripts[CREATOR_PHONES[1]].errors.clear()
            await TelegramAccount.filter(id=accounts[1].id).update(
                status=AccountStatus.ACTIVE, cooldown_until=None
            )
            await verify_and_go_live(stack, ann, first, 930_005)
            await verify_and_go_live(stack, bob, second, 930_006)
            await ann.wait_text("Your agent is live", timeout=10)
            await bob.wait_text("Your agent is live", timeout=10)

        for order in (first, second):
            job = await _provision_job(order)
            assert job is not None and job.status == JobStatus.DONE and job.attempts == 1
            instance = await Instance.get(order_id=order.id)
            assert instance.status == InstanceStatus.ACTIVE and instance.creator_account_id == accounts[1].id
        # the same two servers went live: none was launched twice or left behind
        assert sorted(i["InstanceId"] for i in await stack.live_instances()) == sorted(
            s["InstanceId"] for s in servers
        )
        assert sorted(p for p, _ in stack.botfather.created) == [CREATOR_PHONES[1]] * 2
        assert await Alert.filter(kind="pool_exhausted").count() == 1
        await assert_nothing_orphaned(stack)
        for customer in (ann, bob):
            progress = await progress_messages(customer)
            assert len(progress) == 1 and "Your agent is live" in progress[0].text
            await customer.close()
        await admin_chat.close()


# --- a worker dies on the job's last attempt ----------------------------------------------------------


async def set_termination_protection(stack: Stack, ec2_id: str, on: bool) -> None:
    session = aioboto3.Session(
        aws_access_key_id=stack.settings.aws_access_key_id.get_secret_value(),  # type: ignore[union-attr]
        aws_secret_access_key=stack.settings.aws_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
        region_name="us-east-1",
    )
    async with session.client("ec2", endpoint_url=stack.moto_url) as ec2:
        await ec2.modify_instance_attribute(InstanceId=ec2_id, DisableApiTermination={"Value": on})


@pytest.mark.parametrize("protected", [False, True], ids=["released", "release-fails-then-retried"])
async def test_a_job_that_dies_with_its_worker_on_the_last_attempt_is_still_released(
    make_stack, protected: bool
) -> None:
    """The worker dies right after BotFather made the bot, on the job's last attempt. Another
    worker's stale-lease sweep finds the job out of attempts and marks it dead, which runs no
    compensation hook; the next worker must still release the server and the bot and tell both sides.
    `protected`: EC2 first refuses to terminate (termination protection): the admins are alerted and
    the release is retried until it succeeds."""
    async with make_stack(provision_max_attempts=1, job_lease_seconds=5) as stack:
        await stack.add_creator_accounts()
        stack.botfather.crash_after_create(CREATOR_PHONES[0])
        customer, admin_chat = stack.customer(930_008, "Gus"), stack.admin_chat()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_008, "Gus's Agent", "gus_agent_bot")
            assert await stack.pay(order, app.web_port) == 200

            async def crashed() -> bool:  # the job's task is gone: both branches ended, the bot exists
                job = await _provision_job(order)
                return (
                    bool(stack.botfather.created)
                    and job is not None
                    and "ready" in job.state
                    and job.status == JobStatus.RUNNING
                )

            await wait_until(crashed, 30, "the worker to die mid-job")
        # that worker is gone; its lease runs out and another worker's stale-lease sweep runs
        await Job.filter(key=f"provision:order:{order.id}").update(
            locked_until=utcnow() - timedelta(seconds=1)
        )
        assert await app.runtime.queue.reclaim_expired() == 1
        job = await dead_job(order, 1)
        assert job.attempts == 1 and "lease expired" in (job.last_error or "")
        assert (await Order.get(id=order.id)).status == OrderStatus.PROVISIONING  # nothing released yet

        instance = await Instance.get(order_id=order.id)
        assert instance.ec2_instance_id
        if protected:
            await set_termination_protection(stack, instance.ec2_instance_id, True)
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            if protected:
                await delivered("compensation_failed")
                assert (await Order.get(id=order.id)).status == OrderStatus.PROVISIONING
                assert stack.botfather.deleted == []  # nothing half-released: the server goes first
                await admin_chat.wait_text("releasing the server and bot", timeout=10)
                await set_termination_protection(stack, instance.ec2_instance_id, False)

            async def closed() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.FAILED

            await wait_until(closed, 30, "the abandoned order to be released")
            await delivered("provision_failed")

        assert await ec2_state(stack, instance.ec2_instance_id) in ("shutting-down", "terminated")
        await assert_failed_and_released(
            stack, order, customer, admin_chat, reason="lease expired", refunded=False
        )
        await customer.close()
        await admin_chat.close()


async def test_an_order_that_waits_past_the_pool_limit_fails_and_releases_its_server(make_stack) -> None:
    """A paid order cannot wait for a creator account forever while its server bills: past
    POOL_WAIT_LIMIT_HOURS the job dies, the server is terminated, the customer is told why."""
    async with make_stack(pool_wait_limit_hours=1) as stack:
        accounts = await stack.add_creator_accounts()
        for account, phone in zip(accounts, CREATOR_PHONES, strict=True):
            account.status, account.last_error = AccountStatus.BANNED, "UserDeactivatedBanError"
            await account.save(update_fields=["status", "last_error"])
            stack.botfather.fail(phone, "get_me", errors.UserDeactivatedBanError(request=None), times=1000)
        cy = stack.customer(930_007, "Cy")
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, 930_007, "Cy's Agent", "cy_waits_bot")
            assert await stack.pay(order, app.web_port) == 200

            async def waiting() -> bool:
                job = await _provision_job(order)
                return (
                    job is not None
                    and job.status == JobStatus.PENDING
                    and "ready" in job.state
                    and job.run_after > utcnow() + timedelta(minutes=5)
                )

            await wait_until(waiting, 30, "the order to wait for a creator account")
            assert len(await stack.live_instances()) == 1

            # two hours pass: the next look at the pool gives up
            await Order.filter(id=order.id).update(paid_at=utcnow() - timedelta(hours=2))
            await Job.filter(key=f"provision:order:{order.id}").update(run_after=utcnow())

            async def closed() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.FAILED

            await wait_until(closed, 30, "the order to be closed")
            await cy.wait_text("did not let us create your bot for too long", timeout=10)

        job = await _provision_job(order)
        assert job is not None and job.status == JobStatus.DEAD
        assert "within 1 h of payment" in (job.last_error or "")
        assert await stack.live_instances() == []
        assert (await Instance.get(order_id=order.id)).status == InstanceStatus.TERMINATED
        assert stack.botfather.created == []
        failed = await Alert.filter(kind="provision_failed")
        assert len(failed) == 1 and f"Order {order.id}" in failed[0].text
        await assert_nothing_orphaned(stack)
        await cy.close()
