"""When a provision job is dead: release what it created (server, model key, the bot it made), close
the order, refund it or say how it will be, and tell the admins and the customer plainly."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from models import AlertSeverity, Instance, InstanceStatus, Job, JobStatus, Order, OrderStatus
from services.jobs import kinds as job_kinds
from services.jobs.queue import utcnow
from services.model_gateway.keys import revoke_instance_keys
from services.notifications.alerts import raise_alert
from services.notifications.customer_text import N_, Text, decode
from services.orders.ordering import usernames_held_elsewhere
from services.payments.review import ReviewError, refund_order
from services.provisioning import progress
from services.provisioning.bot_making import unconfirmed_bot_is_ours
from services.provisioning.saga_deps import SagaDeps

log = logging.getLogger("meetmatt.provisioning")


async def _release_bot(deps: SagaDeps, order: Order, state: dict[str, Any]) -> str | None:
    """Only a bot this job created: a username it merely asked for may be another customer's."""
    bot = state.get("bot") or state.get("bot_created") or state.get("bot_chosen")
    if not bot or order.creation_mode == "managed":  # a managed bot is the customer's own
        return None
    try:
        mine = bool(state.get("bot") or state.get("bot_created")) or await unconfirmed_bot_is_ours(
            deps.bot_maker, order, bot
        )
        if (
            mine
            and not await usernames_held_elsewhere([bot["username"]], order.id)
            and await deps.bot_maker.delete(bot.get("account_id"), bot["username"])
        ):
            return f"bot @{bot['username']} deleted"
    except Exception as exc:  # deletion is best effort; the alert says so
        return f"bot @{bot['username']} NOT deleted ({type(exc).__name__})"
    return None


async def _release(deps: SagaDeps, job: Job, order: Order, state: dict[str, Any]) -> list[str]:
    """The job's server and bot, released; returns what was released, in words."""
    instance_id = (state.get("instance") or {}).get("instance_id")
    instance = await Instance.get_or_none(id=instance_id) if instance_id else None
    if instance is None or order.renews_id:  # a failed renewal never tears down the running agent
        return []
    released: list[str] = []
    await revoke_instance_keys(instance.id, "provisioning failed")
    ec2_id = instance.ec2_instance_id or await deps.fleet.find_by_job(job.id)
    if ec2_id:
        await deps.fleet.terminate(ec2_id)
        released.append(f"server {ec2_id} terminated")
    bot_released = await _release_bot(deps, order, state)
    if bot_released:
        released.append(bot_released)
    instance.status = InstanceStatus.TERMINATED
    await instance.save(update_fields=["status", "updated_at"])
    return released


async def _refund_or_promise(deps: SagaDeps, order: Order, error: str) -> tuple[Text, str]:
    """(what the customer is told happens next, what the admins are told about the refund)."""
    if deps.refund_on_failure:
        try:
            # the same checks as an admin's refund: an order with no captured payment (a 100 %
            # discount) has nothing to refund, and the customer is not promised one
            await refund_order(deps.queue, order.id, error[:200])
        except ReviewError as exc:
            why = f"no refund queued: {exc}"
        else:
            next_step = Text(N_("We are refunding your payment in full; you will see it in a few days."))
            return next_step, "refund queued (REFUND_ORDER)"
    else:
        why = f"REFUND_ON_FAILURE is off: refund with `python main.py orders refund {order.id}`"
    next_step = Text(
        N_("Our team has been alerted and will either retry or refund you. You don't need to do anything.")
    )
    return next_step, why


async def compensate(deps: SagaDeps, job: Job, error: str) -> None:
    """Release what the dead job created, and tell the customer and the admins plainly."""
    order = await Order.get(id=job.payload["order_id"]).select_related("customer")
    state = job.state or {}
    released = await _release(deps, job, order, state)
    order.status = OrderStatus.FAILED
    order.closed_reason = error[:1000]
    await order.save(update_fields=["status", "closed_reason", "updated_at"])
    next_step, refund_note = await _refund_or_promise(deps, order, error)
    why = decode(state["customer_reason"]) if state.get("customer_reason") else None
    # the admins first: a customer who blocked the bot must never hide a failure from them
    await raise_alert(
        deps.queue,
        "provision_failed",
        f"Order {order.id} (customer {order.customer.telegram_id}, {order.package}) could not be "
        f"provisioned: {error}. Released: {', '.join(released) or 'nothing to release'}. {refund_note}.",
        dedup_key=f"provision_failed:{order.id}",
    )
    # `why` (the customer's own step that failed) is a Text stored in the job's state
    await deps.progress.report(
        order.id,
        progress.FAILED,
        failed=True,
        detail=Text("{why} {next}", {"why": why, "next": next_step}) if why else next_step,
    )


async def release_abandoned(deps: SagaDeps, lease_seconds: float) -> int:
    """Compensate provision jobs that died without it: the stale-lease sweep marks a job dead
    when its worker died on the last attempt (no hook runs there), and a compensation that
    failed (EC2 unreachable) left its order open. Their order is still in a provisioning
    state; jobs dead for less than a lease are left to the worker compensating them now."""
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    open_orders = await Order.filter(
        status__in=[OrderStatus.PAID, OrderStatus.PROVISIONING, OrderStatus.AWAITING_VERIFICATION]
    ).values_list("id", flat=True)
    if not open_orders:
        return 0
    dead = await Job.filter(
        kind=job_kinds.PROVISION,
        status=JobStatus.DEAD,
        finished_at__lt=cutoff,
        key__in=[f"provision:order:{i}" for i in open_orders],
    ).order_by("id")
    for job in dead:
        log.warning(
            "releasing an order whose provision job died uncompensated",
            extra={"job_id": job.id, "order_id": job.payload.get("order_id")},
        )
        try:
            await compensate(deps, job, job.last_error or "the provision job died")
        except Exception as exc:
            log.exception("compensation failed; retried by the next sweep", extra={"job_id": job.id})
            await raise_alert(
                deps.queue,
                "compensation_failed",
                f"Order {job.payload.get('order_id')}: releasing the server and bot of dead job "
                f"{job.id} failed ({type(exc).__name__}: {exc}); retrying every sweep. Check EC2 "
                f"and BotFather by hand if this repeats.",
                severity=AlertSeverity.CRITICAL,
                dedup_key=f"compensation_failed:{job.id}",
            )
    return len(dead)
