"""The welcome, /help, the main menu and the command menus, /language, and the answers any screen may
give (cancelled, not understood, slow down, something went wrong)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import N_, _
from bot.texts.markup import esc
from bot.texts.packages import package_lines
from services.payments.packages import Package

BTN_ORDER = N_("🤖 Order an agent")
BTN_MY_BOTS = N_("📋 My agents")
BTN_HELP = N_("❓ Help")

BTN_SUPPORT = N_("💬 Support")

COMMANDS_CUSTOMER = {
    "start": N_("Welcome and packages"),
    "new": N_("Order a new AI agent"),
    "mybots": N_("Your agents, their status and expiry"),
    "renew": N_("Pay for another term of an agent"),
    "help": N_("How it works"),
    "cancel": N_("Stop what you are doing"),
    "support": N_("Ask our team a question"),
    "terms": N_("Terms of service and refunds"),
    "language": N_("Change the language"),
}


def welcome(first_name: str | None, packages: Iterable[Package]) -> str:
    lines = [
        _("Hi {name}! I'm <b>Matt</b>.").format(name=esc(first_name or _("there"))),
        "",
        _(
            "I set up a <b>personal AI agent</b> for you: your own Telegram bot, answered by an OpenClaw "
            "agent on the Kimi K2.5 model, running on a private server that only you use."
        ),
        "",
        _("<b>What you get</b>"),
        _("• your own bot with the name, username, description and picture you choose"),
        _("• a dedicated cloud server, set up for you in a few minutes"),
        _("• only your Telegram account can talk to it"),
        "",
        _("<b>Packages</b>"),
        *package_lines(packages),
        "",
        _("Tap <b>Order an agent</b> or send /new to start."),
    ]
    return "\n".join(lines)


HELP = N_(
    "<b>How it works</b>\n"
    "1. /new: choose a package, a name and a username for your bot (a description and a picture are "
    "optional, under ✏️ Edit).\n"
    "2. Pay with the secure Stripe link.\n"
    "3. I create your bot and your server, and show the progress in one message.\n"
    "4. Open your new bot with the link I send and press Start: that proves it's yours.\n"
    "5. Your agent is live. Only you can talk to it.\n\n"
    "<b>Commands</b>\n"
    "/new – order an agent\n"
    "/mybots – your agents: health, restart, persona, payments, renew\n"
    "/renew – pay for another term\n"
    "/cancel – stop the current step\n"
    "/support – ask us anything\n"
    "/terms – terms of service and refunds\n"
    "/language – change the language\n"
    "/help – this message"
)

CANCELLED = N_("Cancelled. Nothing was ordered. Send /new whenever you want to start again.")
NOTHING_TO_CANCEL = N_("There is nothing to cancel. Send /new to order an agent.")
UNKNOWN = N_("I didn't understand that. Send /help to see what I can do.")
ORDER_EXPIRED_BUTTON = N_("This step is over. Send /new to start an order.")

THROTTLED = N_("Easy there, one message a second please. I'll keep up! 🙂")
THROTTLED_SHORT = N_("One tap a second, please.")
ERROR = N_(
    "Sorry, something went wrong on my side. If it keeps happening, tap Support and mention reference "
    "<code>{ref}</code>."
)

CHOOSE_LANGUAGE = N_("Which language should I speak?")
LANGUAGE_SET = N_("Done: I'll speak English from now on.")
