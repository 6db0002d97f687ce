"""Who did an admin action, the audit record every action writes, and the results and errors that
both doors render in their own words."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from models import MAX_ID, AdminAction, Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """The admin behind an action: a Telegram user from the bot, the operator's shell from the CLI."""

    telegram_id: int | None
    name: str

    @classmethod
    def cli(cls) -> Actor:
        return cls(None, "cli")  # the audit trail has always recorded CLI actions without an admin id


class OperationError(Exception):
    """The action was not done; the message says why in plain words (and never holds a secret)."""


class NotFound(OperationError):
    """The action names a row that does not exist."""


class Refused(OperationError):
    """The row exists but the action does not apply to it now."""


@dataclass(frozen=True)
class QueuedJob:
    """An action the worker carries out: its job, and whether an earlier request had queued it."""

    job: Job
    already_queued: bool
    audit: AdminAction


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


async def record(actor: Actor, action: str, target: str, detail: str = "") -> AdminAction:
    """Write the audit record of a done action; the same whichever door the actor used."""
    row = await AdminAction.create(
        admin_telegram_id=actor.telegram_id, action=action, target=target[:128], detail=detail
    )
    log.info("admin action action=%s target=%s admin=%s", action, target, actor.telegram_id or actor.name)
    return row
