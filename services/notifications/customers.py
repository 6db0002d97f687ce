"""Messages to customers go through the job queue, so a webhook or a sweep never waits on Telegram.

`queue_customer_message` writes a `notify_customer` job; the worker delivers it with a `Messenger`
(the aiogram implementation lives in bot/messenger.py). Services depend on the protocol only.
"""

from __future__ import annotations

from typing import Any, Protocol

from models import Instance
from services.jobs.kinds import NOTIFY_CUSTOMER
from services.jobs.queue import JobQueue
from services.notifications.customer_text import Text, decode, encode, plain

Label = str | Text
Buttons = list[tuple[Label, str]]

ACTION_PREFIX = "action:"
RENEW_ACTION = "renew"


def action(name: str, arg: int | str) -> str:
    """A button target that is not a URL but an action in the Meet Matt chat (the bot maps it to
    its callback data), e.g. `action(RENEW_ACTION, instance_id)`."""
    return f"{ACTION_PREFIX}{name}:{arg}"


class Messenger(Protocol):
    """What services need from a Telegram bot: send a message, edit one in place.

    Text and button labels are rendered HTML (user-typed values already escaped) or a `Text`, which
    the bot renders in the customer's language."""

    async def send(self, chat_id: int, text: str | Text, buttons: Buttons | None = None) -> int:
        """Send; buttons are (label, url or `action(...)`). Returns the message id."""
        ...

    async def edit(
        self, chat_id: int, message_id: int, text: str | Text, buttons: Buttons | None = None
    ) -> None: ...


async def render_for(messenger: Messenger, chat_id: int, text: str | Text) -> str:
    """`text` as HTML in the language of the customer `chat_id`, for a message another bot sends
    (the customer's new bot): the bot's Messenger renders with its catalogue (`render`); a messenger
    without one gives English."""
    render = getattr(messenger, "render", None)
    if render is not None:
        return await render(chat_id, text)
    return plain(text)


async def queue_customer_message(
    queue: JobQueue,
    chat_id: int,
    text: str | Text,
    *,
    key: str | None = None,
    buttons: Buttons | None = None,
    using_db: Any = None,
) -> None:
    """Queue one message for a customer. With `key`, the same message is never queued twice."""
    payload = {
        "chat_id": chat_id,
        "text": encode(text),
        "buttons": [[encode(label), target] for label, target in buttons or []],
    }
    await queue.enqueue(NOTIFY_CUSTOMER, payload, key=key, using_db=using_db)


async def deliver_customer_message(messenger: Messenger, payload: dict[str, Any]) -> None:
    """The `notify_customer` job's work."""
    buttons: Buttons = [(decode(label), str(target)) for label, target in payload.get("buttons") or []]
    await messenger.send(int(payload["chat_id"]), decode(payload["text"]), buttons or None)


async def owner_chat_id(instance_id: int) -> int | None:
    """Where an instance's owner reads: the ordering customer's chat, else the verified owner's."""
    rows = await Instance.filter(id=instance_id).values("customer__telegram_id", "owner_telegram_id")
    if not rows:
        return None
    chat = rows[0]["customer__telegram_id"] or rows[0]["owner_telegram_id"]
    return int(chat) if chat else None
