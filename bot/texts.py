"""Every text the Meet Matt bot shows, in one place. Messages are HTML (parse mode set on the Bot).

Rule: every value a user typed (names, usernames, descriptions, reasons built from them) goes
through `esc()` before it is put into a message. Values we produce ourselves (numbers, statuses,
package titles from settings) are escaped too, because it costs nothing.

Languages: customer texts are English msgids marked with `N_()` (constants) or `_()` (inside
functions). Reading a constant, e.g. `texts.HELP`, gives it in the current customer's language: the
constants are kept in `_SOURCE` and served by the module's `__getattr__` (PEP 562), so call sites stay
`texts.NAME`. Admin texts (the admin section) are for the team and stay English.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.i18n import N_, Msgid, _, money
from models import AdminAction, Instance, Order, TelegramAccount
from services.model_gateway.usage_report import MonthUse, StatsUsage
from services.orders.validation import Checked
from services.payments.packages import Package


def esc(value: object) -> str:
    return html.escape(str(value if value is not None else ""), quote=False)


def esc_clipped(value: object, limit: int) -> str:
    """`value` cut to `limit` characters (an ellipsis marks the cut) and THEN escaped: cutting the
    escaped text could split an entity (`&am`) and Telegram would refuse the whole message."""
    text = str(value if value is not None else "")
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


# --- buttons ---------------------------------------------------------------------------------------

BTN_ORDER = N_("🤖 Order an agent")
BTN_MY_BOTS = N_("📋 My agents")
BTN_HELP = N_("❓ Help")
BTN_CONFIRM = N_("✅ Confirm and pay")
BTN_EDIT = N_("✏️ Edit")
BTN_CANCEL = N_("✖️ Cancel")
BTN_SKIP = N_("Skip")
BTN_BACK = N_("« Back to summary")
BTN_PAY = N_("💳 Pay {price}")
BTN_RENEW = N_("🔁 Renew @{username}")
BTN_RENEW_SHORT = N_("🔁 Renew")
BTN_OPEN_BOT = N_("Open @{username}")
BTN_OPEN_AND_START = N_("Open @{username} and press Start")
BTN_MANAGED = N_("✨ Create my bot with Telegram")
BTN_SUPPORT = N_("💬 Support")
EDIT_FIELDS = {
    "package": N_("Package"),
    "name": N_("Name"),
    "username": N_("Username"),
    "description": N_("Description"),
    "avatar": N_("Picture"),
}

# --- customer ------------------------------------------------------------------------------------

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
COMMANDS_ADMIN = {
    "accounts": "Creator accounts (admin)",
    "instances": "Servers and agents (admin)",
    "orders": "Recent orders (admin)",
    "stats": "Counts, revenue, pool health (admin)",
}
# the default catalogue's words, so they are translated too (PACKAGES_JSON texts show as written)
PACKAGE_WORDS = (
    N_("Starter"),
    N_("Pro"),
    N_("Starter, 1 year"),
    N_("One personal agent on its own t3.small server for 30 days"),
    N_("One agent on a larger t3.medium server for 30 days, for heavier use"),
    N_("The Starter agent for a full year, two months free"),
)


def price(package: Package) -> str:
    """The package's price, formatted for the current language (Babel)."""
    return money(package.price, package.currency)


PACKAGE_GONE = N_("That package is no longer offered.")


def package_title(package: Package) -> str:
    return _(package.title)


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


def package_lines(packages: Iterable[Package]) -> list[str]:
    return [
        _("• <b>{title}</b>: {price} for {days} days. {blurb}")
        .format(title=esc(_(p.title)), price=esc(price(p)), days=p.term_days, blurb=esc(_(p.blurb)))
        .rstrip()
        for p in packages
    ]


def package_button(package: Package) -> str:
    return _("{title} · {price} / {days} days").format(
        title=_(package.title), price=price(package), days=package.term_days
    )


PAID_RETURN = N_(
    "Thanks! As soon as Stripe confirms your payment, I'll show your agent's progress here in one message."
)
CANCEL_RETURN = N_(
    "The payment was not completed. Your order is kept: use the Pay button above when you're ready."
)

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
CANCELLED = N_("Cancelled. Nothing was ordered. Send /new whenever you want to start again.")
NOTHING_TO_CANCEL = N_("There is nothing to cancel. Send /new to order an agent.")
UNKNOWN = N_("I didn't understand that. Send /help to see what I can do.")
ORDER_EXPIRED_BUTTON = N_("This step is over. Send /new to start an order.")
CREATING_CHECKOUT = N_("Creating your secure payment link…")
CHECKOUT_FAILED = N_(
    "Sorry, I couldn't create the payment link just now (reference {ref}). Your order #{order_id} "
    "is saved: tap Confirm again in a minute, or send /mybots."
)
MANAGED_ATTACHED = N_("Telegram created @{username} for you. I'll set it up after payment.")
THROTTLED = N_("Easy there, one message a second please. I'll keep up! 🙂")
THROTTLED_SHORT = N_("One tap a second, please.")
ERROR = N_(
    "Sorry, something went wrong on my side. If it keeps happening, tap Support and mention reference "
    "<code>{ref}</code>."
)

# --- language ----------------------------------------------------------------------------------------

CHOOSE_LANGUAGE = N_("Which language should I speak?")
LANGUAGE_SET = N_("Done: I'll speak English from now on.")

# --- support and terms -------------------------------------------------------------------------------

ASK_SUPPORT = N_(
    "Write your question in one message and I'll pass it to our team with your orders attached. "
    "You'll get the answer here. Send /cancel to stop."
)
SUPPORT_SENT = N_("✅ Sent to our team. You'll get the answer here, usually within a day.")
SUPPORT_UNAVAILABLE = N_(
    "Sorry, I couldn't reach our team just now. Please try /support again in a few minutes."
)
SUPPORT_ANSWER = N_("💬 <b>Answer from Meet Matt support</b>\n\n{answer}")
ADMIN_SUPPORT_DELIVERED = "✓ Delivered to the customer."
ADMIN_SUPPORT_NOT_DELIVERED = "✗ Could not deliver the answer to the customer: {reason}"
REFUND_POLICY_AUTO = N_(
    "<b>Refunds</b>\nIf we cannot set up your agent, the order is refunded in full automatically. "
    "For anything else, write to /support."
)
REFUND_POLICY_MANUAL = N_(
    "<b>Refunds</b>\nIf we cannot set up your agent, our team refunds the order in full. "
    "For anything else, write to /support."
)
TERMS_NOT_PUBLISHED = N_("<b>Terms of service</b>\nAsk /support for our terms of service.")
TERMS_AT_URL = N_("<b>Terms of service</b>\nRead them here: {url}")
TERMS_TEXT = N_("<b>Terms of service</b>\n{text}")
TERMS_MAX_CHARS = 3000


def support_question(
    customer_name: str,
    telegram_id: int,
    username: str | None,
    question: str,
    orders: Iterable[Order],
    reference: str | None = None,
) -> str:
    """The post in the admin chat (English: it is for the team)."""
    who = esc(customer_name) + (f" (@{esc(username)})" if username else "")
    lines = [f"🆘 <b>Support question</b> from {who}, id <code>{telegram_id}</code>"]
    if reference:
        lines.append(f"Error reference: <code>{esc(reference)}</code>")
    order_lines = [
        f"#{o.id} {esc(o.package)} {esc(o.status)}" + (f" @{esc(o.bot_username)}" if o.bot_username else "")
        for o in orders
    ]
    lines.append("Orders: " + ("; ".join(order_lines) if order_lines else "none"))
    lines += ["", esc(question), "", "<i>Reply to this message to answer the customer.</i>"]
    return "\n".join(lines)


def terms(terms_text: str | None, terms_url: str | None, refunds_automatic: bool) -> str:
    if terms_url:
        head = _(_SOURCE["TERMS_AT_URL"]).format(url=esc(terms_url))
    elif terms_text:
        cut = terms_text.strip()
        if len(cut) > TERMS_MAX_CHARS:
            cut = cut[:TERMS_MAX_CHARS].rstrip() + "…"
        head = _(_SOURCE["TERMS_TEXT"]).format(text=esc(cut))
    else:
        head = _(_SOURCE["TERMS_NOT_PUBLISHED"])
    policy = _SOURCE["REFUND_POLICY_AUTO" if refunds_automatic else "REFUND_POLICY_MANUAL"]
    return head + "\n\n" + _(policy)


def reason(checked: Checked) -> str:
    """A validator's reason in the customer's language (plain text)."""
    return _(checked.problem or "").format(**checked.params)


def order_error(problem: str, params: Mapping[str, object]) -> str:
    """Why an order cannot be made as asked (services' OrderError), in the customer's language."""
    return esc(_(problem).format(**params))


def refused(checked: Checked) -> str:
    """A validator's reason inside the "please try again" frame (HTML, escaped)."""
    return _(_SOURCE["REFUSED"]).format(reason=esc(reason(checked)))


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


def pay(order: Order, package: Package | None) -> str:
    return _(
        "Order <b>#{order_id}</b> is ready. Pay {price} with the secure Stripe page below. "
        "When the payment is confirmed, I'll start setting up your agent and show the progress here."
    ).format(order_id=order.id, price=esc(price(package)) if package else "")


def renewal_pay(order: Order, instance: Instance, package: Package | None) -> str:
    return _("Renewal <b>#{order_id}</b> for @{username}: pay {price} below to add {days} days.").format(
        order_id=order.id,
        username=esc(instance.bot_username or _("your agent")),
        price=esc(price(package)) if package else "",
        days=package.term_days if package else "",
    )


NO_BOTS = N_("You have no agents yet. Send /new to order one.")
MY_BOTS_HEADER = N_("<b>Your agents and orders</b> ({total})")
MY_BOTS_PAGE = N_("Page {page} of {pages}")
BTN_PREVIOUS = N_("◀ Previous")
BTN_NEXT = N_("Next ▶")
TOO_MANY_UNPAID = N_(
    "You already have {count} unpaid orders. Pay one of them from /mybots, or wait: an "
    "unpaid order closes by itself when its payment link expires (within about an hour)."
)
ORDER_INCOMPLETE = N_("Your order was incomplete. Please start again with /new.")
NO_RENEWABLE = N_("You have no agent that can be renewed. Send /new to order one.")
CHOOSE_RENEW = N_("Which agent would you like to renew?")
STATUS_WORDS = {
    "warm": N_("getting ready"),
    "launching": N_("starting"),
    "booting": N_("setting up"),
    "ready": N_("almost ready"),
    "active": N_("live"),
    "unhealthy": N_("having trouble (we're on it)"),
    "stopped": N_("stopped (expired)"),
    "terminating": N_("shutting down"),
    "terminated": N_("shut down"),
    "failed": N_("failed"),
}
ORDER_STATUS_WORDS = {
    "awaiting_payment": N_("waiting for payment"),
    "paid": N_("paid, starting soon"),
    "needs_review": N_("payment being checked by our team"),
    "provisioning": N_("being set up"),
    "awaiting_verification": N_("waiting for you to open your bot"),
    "active": N_("live"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
    "refunded": N_("refunded"),
}


def my_bot(instance: Instance, *, awaiting_verification: bool = False) -> str:
    username = instance.bot_username
    link = f"@{esc(username)}" if username else _("(bot not created yet)")
    status_word = _SOURCE["STATUS_WORDS"].get(str(instance.status))
    status = _(status_word) if status_word else str(instance.status)
    text = _("🤖 {link}\nStatus: <b>{status}</b>\nExpires: {expires}").format(
        link=link, status=esc(status), expires=esc(_date(instance.expires_at))
    )
    if awaiting_verification:
        text += "\n" + _("Waiting for you: open your bot with the button below and press <b>Start</b>.")
    return text


def _tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 1_000 else str(n)


def model_use_line(use: MonthUse | None) -> str:
    """/mybots: this month's model use against the plan's allowance ('' when unknown)."""
    if use is None:
        return ""
    if use.quota.tokens_per_month <= 0:
        return "\n" + _("Model use this month: {tokens} tokens (no limit)").format(tokens=_tokens(use.tokens))
    warn = " ⚠️" if use.tokens >= use.quota.tokens_per_month else ""
    line = _("Model use this month: {tokens} of {quota} tokens ({percent}%){warn}, resets {day}")
    return "\n" + line.format(
        tokens=_tokens(use.tokens),
        quota=_tokens(use.quota.tokens_per_month),
        percent=min(999, round(use.percent or 0)),
        warn=warn,
        day=f"{use.resets_on:%Y-%m-%d}",
    )


def my_open_order(order: Order) -> str:
    status_word = _SOURCE["ORDER_STATUS_WORDS"].get(str(order.status))
    status = _(status_word) if status_word else str(order.status)
    return _("🧾 Order #{order_id}: <b>{name}</b>, {status}").format(
        order_id=order.id, name=esc(order.bot_name), status=esc(status)
    )


# --- admin ---------------------------------------------------------------------------------------

ADMIN_NO_ACCOUNTS = "No creator accounts. Add one with <code>python main.py accounts login</code>."
ADMIN_NO_INSTANCES = "No instances with status {status}."
ADMIN_NO_ORDERS = "No orders{status}."
ADMIN_GONE = "That item no longer exists."
ADMIN_QUEUED = "Queued: {what}"
ADMIN_ORDER_ID_NEEDED = "Which order? Send /{command} followed by the order number, e.g. /{command} 42."
ADMIN_APPROVED = "Order #{id} approved: it is paid now and its agent is being set up."
ADMIN_REFUND_QUEUED = "Refund of order #{id} queued: the worker sends it to Stripe and tells the customer."
ADMIN_TERMINATE_CONFIRM = (
    "Terminate instance #{id} (@{username})? The server is destroyed and the agent stops for good."
)
ACCOUNT_BUTTONS = {
    "check": "🩺 Check now",
    "enable": "▶️ Enable",
    "disable": "⏸ Disable",
    "prio_up": "⬆️ Priority (sooner)",
    "prio_down": "⬇️ Priority (later)",
}
INSTANCE_BUTTONS = {
    "health": "🩺 Health check",
    "restart": "🔄 Restart agent",
    "reprovision": "♻️ Re-provision",
    "terminate": "🗑 Terminate",
    "terminate_yes": "Yes, terminate",
    "terminate_no": "No, keep it",
}


def admin_account(account: TelegramAccount) -> str:
    cooldown = _date(account.cooldown_until) if account.cooldown_until else "—"
    return (
        f"<b>Account #{account.id}</b> {esc(account.masked_phone)}\n"
        f"Status: <b>{esc(account.status)}</b> · priority {account.priority}\n"
        f"Cooldown until: {esc(cooldown)}\n"
        f"Bots created: {account.created_bots}/{account.bot_limit} · source {esc(account.source)}\n"
        f"Last error: {esc_clipped(account.last_error or '—', 300)}"
    )


def admin_account_line(account: TelegramAccount) -> str:
    cooldown = f" · cooling down until {account.cooldown_until:%H:%M} UTC" if account.cooldown_until else ""
    error = f" · last error: {esc_clipped(account.last_error, 60)}" if account.last_error else ""
    return (
        f"#{account.id} {esc(account.masked_phone)} · <b>{esc(account.status)}</b> · priority "
        f"{account.priority} · bots {account.created_bots}/{account.bot_limit}{cooldown}{error}"
    )


def admin_accounts_header(count: int) -> str:
    return f"<b>Creator accounts</b>: {count}"


def admin_instances_header(status: str, total: int, page: int, pages: int) -> str:
    return f"<b>Instances</b> · {esc(status)} · {total} in all · page {page + 1}/{max(pages, 1)}"


def admin_instance_line(instance: Instance) -> str:
    return (
        f"#{instance.id} {esc(instance.status)} @{esc(instance.bot_username or '—')} "
        f"{esc(instance.ec2_instance_id or '')}"
    ).rstrip()


def admin_instance(instance: Instance) -> str:
    health = instance.last_health or {}
    health_text = ", ".join(f"{esc(k)}={esc(v)}" for k, v in list(health.items())[:8]) if health else "—"
    return (
        f"<b>Instance #{instance.id}</b> ({esc(instance.status)})\n"
        f"Bot: @{esc(instance.bot_username or '—')} · owner {esc(instance.owner_telegram_id or '—')}\n"
        f"EC2: {esc(instance.ec2_instance_id or '—')} {esc(instance.instance_type)} "
        f"IP {esc(instance.public_ip or '—')}\n"
        f"Order: #{esc(instance.order_id or '—')} · customer #{esc(instance.customer_id or '—')}\n"
        f"Expires: {esc(_date(instance.expires_at))}\n"
        f"Last health: {esc(_date(instance.last_health_at))} {health_text}\n"
        f"Repairs: {instance.repair_attempts}"
    )


def admin_order_line(order: Order) -> str:
    return (
        f"#{order.id} {esc(order.status)} {esc(order.package)} “{esc_clipped(order.bot_name, 32)}” "
        f"@{esc(order.bot_username or '—')} {order.amount / 100:.2f} {esc(order.currency.upper())} "
        f"· {esc(_date(order.created_at))}"
    )


def admin_orders(orders: list[Order], status: str | None) -> str:
    head = f"<b>Recent orders</b>{' · ' + esc(status) if status else ''}"
    return "\n".join([head, *(admin_order_line(o) for o in orders)])


def admin_stats(
    orders: Mapping[str, int],
    instances: Mapping[str, int],
    accounts: Mapping[str, int],
    jobs: Mapping[str, int],
    revenue: Mapping[str, int],
    usable_accounts: int,
) -> str:
    def block(title: str, counts: Mapping[str, int]) -> list[str]:
        body = ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) or "none"
        return [f"<b>{title}</b>: {body}"]

    money = ", ".join(f"{v / 100:.2f} {esc(k.upper())}" for k, v in sorted(revenue.items())) or "0.00"
    pool = "✅" if usable_accounts else "🚨 no usable creator account"
    return "\n".join(
        [
            "<b>Meet Matt stats</b>",
            *block("Orders", orders),
            *block("Instances", instances),
            *block("Accounts", accounts),
            *block("Jobs", jobs),
            f"<b>Revenue</b> (paid, net of refunds): {money}",
            f"<b>Pool health</b>: {usable_accounts} usable account(s) {pool}",
        ]
    )


def admin_model_usage(usage: StatsUsage) -> str:
    """/stats: model tokens and estimated cost per day, this month, and the top agents this month."""
    lines = [
        f"<b>Model</b> this month: {_tokens(usage.month_tokens.total)} tokens, "
        f"~${usage.month_cost:.2f} (estimated)"
    ]
    lines += [
        f"  {d.day:%m-%d}: {_tokens(d.tokens.total)} tokens in {d.requests} requests, ~${d.cost:.2f}"
        for d in usage.days
    ] or ["  no model use in the last days"]
    if usage.top:
        lines.append("<b>Top agents</b> this month:")
        lines += [
            f"  #{a.instance_id} @{esc(a.bot_username or '—')}: {_tokens(a.tokens.total)}, ~${a.cost:.2f}"
            for a in usage.top
        ]
    return "\n".join(lines)


def admin_action_echo(action: AdminAction, who: str) -> str:
    detail = f" · {esc(action.detail)}" if action.detail else ""
    return f"🛠 Admin {esc(who)}: <b>{esc(action.action)}</b> {esc(action.target)}{detail}"


# --- translation on read (keep last) ----------------------------------------------------------------


def _translated(value: Any) -> Any:
    if isinstance(value, Msgid):
        return _(value)
    if isinstance(value, dict):
        return {key: _translated(item) for key, item in value.items()}
    return value


def _is_source(value: Any) -> bool:
    return isinstance(value, Msgid) or (
        isinstance(value, dict) and bool(value) and all(isinstance(v, Msgid) for v in value.values())
    )


# English sources of the translatable constants; reading `texts.NAME` goes through `__getattr__`
_SOURCE: dict[str, Any] = {
    name: value for name, value in globals().items() if name.isupper() and _is_source(value)
}
for _name in _SOURCE:
    del globals()[_name]
del _name


def __getattr__(name: str) -> Any:
    if name in _SOURCE:
        return _translated(_SOURCE[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
