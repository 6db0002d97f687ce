"""/accounts: the creator-account pool, with check / enable / disable / priority buttons."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import AccountCb
from config import Settings
from handlers.admin.audit import actor_of, echo
from models import TelegramAccount
from services.jobs.queue import JobQueue
from services.operations.accounts import (
    AccountChange,
    disable_account,
    enable_account,
    queue_account_check,
    shift_priority,
)
from services.operations.audit import Actor, NotFound, QueuedJob

LIMIT = 25  # one message (Telegram's 4096 characters), one button per account


async def list_accounts(message: Message) -> None:
    accounts = await TelegramAccount.all().order_by("priority", "id").limit(LIMIT)
    if not accounts:
        await message.answer(texts.ADMIN_NO_ACCOUNTS)
        return
    total = await TelegramAccount.all().count()
    text = "\n".join([texts.admin_accounts_header(total), *(texts.admin_account_line(a) for a in accounts)])
    await message.answer(text, reply_markup=keyboards.account_list(accounts))


async def show_account(callback: CallbackQuery, callback_data: AccountCb) -> None:
    account = await TelegramAccount.get_or_none(id=callback_data.account_id)
    if account is None:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    await callback.answer()
    await callback.message.answer(
        texts.admin_account(account), reply_markup=keyboards.account_actions(account)
    )


async def account_action(
    callback: CallbackQuery, callback_data: AccountCb, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    action = callback_data.action
    try:
        done = await _apply(action, callback_data.account_id, actor_of(callback.from_user), queue)
    except NotFound:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    if done is None:
        await callback.answer()
        return
    if isinstance(done, QueuedJob):
        await callback.answer(texts.ADMIN_QUEUED.format(what="account check"))
        await echo(bot, settings, done.audit, callback.from_user)
        return
    account = done.account
    await callback.answer(f"priority {account.priority}" if action.startswith("prio") else f"{action}d")
    await echo(bot, settings, done.audit, callback.from_user)
    await callback.message.edit_text(
        texts.admin_account(account), reply_markup=keyboards.account_actions(account)
    )


async def _apply(
    action: str, account_id: int, actor: Actor, queue: JobQueue
) -> AccountChange | QueuedJob | None:
    if action == "check":
        return await queue_account_check(queue, account_id, actor)
    if action == "enable":
        return await enable_account(account_id, actor)
    if action == "disable":
        return await disable_account(account_id, actor)
    if action in ("prio_up", "prio_down"):
        return await shift_priority(account_id, -1 if action == "prio_up" else 1, actor)  # lower goes first
    return None


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.accounts")
    router.message.register(list_accounts, Command("accounts"))
    router.callback_query.register(show_account, AccountCb.filter(F.action == "show"))
    router.callback_query.register(account_action, AccountCb.filter())
    return router
