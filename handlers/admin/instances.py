"""/instances: servers by status, paged; details; health check, restart, re-provision, terminate."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import InstanceCb, InstanceListCb
from config import Settings
from handlers.admin.audit import actor_of, echo
from models import Instance, InstanceStatus
from services.jobs.queue import JobQueue
from services.operations import instances as operations
from services.operations.audit import NotFound

PAGE_SIZE = 8
JOBS = {
    "health": (operations.check_instance, "health check"),
    "restart": (operations.restart_instance, "agent restart"),
    "reprovision": (operations.reprovision_instance, "re-provision"),
    "terminate_yes": (operations.terminate_instance, "termination"),
}


STATUSES = {s.value for s in InstanceStatus}


async def _page(status: str, page: int) -> tuple[str, object]:
    status = status if status == "all" or status in STATUSES else "active"
    query = Instance.all() if status == "all" else Instance.filter(status=status)
    total = await query.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = max(0, min(page, pages - 1))
    items = await query.order_by("-id").offset(page * PAGE_SIZE).limit(PAGE_SIZE)
    text = texts.admin_instances_header(status, total, page, pages)
    if not items:
        text += "\n" + texts.ADMIN_NO_INSTANCES.format(status=texts.esc(status))
    else:
        text += "\n" + "\n".join(texts.admin_instance_line(i) for i in items)
    return text, keyboards.instance_list(items, status, page, pages)


async def list_instances(message: Message, command: CommandObject) -> None:
    wanted = (command.args or "active").strip().lower()
    status = wanted if wanted == "all" or wanted in STATUSES else "active"
    text, markup = await _page(status, 0)
    await message.answer(text, reply_markup=markup)


async def page_instances(callback: CallbackQuery, callback_data: InstanceListCb) -> None:
    await callback.answer()
    text, markup = await _page(callback_data.status, callback_data.page)
    await callback.message.edit_text(text, reply_markup=markup)


async def show_instance(callback: CallbackQuery, callback_data: InstanceCb) -> None:
    instance = await Instance.get_or_none(id=callback_data.instance_id)
    if instance is None:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    await callback.answer()
    if callback_data.action == "show":
        await callback.message.answer(
            texts.admin_instance(instance), reply_markup=keyboards.instance_actions(instance)
        )
    else:
        await callback.message.edit_text(
            texts.admin_instance(instance), reply_markup=keyboards.instance_actions(instance)
        )


async def ask_terminate(callback: CallbackQuery, callback_data: InstanceCb) -> None:
    instance = await Instance.get_or_none(id=callback_data.instance_id)
    if instance is None:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    await callback.answer()
    await callback.message.edit_text(
        texts.ADMIN_TERMINATE_CONFIRM.format(
            id=instance.id, username=texts.esc(instance.bot_username or "—")
        ),
        reply_markup=keyboards.terminate_confirm(instance.id),
    )


async def instance_job(
    callback: CallbackQuery, callback_data: InstanceCb, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    act, what = JOBS[callback_data.action]
    try:
        done = await act(queue, callback_data.instance_id, actor_of(callback.from_user))
    except NotFound:
        await callback.answer(texts.ADMIN_GONE, show_alert=True)
        return
    await callback.answer(texts.ADMIN_QUEUED.format(what=what))  # the worker does the work, later
    await echo(bot, settings, done.audit, callback.from_user)
    if act is operations.terminate_instance:
        instance = await Instance.get(id=callback_data.instance_id)
        await callback.message.edit_text(
            texts.admin_instance(instance) + "\n\n" + texts.ADMIN_QUEUED.format(what=what),
            reply_markup=keyboards.instance_actions(instance),
        )


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.instances")
    router.message.register(list_instances, Command("instances"))
    router.callback_query.register(page_instances, InstanceListCb.filter())
    router.callback_query.register(show_instance, InstanceCb.filter(F.action.in_({"show", "terminate_no"})))
    router.callback_query.register(ask_terminate, InstanceCb.filter(F.action == "terminate"))
    router.callback_query.register(instance_job, InstanceCb.filter(F.action.in_(set(JOBS))))
    return router
