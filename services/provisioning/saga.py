"""The provisioning saga (DESIGN section 3): a paid order becomes a live agent that answers only
its owner. It runs as one durable `provision` job; every step records what it created before and
after its outside call, so a job resumed by another worker repeats nothing that happened.

    launch_instance ─► wait_ready ───────────────┐
                                                 ├─► await_verification ─► activate ─► live
    create_bot ─► issue_verification ────────────┘

launch_instance and create_bot run concurrently: the critical path is the longer of the two.
Secrets (bot token, host key) live only in encrypted columns, never in the job's state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from tortoise.transactions import in_transaction

from models import Instance, InstanceStatus, Job, Order, OrderStatus
from services.cloud.host_keys import HostKeyPair
from services.infra.logging_setup import secrets as log_secrets
from services.infra.metrics import observe_payment_to_live
from services.jobs.queue import Claimed, utcnow
from services.jobs.worker import PermanentError, RetryLater
from services.notifications.customer_text import N_, Text, encode
from services.notifications.customers import render_for
from services.payments.packages import Package, find_package, new_expiry
from services.provisioning import compensation, progress
from services.provisioning.bot_making import BotMaker, CreatedBot, unconfirmed_bot_is_ours
from services.provisioning.customer_notices import notify_act, notify_live
from services.provisioning.pool_wait import PoolWait
from services.provisioning.renewal import renew
from services.provisioning.saga_deps import SagaDeps
from services.provisioning.verification import (
    CUSTOMER_REASONS,
    VERIFICATION_REPLIES,
    StartOutcome,
    deep_link,
)

log = logging.getLogger("meetmatt.provisioning")

POOL_WAIT_TEXT = Text(
    N_(
        "Telegram is not letting us create new bots right now. Your order is paid and "
        "queued: it continues by itself as soon as a bot can be made. You don't need to do "
        "anything."
    )
)


POOL_GAVE_UP_TEXT = Text(
    N_(
        "Telegram did not let us create your bot for too long, so we stopped setting "
        "up your agent and released its server."
    )
)


def verification_pause(link_age: timedelta) -> timedelta:
    """How long a job waiting for its customer's /start rests between listening spells."""
    if link_age < timedelta(minutes=10):
        return timedelta(seconds=1)
    if link_age < timedelta(hours=1):
        return timedelta(seconds=15)
    return timedelta(seconds=60)


class ProvisioningSaga:
    def __init__(self, deps: SagaDeps) -> None:
        self.d = deps

    # --- the job ---------------------------------------------------------------------------------

    async def run(self, claimed: Claimed) -> None:
        order = await Order.get(id=claimed.job.payload["order_id"]).select_related("customer")
        if claimed.job.state.get("live"):
            return
        if order.status not in (
            OrderStatus.PAID,
            OrderStatus.PROVISIONING,
            OrderStatus.AWAITING_VERIFICATION,
        ):
            raise PermanentError(f"order {order.id} is {order.status}, not paid: nothing to provision")
        package = find_package(self.d.packages, order.package)
        if package is None:
            raise PermanentError(f"order {order.id} names unknown package {order.package!r}")
        if order.renews_id:
            await renew(self.d, claimed, order, package)
            return
        if order.status == OrderStatus.PAID:
            order.status = OrderStatus.PROVISIONING
            await order.save(update_fields=["status", "updated_at"])
            await self.d.progress.report(order.id, progress.PAID)
        instance = await self._instance(claimed, order, package)
        results = await asyncio.gather(
            self._server_branch(claimed, order, instance),
            self._bot_branch(claimed, order, instance),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, PoolWait):
                waited = utcnow() - (order.paid_at or order.created_at)
                if waited > self.d.pool_wait_limit:
                    # the server has been billing for nothing: give up, release it, tell everyone
                    hours = round(self.d.pool_wait_limit.total_seconds() / 3600)
                    await self.d.queue.save_step(claimed, "customer_reason", encode(POOL_GAVE_UP_TEXT))
                    raise PermanentError(f"no creator account could make the bot within {hours} h of payment")
                if not claimed.job.state.get("pool_wait_reported"):
                    # the customer would otherwise watch "Creating your Telegram bot…" for an hour
                    await self.d.progress.report(order.id, progress.CREATING_BOT, detail=POOL_WAIT_TEXT)
                    await self.d.queue.save_step(claimed, "pool_wait_reported", True)
                raise RetryLater(result.retry_at, str(result))
        for result in results:
            if isinstance(result, BaseException):
                raise result
        await instance.refresh_from_db()
        owner = await self._await_verification(claimed, order, instance)
        await self._activate(claimed, order, instance, package, owner)

    # --- steps -----------------------------------------------------------------------------------

    async def _instance(self, claimed: Claimed, order: Order, package: Package) -> Instance:
        """The Instance row, created once (host key made before anything is launched)."""
        recorded = claimed.job.state.get("instance")
        if recorded:
            return await Instance.get(id=recorded["instance_id"])
        # a run that died before recording the step may already have made (or claimed) the row
        instance = (
            await Instance.filter(order_id=order.id)
            .exclude(
                status__in=(InstanceStatus.TERMINATED, InstanceStatus.TERMINATING, InstanceStatus.FAILED)
            )
            .order_by("id")
            .first()
        )
        if instance is None and self.d.claim_warm_instance is not None:
            instance = await self.d.claim_warm_instance(order, package.instance_type)
        if instance is None:
            keys = self.d.generate_host_key()
            instance = await Instance.create(
                order_id=order.id,
                customer_id=order.customer_id,
                status=InstanceStatus.LAUNCHING,
                instance_type=package.instance_type,
                host_key_public=keys.public_openssh,
                host_key_private=keys.private_openssh,
                ever_assigned=True,
            )
        await self.d.queue.save_step(
            claimed, "instance", {"instance_id": instance.id, "warm": instance.ec2_instance_id is not None}
        )
        return instance

    async def _server_branch(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        await self._launch(claimed, order, instance)
        await self._wait_ready(claimed, order, instance)

    async def _bot_branch(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        await self._create_bot(claimed, order, instance)
        if order.creation_mode != "managed":
            await self._issue_verification(claimed, order, instance)

    async def _launch(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        if "launch" in claimed.job.state:
            return
        if instance.ec2_instance_id and (claimed.job.state.get("instance") or {}).get("warm"):
            # a pre-booted instance from the warm pool: label it as this order's server
            await self.d.fleet.tag_for_order(
                instance.ec2_instance_id,
                job_id=claimed.id,
                order_id=order.id,
                user_id=order.customer.telegram_id,
            )
        if not instance.ec2_instance_id:
            await self.d.progress.report(order.id, progress.LAUNCHING)
            keys = HostKeyPair(instance.host_key_private or "", instance.host_key_public or "")
            ec2_id = await self.d.fleet.launch(
                job_id=claimed.id,
                order_id=order.id,
                user_id=order.customer.telegram_id,
                instance_type=instance.instance_type,
                user_data=self.d.render_user_data(keys),
            )
            instance.ec2_instance_id = ec2_id
            instance.status = InstanceStatus.BOOTING
            await instance.save(update_fields=["ec2_instance_id", "status", "updated_at"])
        await self.d.queue.save_step(claimed, "launch", {"ec2_id": instance.ec2_instance_id})

    async def _wait_ready(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        if "ready" in claimed.job.state:
            return
        ip = await self.d.fleet.wait_running(instance.ec2_instance_id)
        instance.public_ip = ip
        await instance.save(update_fields=["public_ip", "updated_at"])
        await self.d.wait_bootstrapped(instance)
        instance.status = InstanceStatus.READY
        await instance.save(update_fields=["status", "updated_at"])
        await self.d.queue.save_step(claimed, "ready", {"public_ip": ip})

    def _maker(self, order: Order) -> BotMaker:
        """Who makes this order's bot: Telegram (a managed bot) or the creator-account pool."""
        if order.creation_mode == "managed":
            if self.d.managed_bot_maker is None:
                raise PermanentError("managed bot creation is not configured")
            return self.d.managed_bot_maker
        return self.d.bot_maker

    async def _create_bot(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        if "bot" in claimed.job.state:
            return
        if instance.bot_token and instance.bot_username:
            created = CreatedBot(instance.bot_username, instance.bot_token, instance.creator_account_id)
        else:
            created = await self._resume_bot(claimed, order)
            if created is None:
                await self.d.progress.report(order.id, progress.CREATING_BOT)

                async def chosen_cb(account_id: int, username: str) -> None:
                    await self.d.queue.save_step(
                        claimed, "bot_chosen", {"account_id": account_id, "username": username}
                    )

                async def created_cb(account_id: int, username: str) -> None:
                    # BotFather said "Done!": from now on this bot is this job's to recover or delete
                    await self.d.queue.save_step(
                        claimed, "bot_created", {"account_id": account_id, "username": username}
                    )

                created = await self._maker(order).create(order, chosen_cb, created_cb)
            log_secrets.add(created.token)
            instance.bot_username = created.username
            instance.bot_token = created.token
            instance.creator_account_id = created.account_id
            await instance.save(
                update_fields=["bot_username", "bot_token", "creator_account_id", "updated_at"]
            )
        await self.d.queue.save_step(
            claimed, "bot", {"username": created.username, "account_id": created.account_id}
        )

    async def _resume_bot(self, claimed: Claimed, order: Order) -> CreatedBot | None:
        """The bot a previous run of this job made, if BotFather made it: by /token, but only for a
        username this job created. A username that was only requested (the run died before
        BotFather answered) is adopted only if no other order holds it AND the account lists it."""
        if order.creation_mode == "managed":
            return None
        state = claimed.job.state
        made = state.get("bot_created")
        chosen = state.get("bot_chosen")
        if made is None and chosen is not None:
            if not await unconfirmed_bot_is_ours(self.d.bot_maker, order, chosen):
                return None
            made = chosen
        if made is None:
            return None
        token = await self.d.bot_maker.recover(made["account_id"], made["username"])
        if not token:
            return None
        await self.d.queue.save_step(claimed, "bot_created", made)
        return CreatedBot(made["username"], token, made["account_id"])

    async def _issue_verification(self, claimed: Claimed, order: Order, instance: Instance) -> None:
        if "verification" in claimed.job.state:
            return
        verification = await self.d.verifier.issue(instance)
        order.status = OrderStatus.AWAITING_VERIFICATION
        await order.save(update_fields=["status", "updated_at"])
        link = deep_link(instance.bot_username, verification.code)
        await self.d.progress.report(order.id, progress.VERIFY)  # shows the open check's link
        # the customer must act now: a NEW message notifies them (an edit would not)
        await notify_act(self.d.queue, order.id, order.customer.telegram_id, instance.bot_username, link)
        await self.d.queue.save_step(claimed, "verification", {"verification_id": verification.id})

    async def _await_verification(self, claimed: Claimed, order: Order, instance: Instance) -> int:
        """The verified Telegram user id: polled on the NEW bot; managed bots are owned already."""
        verified = claimed.job.state.get("verified")
        if verified:
            return int(verified["user_id"])
        if order.creation_mode == "managed":
            user_id = order.customer.telegram_id
            await self.d.queue.save_step(claimed, "verified", {"user_id": user_id, "by": "telegram"})
            return user_id
        verification = await self.d.verifier.issue(instance)
        if not claimed.job.state.get("ready_reported"):
            # the server is ready now: keep the deep link in front of the customer
            await self.d.progress.report(order.id, progress.VERIFY)
            await self.d.queue.save_step(claimed, "ready_reported", True)
        token = instance.bot_token or ""
        offset = claimed.job.state.get("verify_offset")
        deadline = asyncio.get_running_loop().time() + self.d.verification_window
        # the new bot answers in the customer's language (the bot's catalogue, via its Messenger)
        replies = {
            outcome: await render_for(self.d.progress.messenger, order.customer.telegram_id, text)
            for outcome, text in VERIFICATION_REPLIES.items()
        }
        while True:
            result = await self.d.verifier.poll(
                verification,
                token,
                offset=offset,
                wait_seconds=self.d.verification_long_poll,
                texts_for=replies.get,
                owner_id=order.customer.telegram_id,
            )
            if result.last_update_id is not None:
                offset = result.last_update_id + 1
                await self.d.queue.save_step(claimed, "verify_offset", offset)
            if result.outcome == StartOutcome.VERIFIED and result.verified_user_id:
                # stop reading the new bot and confirm what was read: the agent's own long polling
                # must start clean (no 409 Conflict, no replayed /start)
                await self.d.bot_api.confirm_read(token, offset - 1)
                await self.d.queue.save_step(claimed, "verified", {"user_id": result.verified_user_id})
                return result.verified_user_id
            if result.outcome == StartOutcome.EXPIRED:
                # the customer's own step failed: compensation tells them so, not just "a problem"
                await self.d.queue.save_step(
                    claimed, "customer_reason", encode(CUSTOMER_REASONS[result.outcome])
                )
                raise PermanentError("ownership verification expired: nobody opened the link in time")
            if asyncio.get_running_loop().time() >= deadline:
                # free this worker slot; the job comes back and keeps listening, less often as the
                # link gets older, so customers who wait hours do not crowd out new orders
                pause = verification_pause(utcnow() - verification.created_at)
                raise RetryLater(utcnow() + pause, "waiting for the customer to verify")

    async def _activate(
        self, claimed: Claimed, order: Order, instance: Instance, package: Package, owner: int
    ) -> None:
        if "ready" not in claimed.job.state:
            raise RuntimeError("activation reached before the server was ready")
        await self.d.progress.report(order.id, progress.ACTIVATING)
        await self.d.activate(instance, instance.bot_token or "", owner)
        now = utcnow()
        async with in_transaction():
            instance.status = InstanceStatus.ACTIVE
            instance.owner_telegram_id = owner
            instance.expires_at = new_expiry(package, now)
            await instance.save(update_fields=["status", "owner_telegram_id", "expires_at", "updated_at"])
            await Order.filter(id=order.id).update(status=OrderStatus.ACTIVE, updated_at=now)
            await self.d.queue.save_step(claimed, "live", {"at": now.isoformat()})
        if order.paid_at is not None:
            observe_payment_to_live((now - order.paid_at).total_seconds())
        await self.d.progress.report(order.id, progress.LIVE)
        await notify_live(self.d.queue, order.id, order.customer.telegram_id, instance.bot_username)

    # --- when the job is dead --------------------------------------------------------------------

    async def compensate(self, job: Job, error: str) -> None:
        """The PROVISION job's on_dead hook: services.provisioning.compensation."""
        await compensation.compensate(self.d, job, error)

    async def release_abandoned(self, lease_seconds: float) -> int:
        """Compensate provision jobs that died without it (a sweep)."""
        return await compensation.release_abandoned(self.d, lease_seconds)
