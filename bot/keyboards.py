"""Keyboards of the Meet Matt bot."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestManagedBot,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import texts
from bot.callbacks import (
    AccountCb,
    AgentCb,
    EditCb,
    InstanceCb,
    InstanceListCb,
    LanguageCb,
    MenuCb,
    MyBotsCb,
    OrderCb,
    OrderListCb,
    PackageCb,
    RenewCb,
    SupportCb,
)
from bot.i18n import LANGUAGES, current_locale
from bot.texts import agent as agent_texts
from models import AccountStatus, Instance, InstanceStatus, OrderStatus, TelegramAccount
from services.notifications.customers import ACTION_PREFIX, RENEW_ACTION
from services.payments.packages import Package

MANAGED_REQUEST_ID = 1
_Build = TypeVar("_Build", bound=Callable[..., Any])


def per_locale(build: _Build) -> _Build:
    """Static markups are built once per language (they are never mutated after sending)."""
    cached = lru_cache(maxsize=64)(lambda locale, *args: build(*args))

    @wraps(build)
    def in_current_locale(*args: Any) -> Any:
        return cached(current_locale(), *args)

    return in_current_locale  # type: ignore[return-value]


@per_locale
def languages() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for code, name in LANGUAGES.items():
        b.button(text=name, callback_data=LanguageCb(code=code))
    b.adjust(2)
    return b.as_markup()


def service_button(label: str, target: str) -> InlineKeyboardButton:
    """A button a service asked for: a URL, or an in-chat action (`services.notifications.customers.action`)
    mapped to this bot's own callback data."""
    if target.startswith(ACTION_PREFIX):
        name, _, arg = target.removeprefix(ACTION_PREFIX).partition(":")
        if name == RENEW_ACTION and arg.isdigit():
            return InlineKeyboardButton(text=label, callback_data=RenewCb(instance_id=int(arg)).pack())
        raise ValueError(f"unknown button action {name!r}")
    return InlineKeyboardButton(text=label, url=target)


def url_buttons(buttons: list[tuple[str, str]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[service_button(label, target)] for label, target in buttons]
    )


@per_locale
def main_menu() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.BTN_ORDER, callback_data=MenuCb(action="new"))
    b.button(text=texts.BTN_MY_BOTS, callback_data=MenuCb(action="mybots"))
    b.button(text=texts.BTN_HELP, callback_data=MenuCb(action="help"))
    b.adjust(1, 2)
    return b.as_markup()


@per_locale
def packages(items: tuple[Package, ...]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for package in items:
        b.button(text=texts.package_button(package), callback_data=PackageCb(code=package.code))
    b.button(text=texts.BTN_CANCEL, callback_data=OrderCb(action="cancel"))
    b.adjust(1)
    return b.as_markup()


def suggestion(username: str) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.USE_SUGGESTION.format(suggestion=username), callback_data=OrderCb(action="suggest"))
    b.button(text=texts.BTN_CANCEL, callback_data=OrderCb(action="cancel"))
    b.adjust(1)
    return b.as_markup()


def managed_bot_request(name: str, username: str) -> ReplyKeyboardMarkup:
    """The button that asks Telegram to create a bot owned by the customer, managed by us."""
    button = KeyboardButton(
        text=texts.BTN_MANAGED,
        request_managed_bot=KeyboardButtonRequestManagedBot(
            request_id=MANAGED_REQUEST_ID, suggested_name=name[:64], suggested_username=username
        ),
    )
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


@per_locale
def skip() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.BTN_SKIP, callback_data=OrderCb(action="skip"))
    b.button(text=texts.BTN_CANCEL, callback_data=OrderCb(action="cancel"))
    b.adjust(2)
    return b.as_markup()


@per_locale
def cancel_only() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.BTN_CANCEL, callback_data=OrderCb(action="cancel"))
    return b.as_markup()


@per_locale
def confirm() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.BTN_CONFIRM, callback_data=OrderCb(action="confirm"))
    b.button(text=texts.BTN_EDIT, callback_data=OrderCb(action="edit"))
    b.button(text=texts.BTN_CANCEL, callback_data=OrderCb(action="cancel"))
    b.adjust(1, 2)
    return b.as_markup()


@per_locale
def edit_fields(managed: bool) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for field, label in texts.EDIT_FIELDS.items():
        if managed and field == "username":
            continue  # Telegram made that bot: its username is fixed
        b.button(text=label, callback_data=EditCb(field=field))
    b.button(text=texts.BTN_BACK, callback_data=OrderCb(action="back"))
    b.adjust(3, 2, 1)
    return b.as_markup()


def pay(url: str, price: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.BTN_PAY.format(price=price), url=url)]]
    )


def renew(instances: list[Instance]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for instance in instances:
        b.button(
            text=texts.renew_button(instance),
            callback_data=RenewCb(instance_id=instance.id),
        )
    b.adjust(1)
    return b.as_markup()


def my_bots_page(
    rows: list[tuple[str, str | None, Any]], page: int, pages: int
) -> InlineKeyboardMarkup | None:
    """/mybots' one keyboard: per listed item its buttons (label, url or callback data), then paging."""
    b = InlineKeyboardBuilder()
    for label, url, callback in rows:
        if url:
            b.row(InlineKeyboardButton(text=label, url=url))
        else:
            b.row(InlineKeyboardButton(text=label, callback_data=callback))
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(text=texts.BTN_PREVIOUS, callback_data=MyBotsCb(page=page - 1).pack())
        )
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text=texts.BTN_NEXT, callback_data=MyBotsCb(page=page + 1).pack()))
    if nav:
        b.row(*nav)
    markup = b.as_markup()
    return markup if markup.inline_keyboard else None


def agent_page(instance: Instance, *, page: int, renewable: bool) -> InlineKeyboardMarkup:
    """One agent's buttons in /mybots: open, restart, persona, profile, renew, back to the list."""
    b = InlineKeyboardBuilder()
    if instance.bot_username:
        b.row(
            InlineKeyboardButton(
                text=texts.BTN_OPEN_BOT.format(username=instance.bot_username),
                url=f"https://t.me/{instance.bot_username}",
            )
        )

    def action(name: str) -> str:
        return AgentCb(action=name, instance_id=instance.id, page=page).pack()

    b.row(
        InlineKeyboardButton(text=agent_texts.btn_restart(), callback_data=action("restart")),
        InlineKeyboardButton(text=agent_texts.btn_persona(), callback_data=action("persona")),
        InlineKeyboardButton(text=agent_texts.btn_profile(), callback_data=action("profile")),
    )
    if renewable:
        b.row(
            InlineKeyboardButton(
                text=texts.BTN_RENEW_SHORT, callback_data=RenewCb(instance_id=instance.id).pack()
            )
        )
    b.row(InlineKeyboardButton(text=agent_texts.btn_all_agents(), callback_data=MyBotsCb(page=page).pack()))
    return b.as_markup()


# --- admin ---------------------------------------------------------------------------------------


def account_list(accounts: list[TelegramAccount]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for account in accounts:
        b.button(
            text=f"#{account.id} {account.masked_phone} ({account.status})",
            callback_data=AccountCb(action="show", account_id=account.id),
        )
    b.adjust(2)
    return b.as_markup()


def account_actions(account: TelegramAccount) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    labels = texts.ACCOUNT_BUTTONS
    b.button(text=labels["check"], callback_data=AccountCb(action="check", account_id=account.id))
    toggle = "enable" if account.status == AccountStatus.DISABLED else "disable"
    b.button(text=labels[toggle], callback_data=AccountCb(action=toggle, account_id=account.id))
    b.button(text=labels["prio_up"], callback_data=AccountCb(action="prio_up", account_id=account.id))
    b.button(text=labels["prio_down"], callback_data=AccountCb(action="prio_down", account_id=account.id))
    b.adjust(2, 2)
    return b.as_markup()


INSTANCE_FILTERS = ["active", "unhealthy", "booting", "launching", "ready", "stopped", "failed", "all"]


def instance_list(instances: list[Instance], status: str, page: int, pages: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for instance in instances:
        label = f"#{instance.id} {instance.status} @{instance.bot_username or '—'}"  # not HTML: no escaping
        b.button(text=label[:60], callback_data=InstanceCb(action="show", instance_id=instance.id))
    nav = 0
    if page > 0:
        b.button(
            text=texts.ADMIN_LIST_BUTTONS["prev"], callback_data=InstanceListCb(status=status, page=page - 1)
        )
        nav += 1
    if page + 1 < pages:
        b.button(
            text=texts.ADMIN_LIST_BUTTONS["next"], callback_data=InstanceListCb(status=status, page=page + 1)
        )
        nav += 1
    for name in INSTANCE_FILTERS:
        b.button(text=("• " if name == status else "") + name, callback_data=InstanceListCb(status=name))
    b.adjust(*([1] * len(instances)), *([nav] if nav else []), 4, 4)
    return b.as_markup()


def instance_actions(instance: Instance) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    labels = texts.INSTANCE_BUTTONS
    gone = instance.status in (InstanceStatus.TERMINATED, InstanceStatus.TERMINATING)
    if not gone:
        for action in ("health", "restart", "reprovision", "terminate"):
            b.button(text=labels[action], callback_data=InstanceCb(action=action, instance_id=instance.id))
    b.button(text=texts.ADMIN_LIST_BUTTONS["back"], callback_data=InstanceListCb(status=str(instance.status)))
    b.adjust(2, 2, 1)
    return b.as_markup()


def terminate_confirm(instance_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    labels = texts.INSTANCE_BUTTONS
    b.button(
        text=labels["terminate_yes"],
        callback_data=InstanceCb(action="terminate_yes", instance_id=instance_id),
    )
    b.button(
        text=labels["terminate_no"], callback_data=InstanceCb(action="terminate_no", instance_id=instance_id)
    )
    b.adjust(2)
    return b.as_markup()


def order_filters(current: str) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for name in ["all", *(s.value for s in OrderStatus)]:
        b.button(
            text=("• " if name == current else "") + name.replace("_", " "),
            callback_data=OrderListCb(status=name),
        )
    b.adjust(3)
    return b.as_markup()


@per_locale
def remove_reply_keyboard() -> ReplyKeyboardRemove:
    return ReplyKeyboardRemove()


def support(reference: str = "") -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=texts.BTN_SUPPORT, callback_data=SupportCb(reference=reference))
    return b.as_markup()
