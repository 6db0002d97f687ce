"""What an instance's owner is told about it (HTML; values escaped): expiry reminders with their
one-tap Renew, the stop and the deletion after the grace period, and how a restart they asked for went.
"""

from __future__ import annotations

from models import Instance
from services.notifications.customer_text import N_, Text
from services.notifications.customers import RENEW_ACTION, action


def _bot(instance: Instance) -> Text:
    if instance.bot_username:
        return Text(N_("@{username}"), {"username": instance.bot_username})
    return Text(N_("your agent"))


def reminder_text(instance: Instance) -> Text:
    """The expiry reminder: it gives the date, not a count of days (which would need plural forms)."""
    when = instance.expires_at.strftime("%Y-%m-%d") if instance.expires_at else "—"
    return Text(
        N_(
            "⏰ Your agent {bot} expires on <b>{when}</b>. Renew it with the button below (or /renew) "
            "to keep it running."
        ),
        {"bot": _bot(instance), "when": when},
    )


def renew_buttons(instance: Instance) -> list[tuple[Text, str]]:
    """An expiry message carries its one-tap Renew, like the ownership link's reminders."""
    label = (
        Text(N_("🔁 Renew @{username}"), {"username": instance.bot_username})
        if instance.bot_username
        else Text(N_("🔁 Renew"))
    )
    return [(label, action(RENEW_ACTION, instance.id))]


def restarted_text(instance: Instance) -> Text:
    return Text(N_("✅ {bot} restarted and is live again."), {"bot": _bot(instance)})


def restart_failed_text(instance: Instance) -> Text:
    return Text(
        N_(
            "{bot} did not come back after the restart. Our team has been alerted and is on it; you "
            "don't need to do anything."
        ),
        {"bot": _bot(instance)},
    )


def stopped_text(instance: Instance, grace_days: int) -> Text:
    return Text(
        N_(
            "Your agent {bot} has expired and is paused. Renew it within {grace_days} days to bring "
            "it back; after that its server is deleted for good."
        ),
        {"bot": _bot(instance), "grace_days": grace_days},
    )


def terminated_text(instance: Instance) -> Text:
    return Text(
        N_("The server of your agent {bot} was deleted after the grace period ended."),
        {"bot": _bot(instance)},
    )
