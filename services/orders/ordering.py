"""Orders from the bot's dialogue: create them, renew an agent, attach a managed bot.

Nothing here knows aiogram: handlers pass plain values. The Checkout Session is created by
`services.payments.stripe_api.PaymentsService.create_checkout`, which handlers call with a timeout.
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from services.infra.db import dialect
from services.infra.pg_locks import advisory_lock
from services.orders.validation import N_, Checked
from services.payments.packages import Package, find_package

RENEWABLE = (
    InstanceStatus.ACTIVE,
    InstanceStatus.READY,
    InstanceStatus.UNHEALTHY,
    InstanceStatus.STOPPED,
    InstanceStatus.BOOTING,
    InstanceStatus.LAUNCHING,
)


# pg_advisory_lock(namespace, crc32 of the username): "MM" + usernames being taken at Confirm
USERNAME_LOCK_NAMESPACE = 0x4D4D_0002
# SQLite runs one process: its Confirms take usernames one at a time (a lock per event loop)
_local_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _taking_username(username: str) -> AsyncIterator[None]:
    """One check-and-take of a bot username at a time, so two Confirms racing for the same username
    cannot both pass the check: across processes (web replicas) on PostgreSQL, in-process on SQLite."""
    if dialect() == "postgres":
        key = zlib.crc32(username.lstrip("@").lower().encode()) - 2**31  # an int4
        async with advisory_lock(USERNAME_LOCK_NAMESPACE, key):
            yield
        return
    async with _local_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
        yield


class OrderError(ValueError):
    """The order cannot be made as asked. `problem` says why in words a customer understands: an
    English template (a catalogue msgid the bot translates) that `params` fill."""

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(problem.format(**params))
        self.problem, self.params = problem, params


@dataclass(frozen=True)
class OrderDraft:
    """What the order dialogue collected."""

    package: str
    bot_name: str
    bot_username: str | None = None
    description: str = ""
    avatar_file_id: str | None = None
    creation_mode: str = "pool"
    managed_bot_id: int | None = None

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> OrderDraft:
        return cls(
            package=data["package"],
            bot_name=data["bot_name"],
            bot_username=data.get("bot_username"),
            description=data.get("description") or "",
            avatar_file_id=data.get("avatar_file_id"),
            creation_mode=data.get("creation_mode") or "pool",
            managed_bot_id=data.get("managed_bot_id"),
        )


async def upsert_customer(
    telegram_id: int, username: str | None, full_name: str, language: str | None
) -> Customer:
    """The customer row for a Telegram user, created on first sight and kept current."""
    customer, created = await Customer.get_or_create(
        telegram_id=telegram_id,
        defaults={"username": username, "full_name": full_name[:256], "language": language},
    )
    if not created and (customer.username, customer.full_name, customer.language) != (
        username,
        full_name[:256],
        language,
    ):
        customer.username, customer.full_name, customer.language = username, full_name[:256], language
        await customer.save(update_fields=["username", "full_name", "language", "updated_at"])
    return customer


def _order_fields(draft: OrderDraft, packages: tuple[Package, ...]) -> dict[str, Any]:
    package = find_package(packages, draft.package)
    if package is None:
        raise OrderError(N_("That package is no longer offered. Please start again with /new."))
    return {
        "package": package.code,
        "bot_name": draft.bot_name,
        "bot_username": draft.bot_username,
        "description": draft.description,
        "avatar_file_id": draft.avatar_file_id,
        "creation_mode": draft.creation_mode,
        "managed_bot_id": draft.managed_bot_id if draft.creation_mode == "managed" else None,
        "amount": package.price,
        "currency": package.currency.lower(),
    }


class TooManyUnpaid(OrderError):
    """The customer already holds the most unpaid orders allowed (MAX_UNPAID_ORDERS)."""

    def __init__(self, count: int) -> None:
        super().__init__(N_("You already have {count} unpaid orders."), count=count)
        self.count = count


async def ensure_can_order(customer: Customer, max_unpaid: int) -> None:
    """TooManyUnpaid when the customer already holds `max_unpaid` orders awaiting payment: each one
    is a Checkout Session at Stripe and a row here, and nobody needs more at once."""
    count = await Order.filter(customer=customer, status=OrderStatus.AWAITING_PAYMENT).count()
    if count >= max_unpaid:
        raise TooManyUnpaid(count)


async def create_order(
    customer: Customer, draft: OrderDraft, packages: tuple[Package, ...], *, max_unpaid: int = 3
) -> Order:
    """An order awaiting payment, from the dialogue's draft."""
    await ensure_can_order(customer, max_unpaid)
    return await Order.create(
        customer=customer, status=OrderStatus.AWAITING_PAYMENT, **_order_fields(draft, packages)
    )


async def save_draft(
    customer: Customer,
    draft: OrderDraft,
    packages: tuple[Package, ...],
    order_id: int | None,
    *,
    max_unpaid: int = 3,
) -> Order:
    """The dialogue's order: created on the first Confirm. After a Confirm whose checkout failed,
    the same unpaid order takes the customer's edits (price included); once it has a Checkout
    Session it stays as it was paid for. A username another order took meanwhile is refused."""
    order = await Order.get_or_none(id=order_id, customer=customer) if order_id else None
    if order is not None and order.stripe_session_id:
        return order  # paid for (or being paid) as it was
    if not draft.bot_username or draft.creation_mode == "managed":
        return await _write_draft(customer, draft, packages, order, max_unpaid)
    async with _taking_username(draft.bot_username):
        if await username_refusal(draft.bot_username, order.id if order else None):
            raise OrderError(
                N_(
                    "@{username} is already taken by another Meet Matt agent. Send /new to "
                    "start again with another username."
                ),
                username=draft.bot_username,
            )
        return await _write_draft(customer, draft, packages, order, max_unpaid)


async def _write_draft(
    customer: Customer, draft: OrderDraft, packages: tuple[Package, ...], order: Order | None, max_unpaid: int
) -> Order:
    if order is None:
        return await create_order(customer, draft, packages, max_unpaid=max_unpaid)
    await Order.filter(id=order.id).update(**_order_fields(draft, packages))
    await order.refresh_from_db()
    return order


async def renewable_instances(customer: Customer) -> list[Instance]:
    return await Instance.filter(customer=customer, status__in=RENEWABLE).order_by("id")


async def create_renewal(
    customer: Customer, instance_id: int, packages: tuple[Package, ...], *, max_unpaid: int = 3
) -> Order:
    """An order that extends one of the customer's agents by another term of its package."""
    instance = await Instance.get_or_none(id=instance_id, customer=customer).select_related("order")
    if instance is None or instance.status not in RENEWABLE:
        raise OrderError(N_("That agent cannot be renewed (it is not yours, or it has been shut down)."))
    original = instance.order
    package = find_package(packages, original.package) if original else None
    package = package or packages[0]
    open_order = (
        await Order.filter(renews=instance, status=OrderStatus.AWAITING_PAYMENT, customer=customer)
        .order_by("-id")
        .first()
    )
    if open_order is not None:  # a second tap on Renew reuses the unpaid renewal
        return open_order
    await ensure_can_order(customer, max_unpaid)
    return await Order.create(
        customer=customer,
        package=package.code,
        renews=instance,
        bot_name=(original.bot_name if original else instance.bot_username or "agent")[:64],
        bot_username=instance.bot_username,
        creation_mode=original.creation_mode if original else "pool",
        status=OrderStatus.AWAITING_PAYMENT,
        amount=package.price,
        currency=package.currency.lower(),
    )


async def attach_managed_bot(owner_telegram_id: int, bot_id: int, bot_username: str) -> Order | None:
    """Attach a bot Telegram created for the customer (managed bots) to their open order.

    The open order is the customer's newest unpaid or paid order for a new agent without a bot yet,
    or one already naming this bot. Returns it, or None when the customer has no such order (the
    dialogue then keeps the bot in its own state until Confirm).
    """
    customer = await Customer.get_or_none(telegram_id=owner_telegram_id)
    if customer is None:
        return None
    candidates = (
        await Order.filter(
            customer=customer,
            renews_id=None,
            status__in=(OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.PROVISIONING),
        )
        .order_by("-id")
        .limit(5)
    )
    order = next((o for o in candidates if (o.bot_username or "").lower() == bot_username.lower()), None)
    order = order or next((o for o in candidates if o.creation_mode == "managed"), None)
    if order is None:
        return None
    order.bot_username = bot_username
    order.creation_mode = "managed"
    order.managed_bot_id = bot_id
    await order.save(update_fields=["bot_username", "creation_mode", "managed_bot_id", "updated_at"])
    return order


@dataclass(frozen=True)
class ManagedBotRef:
    bot_id: int
    bot_username: str


async def managed_bot_of(order_id: int) -> ManagedBotRef | None:
    """The managed bot Telegram created for the order, as attached now (None: not attached yet)."""
    order = await Order.get_or_none(id=order_id)
    if order is not None and order.managed_bot_id and order.bot_username:
        return ManagedBotRef(order.managed_bot_id, order.bot_username)
    instance = await Instance.filter(order_id=order_id, bot_id__not_isnull=True).order_by("-id").first()
    if instance is not None and instance.bot_id and instance.bot_username:
        return ManagedBotRef(instance.bot_id, instance.bot_username)
    return None


async def taken_usernames(prefix: str) -> set[str]:
    """Bot usernames starting with `prefix` already wanted or owned here, so a suggestion avoids them."""
    prefix = prefix[:20]
    ordered = await Order.filter(bot_username__istartswith=prefix).values_list("bot_username", flat=True)
    owned = await Instance.filter(bot_username__istartswith=prefix).values_list("bot_username", flat=True)
    return {str(u).lower() for u in [*ordered, *owned] if u}


async def choose_locale(customer: Customer, locale: str) -> None:
    """Remember the language the customer chose for the bot (the object is updated in place, so a
    cached copy follows)."""
    customer.locale = locale
    await customer.save(update_fields=["locale", "updated_at"])


# An order or instance in these states no longer holds its bot username.
RELEASED_ORDERS = (OrderStatus.CANCELLED, OrderStatus.FAILED, OrderStatus.REFUNDED)
RELEASED_INSTANCES = (InstanceStatus.TERMINATED, InstanceStatus.FAILED)


async def usernames_held_elsewhere(usernames: list[str], order_id: int | None) -> set[str]:
    """Those of `usernames` (lower case) that another order or its instance holds: any status but
    released. A renewal holds its agent's username too, but for the same agent, so it is skipped."""
    wanted = {u.lstrip("@").lower() for u in usernames if u}
    if not wanted:
        return set()
    held: set[str] = set()
    orders = Order.filter(renews_id=None).exclude(status__in=RELEASED_ORDERS)
    instances = Instance.exclude(status__in=RELEASED_INSTANCES)
    if order_id is not None:
        orders, instances = orders.exclude(id=order_id), instances.exclude(order_id=order_id)
    for name in wanted:  # a handful of candidates: one indexed-free query each is fine
        if (
            await orders.filter(bot_username__iexact=name).exists()
            or await instances.filter(bot_username__iexact=name).exists()
        ):
            held.add(name)
    return held


async def username_refusal(username: str, order_id: int | None) -> Checked | None:
    """Why the dialogue must refuse `username` (another order has it), or None."""
    if await usernames_held_elsewhere([username], order_id):
        return Checked(
            problem=N_(
                "@{username} is already taken by another Meet Matt agent. Please choose another username."
            ),
            params={"username": username},
        )
    return None
