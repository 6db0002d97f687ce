"""The /new dialogue: its buttons, the questions, the reasons an answer is refused, and the summary."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import N_, _
from bot.texts.markup import esc
from bot.texts.packages import price
from services.orders.validation import Checked
from services.payments.packages import Package

BTN_CONFIRM = N_("✅ Confirm and pay")
BTN_EDIT = N_("✏️ Edit")
BTN_CANCEL = N_("✖️ Cancel")
BTN_SKIP = N_("Skip")
BTN_BACK = N_("« Back to summary")

BTN_MANAGED = N_("✨ Create my bot with Telegram")
EDIT_FIELDS = {
    "package": N_("Package"),
    "name": N_("Name"),
    "username": N_("Username"),
    "description": N_("Description"),
    "avatar": N_("Picture"),
}

ASK_PACKAGE = N_("Which package would you like?")
ASK_NAME = N_(
    "What should your bot be called? This is the display name people see, e.g. "
    "<i>Tom's Helper</i>. 1 to 64 characters."
)
ASK_USERNAME = N_(
    "Now a username for your bot: 5 to 32 Latin letters, digits or underscores, starting with a letter "
    "and ending in <code>bot</code>.\n\n"
    "Free suggestion: <code>{suggestion}</code> (tap the button to use it)."
)
ASK_USERNAME_MANAGED = N_(
    "\n\nOr let Telegram create the bot for you right now: tap <b>{button}</b> below. You will own the "
    "bot, and I will manage it for you."
)
ASK_DESCRIPTION = N_(
    "A short description of what your agent is for (shown on the bot's profile), up to 512 "
    "characters. Or tap Skip."
)
ASK_AVATAR = N_("Send a photo to use as your bot's picture (square works best), or tap Skip.")
NEED_TEXT = N_("Please send this as a text message.")
NEED_PHOTO = N_("Please send a picture as a <b>photo</b> (not as a file or sticker), or tap Skip.")
REFUSED = N_("⚠️ {reason}\n\nPlease try again, or send /cancel to stop.")
USE_SUGGESTION = N_("Use {suggestion}")
USERNAME_CHOSEN = N_("Username: @{username}")

MANAGED_ATTACHED = N_("Telegram created @{username} for you. I'll set it up after payment.")

TOO_MANY_UNPAID = N_(
    "You already have {count} unpaid orders. Pay one of them from /mybots, or wait: an "
    "unpaid order closes by itself when its payment link expires (within about an hour)."
)
ORDER_INCOMPLETE = N_("Your order was incomplete. Please start again with /new.")


def reason(checked: Checked) -> str:
    """A validator's reason in the customer's language (plain text)."""
    return _(checked.problem or "").format(**checked.params)


def order_error(problem: str, params: Mapping[str, object]) -> str:
    """Why an order cannot be made as asked (services' OrderError), in the customer's language."""
    return esc(_(problem).format(**params))


def refused(checked: Checked) -> str:
    """A validator's reason inside the "please try again" frame (HTML, escaped)."""
    return _(REFUSED).format(reason=esc(reason(checked)))


def summary(data: Mapping[str, object], package: Package | None) -> str:
    description = str(data.get("description") or "")
    username = data.get("bot_username")
    managed = data.get("creation_mode") == "managed"
    if package:
        package_line = _("Package: <b>{title}</b> ({price} for {days} days)").format(
            title=esc(_(package.title)), price=esc(price(package)), days=package.term_days
        )
    else:
        package_line = _("Package: <b>—</b>")
    if username:
        username_line = (
            _("Username: @{username} (created by Telegram)") if managed else _("Username: @{username}")
        ).format(username=esc(username))
    else:
        username_line = _("Username: —")
    lines = [
        _("<b>Your order</b>"),
        package_line,
        _("Name: <b>{name}</b>").format(name=esc(data.get("bot_name"))),
        username_line,
        _("Description: {description}").format(description=esc(description) if description else "—"),
        _("Picture: ✓ photo received") if data.get("avatar_file_id") else _("Picture: —"),
        "",
        _("Is everything right?"),
    ]
    return "\n".join(lines)


def choose_edit() -> str:
    return _("What would you like to change?")


def suggestion_question(suggestion: str) -> str:
    """Under Telegram's "create my bot" button: or take the free suggestion?"""
    return _(USE_SUGGESTION).format(suggestion=esc(suggestion)) + "?"
