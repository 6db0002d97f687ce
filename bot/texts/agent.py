"""Texts of one agent's page in /mybots (health, persona, payments, restart), in the customer's
language. Functions only: each marks its English msgid with `_()` where it is read. User-typed values
(the persona) are escaped here."""

from __future__ import annotations

from bot.i18n import _, money
from bot.texts.markup import date, esc, esc_clipped
from models import Instance, Order
from services.agents.controls import Health, HealthLine, RestartOutcome
from services.orders.validation import DESCRIPTION_MAX, PERSONA_NAME_MAX, PERSONA_PROMPT_MAX


def health(line: HealthLine) -> str:
    words = {
        Health.LIVE: _("✅ live"),
        Health.RESTARTING: _("🔄 restarting"),
        Health.TROUBLE: _("⚠️ not answering (we're repairing it)"),
        Health.STOPPED: _("⏸ stopped"),
        Health.SETTING_UP: _("⏳ being set up"),
    }
    checked = date(line.checked_at) if line.checked_at else _("not checked yet")
    return _("Health: {state} · last check: {checked}").format(state=words[line.health], checked=checked)


def persona(instance: Instance) -> str:
    if not instance.persona_name:
        return _("Persona: none yet (tap 🎭 Persona to give your agent a name and a manner).")
    text = _("Persona: <b>{name}</b>").format(name=esc(instance.persona_name))
    if instance.persona_prompt:
        text += " — " + esc_clipped(instance.persona_prompt, 120)
    return text


def payments(orders: list[Order]) -> str:
    if not orders:
        return _("Payments: none yet.")
    lines = [_("Payments:")]
    for order in orders:
        paid = order.paid_at.strftime("%Y-%m-%d") if order.paid_at else "—"
        what = _("renewal") if order.renews_id else _("order")
        line = f"  {paid} · {money(order.amount, order.currency)} · {what} #{order.id}"
        if order.amount_refunded:
            line += " · " + _("refunded {amount}").format(amount=money(order.amount_refunded, order.currency))
        lines.append(line)
    return "\n".join(lines)


def agent_page(instance: Instance, line: HealthLine, orders: list[Order]) -> str:
    name = f"@{esc(instance.bot_username)}" if instance.bot_username else _("(bot not created yet)")
    head = _("🤖 {name} · expires {expires}").format(
        name=name, expires=instance.expires_at.strftime("%Y-%m-%d") if instance.expires_at else "—"
    )
    return "\n".join([head, health(line), persona(instance), payments(orders)])


def restart_answer(outcome: RestartOutcome) -> str:
    return {
        RestartOutcome.QUEUED: _("Restarting… Meet Matt tells you when your agent is live again."),
        RestartOutcome.ALREADY: _("A restart is already under way."),
        RestartOutcome.NOT_RUNNING: _("This agent is not running, so there is nothing to restart."),
        RestartOutcome.NOT_FOUND: _("That agent is not one of yours."),
    }[outcome]


def ask_persona(instance: Instance) -> str:
    current = persona(instance)
    return _(
        "Send your agent's persona in one message:\n"
        "• first line: the name it uses (up to {name_max} characters);\n"
        "• below: how it should behave, e.g. “Answer briefly, in a friendly tone” "
        "(up to {prompt_max} characters).\n\n{current}\n\nOr /cancel."
    ).format(name_max=PERSONA_NAME_MAX, prompt_max=PERSONA_PROMPT_MAX, current=current)


def persona_saved(name: str, pushed: bool) -> str:
    if pushed:
        return _(
            "🎭 Saved: your agent is <b>{name}</b> now. It picks this up in a minute, after its "
            "config is pushed."
        ).format(name=esc(name))
    return _("🎭 Saved: your agent will be <b>{name}</b>. It uses this from when it is switched on.").format(
        name=esc(name)
    )


def btn_restart() -> str:
    return _("🔄 Restart")


def btn_persona() -> str:
    return _("🎭 Persona")


def btn_manage(username: str) -> str:
    return _("⚙️ Manage @{username}").format(username=username)


def btn_all_agents() -> str:
    return _("« All my agents")


def persona_as_text() -> str:
    return _("Please send the persona as text: the name on the first line, how it behaves below. Or /cancel.")


def btn_profile() -> str:
    return _("🖼 Profile")


def ask_profile(instance: Instance) -> str:
    return _(
        "Send a new <b>description</b> for @{username} as text (up to {limit} characters), or a new "
        "<b>photo</b> for its profile. Or /cancel."
    ).format(username=esc(instance.bot_username or ""), limit=DESCRIPTION_MAX)


def profile_answer(outcome: str) -> str:
    """The reply to a profile change: queued, or why not."""
    return {
        "queued": _("🖼 Changing it now; I'll tell you when Telegram shows it."),
        "not_live": _("Your agent is not live, so its profile cannot be changed now."),
        "managed": _(
            "Telegram made this bot for you, so it is yours in @BotFather: change its description "
            "and photo there (/setdescription, /setuserpic)."
        ),
    }.get(outcome) or restart_answer(RestartOutcome.NOT_FOUND)


def profile_empty() -> str:
    return _("The description is empty. Please send some text or a photo, or /cancel.")
