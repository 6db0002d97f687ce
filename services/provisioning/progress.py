"""Provisioning progress: ONE message per order, edited in place as the saga reports steps.

`render_progress` is pure (step -> text and buttons). `ProgressReporter.report` is what the worker
calls: the first report sends the message and stores `Order.progress_chat_id/progress_message_id`;
later reports edit that message. While the customer's ownership check is open (the saga issued a
`Verification` and nobody has used it yet), every later step keeps the one-tap deep link visible,
because "verify" can be reported before the server is ready and must not be scrolled away.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from models import Instance, Order, Verification
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert
from services.notifications.customer_text import N_, Text
from services.notifications.customers import Messenger, queue_customer_message
from services.provisioning.customer_notices import act_button
from services.provisioning.verification import deep_link as verification_link

log = logging.getLogger(__name__)

PAID = "paid"
LAUNCHING = "launching"
CREATING_BOT = "creating_bot"
WAITING_SERVER = "waiting_server"
VERIFY = "verify"
ACTIVATING = "activating"
LIVE = "live"
FAILED = "failed"

BAR_SLOTS = 6


@dataclass(frozen=True)
class Step:
    level: int  # filled slots of the bar
    text: str


STEPS: dict[str, Step] = {
    PAID: Step(1, N_("Payment received. Getting everything ready…")),
    LAUNCHING: Step(2, N_("Starting your server…")),
    CREATING_BOT: Step(2, N_("Creating your Telegram bot…")),
    WAITING_SERVER: Step(3, N_("Waiting for your server to finish setting up…")),
    VERIFY: Step(4, N_("Your bot exists! One tap to prove it is yours.")),
    ACTIVATING: Step(5, N_("Switching your agent on…")),
    LIVE: Step(6, N_("Your agent is live.")),
}
# the step named in a failure ("It happened at: ...")
STEP_NAMES: dict[str, str] = {
    PAID: N_("Payment received"),
    LAUNCHING: N_("Starting your server"),
    CREATING_BOT: N_("Creating your Telegram bot"),
    WAITING_SERVER: N_("Waiting for your server to finish setting up"),
    VERIFY: N_("Your bot exists! One tap to prove it is yours"),
    ACTIVATING: N_("Switching your agent on"),
    LIVE: N_("Your agent is live"),
}


class _DeliveryFailed(Exception):
    def __init__(self, cause: Exception, chat_id: int, text: Text, buttons: list[tuple[Text, str]]) -> None:
        super().__init__(str(cause))
        self.cause, self.chat_id, self.text, self.buttons = cause, chat_id, text, buttons


class MessageNotEditable(Exception):
    """The progress message can no longer be edited (deleted, too old): send a new one instead."""


def progress_bar(level: int, slots: int = BAR_SLOTS) -> str:
    level = max(0, min(slots, level))
    return "▰" * level + "▱" * (slots - level)


def _lines(*lines: Text) -> Text:
    """Several texts as one message, a line each (each translated on its own)."""
    return Text(
        "\n".join(f"{{l{i}}}" for i in range(len(lines))), {f"l{i}": line for i, line in enumerate(lines)}
    )


def render_progress(
    step: str,
    *,
    failed: bool = False,
    detail: str | Text = "",
    bot_username: str | None = None,
    deep_link: str | None = None,
) -> tuple[Text, list[tuple[Text, str]]]:
    """The progress message for `step`: (text, URL buttons), rendered in the customer's language by
    the bot (`Text`). A str `detail` is escaped there; a `Text` detail is translated too.

    `deep_link`: the open ownership check's link, as a button. For a failure, `detail` says what
    happens next (retry, refund); without it a generic "we are on it" is shown.
    """
    if step != FAILED and step not in STEPS:
        raise ValueError(f"unknown progress step {step!r} (known: {', '.join([*STEPS, FAILED])})")
    known = STEPS.get(step)
    buttons: list[tuple[Text, str]] = []
    if failed or known is None:
        bar = progress_bar(known.level if known else 0)
        lines = [Text(N_("{bar} <b>Setting up your agent hit a problem.</b>"), {"bar": bar})]
        if known is not None and step != FAILED:
            lines.append(Text(N_("It happened at: {step}."), {"step": Text(STEP_NAMES[step])}))
        next_step = detail or Text(
            N_("our team has been alerted and will retry or refund you. You don't need to do anything.")
        )
        lines.append(Text(N_("<b>What happens next:</b> {next}"), {"next": next_step}))
        return _lines(*lines), buttons
    lines = [Text(N_("{bar} {step}"), {"bar": progress_bar(known.level), "step": Text(known.text)})]
    if detail:
        lines.append(detail if isinstance(detail, Text) else Text("{detail}", {"detail": detail}))
    if step == LIVE:
        if bot_username:
            lines.append(
                Text(N_("Say hello to @{username}: it answers only you."), {"username": bot_username})
            )
            buttons.append(
                (Text(N_("Open @{username}"), {"username": bot_username}), f"https://t.me/{bot_username}")
            )
        lines.append(Text(N_("See all your agents with /mybots.")))
        return _lines(*lines), buttons
    if deep_link:
        lines.append(
            Text(
                N_(
                    "Open your new bot with the button below and press <b>Start</b>: that "
                    "proves this Telegram account owns it, and only you will be able to talk to "
                    "your agent."
                )
            )
        )
        buttons.append(act_button(bot_username, deep_link))
    return _lines(*lines), buttons


async def open_deep_link(order_id: int) -> tuple[str | None, str | None]:
    """(bot username, deep link) of the order's open ownership check, if one is waiting."""
    instance = await Instance.filter(order_id=order_id).order_by("-id").first()
    if instance is None:
        return None, None
    verification = await Verification.get_or_none(instance_id=instance.id)
    if (
        verification is None
        or verification.verified_at is not None
        or not instance.bot_username
        or verification.expires_at <= utcnow()
    ):
        return instance.bot_username, None
    return instance.bot_username, verification_link(instance.bot_username, verification.code)


class ProgressReporter:
    """Keeps one progress message per order up to date. Called by the provisioning saga.

    Best effort: a customer who blocked the bot, a flood limit or a Telegram outage never fails a
    provisioning step. The failure is logged and, with a `queue`, the message is queued as a
    `notify_customer` job that the worker retries with backoff.
    """

    def __init__(self, messenger: Messenger, queue: JobQueue | None = None) -> None:
        self.messenger = messenger
        self.queue = queue
        self._locks: dict[int, asyncio.Lock] = {}

    async def report(
        self, order_id: int, step: str, *, failed: bool = False, detail: str | Text = ""
    ) -> None:
        """Show `step` for the order: send the message the first time, edit it afterwards."""
        try:
            await self._report(order_id, step, failed=failed, detail=detail)
        except _DeliveryFailed as exc:
            log.warning(
                "progress message not delivered order=%s step=%s error=%s",
                order_id,
                step,
                type(exc.cause).__name__,
            )
            if self.queue is not None:
                await queue_customer_message(
                    self.queue,
                    exc.chat_id,
                    exc.text,
                    buttons=exc.buttons,
                    key=f"progress:{order_id}:{'failed' if failed else step}",
                )
                await raise_alert(
                    self.queue,
                    "customer_unreachable",
                    f"Order {order_id}: the customer (chat {exc.chat_id}) could not be sent the "
                    f"{'failure' if failed else step} progress message ({type(exc.cause).__name__}: "
                    f"{str(exc.cause)[:200]}). Provisioning goes on; the message is retried. If they "
                    f"blocked the bot, reach them another way: they may need the verification link.",
                    dedup_key=f"customer_unreachable:{order_id}",
                )

    async def _report(self, order_id: int, step: str, *, failed: bool, detail: str | Text) -> None:
        lock = self._locks.setdefault(order_id, asyncio.Lock())
        async with lock:  # launching and creating_bot report concurrently: never send twice
            order = await Order.get(id=order_id).select_related("customer")
            bot_username, deep_link = await open_deep_link(order_id)
            text, buttons = render_progress(
                step,
                failed=failed,
                detail=detail,
                bot_username=bot_username or order.bot_username,
                deep_link=None if step == LIVE else deep_link,
            )
            chat_id = order.customer.telegram_id
            try:
                if order.progress_message_id and order.progress_chat_id:
                    try:
                        await self.messenger.edit(
                            order.progress_chat_id, order.progress_message_id, text, buttons or None
                        )
                        return
                    except MessageNotEditable:
                        log.info("progress message gone, sending a new one order=%s", order_id)
                message_id = await self.messenger.send(chat_id, text, buttons or None)
            except Exception as exc:  # blocked, flood-limited, Telegram down: never the saga's failure
                raise _DeliveryFailed(exc, chat_id, text, buttons) from exc
            await Order.filter(id=order_id).update(progress_chat_id=chat_id, progress_message_id=message_id)
        if step in (LIVE, FAILED) or failed:
            self._locks.pop(order_id, None)
