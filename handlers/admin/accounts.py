"""/accounts: the creator-account pool, with check / enable / disable / priority buttons."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import AccountCb
from config import Settings
from handlers.admin.audit import record_action
from models import AccountStatus, TelegramAccount
from services.jobs.kinds import ACCOUNT_CHECK
from services.jobs.queue import JobQueue

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
    account = await TelegramAccount.get_or_none(id=callback_data.account_id)
    if account is None:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    action = callback_data.action
    target = f"account #{account.id} {account.masked_phone}"
    if action == "check":
        await callback.answer(texts.ADMIN_QUEUED.format(what="account check"))
        job = await queue.enqueue(ACCOUNT_CHECK, {"account_id": account.id})
        await record_action(bot, settings, callback.from_user, "account_check", target, f"job #{job.id}")
        return
    if action in ("enable", "disable"):
        new_status = AccountStatus.ACTIVE if action == "enable" else AccountStatus.DISABLED
        await callback.answer(f"{action}d")
        detail = f"{account.status} -> {new_status}"
        await TelegramAccount.filter(id=account.id).update(status=new_status)
    elif action in ("prio_up", "prio_down"):
        delta = -1 if action == "prio_up" else 1  # lower is tried first
        await callback.answer(f"priority {account.priority + delta}")
        detail = f"priority {account.priority} -> {account.priority + delta}"
        await TelegramAccount.filter(id=account.id).update(priority=account.priority + delta)
    else:
        await callback.answer()
        return
    await record_action(bot, settings, callback.from_user, f"account_{action}", target, detail)
    fresh = await TelegramAccount.get(id=account.id)
    await callback.message.edit_text(
        texts.admin_account(fresh), reply_markup=keyboards.account_actions(fresh)
    )


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.accounts")
    router.message.register(list_accounts, Command("accounts"))
    router.callback_query.register(show_account, AccountCb.filter(F.action == "show"))
    router.callback_query.register(account_action, AccountCb.filter())
    return router
