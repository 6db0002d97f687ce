"""Every text the Meet Matt bot shows, in one place. Messages are HTML (parse mode set on the Bot).

Rule: every value a user typed (names, usernames, descriptions, reasons built from them) goes
through `esc()` before it is put into a message. Values we produce ourselves (numbers, statuses,
package titles from settings) are escaped too, because it costs nothing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime

from models import AdminAction, Instance, Order, TelegramAccount
from services.model_usage_report import MonthUse, StatsUsage
from services.packages import Package


def esc(value: object) -> str:
    return html.escape(str(value if value is not None else ""), quote=False)


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


# --- buttons ---------------------------------------------------------------------------------------

BTN_ORDER = "🤖 Order an agent"
BTN_MY_BOTS = "📋 My agents"
BTN_HELP = "❓ Help"
BTN_CONFIRM = "✅ Confirm and pay"
BTN_EDIT = "✏️ Edit"
BTN_CANCEL = "✖️ Cancel"
BTN_SKIP = "Skip"
BTN_BACK = "« Back to summary"
BTN_PAY = "💳 Pay {price}"
BTN_RENEW = "🔁 Renew @{username}"
BTN_MANAGED = "✨ Create my bot with Telegram"
EDIT_FIELDS = {
    "package": "Package",
    "name": "Name",
    "username": "Username",
    "description": "Description",
    "avatar": "Picture",
}

# --- customer ------------------------------------------------------------------------------------

COMMANDS_CUSTOMER = {
    "start": "Welcome and packages",
    "new": "Order a new AI agent",
    "mybots": "Your agents, their status and expiry",
    "renew": "Pay for another term of an agent",
    "help": "How it works",
    "cancel": "Stop what you are doing",
}
COMMANDS_ADMIN = {
    "accounts": "Creator accounts (admin)",
    "instances": "Servers and agents (admin)",
    "orders": "Recent orders (admin)",
    "stats": "Counts, revenue, pool health (admin)",
}


def welcome(first_name: str | None, packages: Iterable[Package]) -> str:
    lines = [
        f"Hi {esc(first_name or 'there')}! I'm <b>Matt</b>.",
        "",
        "I set up a <b>personal AI agent</b> for you: your own Telegram bot, answered by an OpenClaw "
        "agent on the Kimi K2.5 model, running on a private server that only you use.",
        "",
        "<b>What you get</b>",
        "• your own bot with the name, username, description and picture you choose",
        "• a dedicated cloud server, set up for you in a few minutes",
        "• only your Telegram account can talk to it",
        "",
        "<b>Packages</b>",
        *package_lines(packages),
        "",
        "Tap <b>Order an agent</b> or send /new to start.",
    ]
    return "\n".join(lines)


def package_lines(packages: Iterable[Package]) -> list[str]:
    return [
        f"• <b>{esc(p.title)}</b>: {esc(p.price_text)} for {p.term_days} days. {esc(p.blurb)}".rstrip()
        for p in packages
    ]


def package_button(package: Package) -> str:
    return f"{package.title} · {package.price_text} / {package.term_days} days"


PAID_RETURN = (
    "Thanks! As soon as Stripe confirms your payment, I'll show your agent's progress here in one message."
)
CANCEL_RETURN = (
    "The payment was not completed. Your order is kept: use the Pay button above when you're ready."
)

HELP = (
    "<b>How it works</b>\n"
    "1. /new: choose a package, a name, a username, a description and a picture for your bot.\n"
    "2. Pay with the secure Stripe link.\n"
    "3. I create your bot and your server, and show the progress in one message.\n"
    "4. Open your new bot with the link I send and press Start: that proves it's yours.\n"
    "5. Your agent is live. Only you can talk to it.\n\n"
    "<b>Commands</b>\n"
    "/new – order an agent\n"
    "/mybots – your agents, their status and expiry\n"
    "/renew – pay for another term\n"
    "/cancel – stop the current step\n"
    "/help – this message"
)

ASK_PACKAGE = "Which package would you like?"
ASK_NAME = (
    "What should your bot be called? This is the display name people see, e.g. "
    "<i>Tom's Helper</i>. 1 to 64 characters."
)
ASK_USERNAME = (
    "Now a username for your bot: 5 to 32 Latin letters, digits or underscores, starting with a letter "
    "and ending in <code>bot</code>.\n\n"
    "Free suggestion: <code>{suggestion}</code> (tap the button to use it)."
)
ASK_USERNAME_MANAGED = (
    "\n\nOr let Telegram create the bot for you right now: tap <b>{button}</b> below. You will own the "
    "bot, and I will manage it for you."
)
ASK_DESCRIPTION = (
    "A short description of what your agent is for (shown on the bot's profile), up to 512 "
    "characters. Or tap Skip."
)
ASK_AVATAR = "Send a photo to use as your bot's picture (square works best), or tap Skip."
NEED_TEXT = "Please send this as a text message."
NEED_PHOTO = "Please send a picture as a <b>photo</b> (not as a file or sticker), or tap Skip."
REFUSED = "⚠️ {reason}\n\nPlease try again, or send /cancel to stop."
USE_SUGGESTION = "Use {suggestion}"
CANCELLED = "Cancelled. Nothing was ordered. Send /new whenever you want to start again."
NOTHING_TO_CANCEL = "There is nothing to cancel. Send /new to order an agent."
UNKNOWN = "I didn't understand that. Send /help to see what I can do."
ORDER_EXPIRED_BUTTON = "This step is over. Send /new to start an order."
CREATING_CHECKOUT = "Creating your secure payment link…"
CHECKOUT_FAILED = (
    "Sorry, I couldn't create the payment link just now (reference {ref}). Your order #{order_id} "
    "is saved: tap Confirm again in a minute, or send /mybots."
)
MANAGED_ATTACHED = "Telegram created @{username} for you. I'll set it up after payment."
THROTTLED = "Easy there, one message a second please. I'll keep up! 🙂"
THROTTLED_SHORT = "One tap a second, please."
ERROR = "Sorry, something went wrong on my side. If it keeps happening, tell us reference <code>{ref}</code>."


def summary(data: Mapping[str, object], package: Package | None) -> str:
    description = str(data.get("description") or "")
    username = data.get("bot_username")
    managed = data.get("creation_mode") == "managed"
    lines = [
        "<b>Your order</b>",
        f"Package: <b>{esc(package.title) if package else '—'}</b>"
        + (f" ({esc(package.price_text)} for {package.term_days} days)" if package else ""),
        f"Name: <b>{esc(data.get('bot_name'))}</b>",
        f"Username: @{esc(username)}" + (" (created by Telegram)" if managed else "")
        if username
        else "Username: —",
        "Description: " + (esc(description) if description else "—"),
        "Picture: " + ("✓ photo received" if data.get("avatar_file_id") else "—"),
        "",
        "Is everything right?",
    ]
    return "\n".join(lines)


def choose_edit() -> str:
    return "What would you like to change?"


def pay(order: Order, package: Package | None) -> str:
    price = esc(package.price_text) if package else ""
    return (
        f"Order <b>#{order.id}</b> is ready. Pay {price} with the secure Stripe page below. "
        "When the payment is confirmed, I'll start setting up your agent and show the progress here."
    )


def renewal_pay(order: Order, instance: Instance, package: Package | None) -> str:
    price = esc(package.price_text) if package else ""
    return (
        f"Renewal <b>#{order.id}</b> for @{esc(instance.bot_username or 'your agent')}: "
        f"pay {price} below to add {package.term_days if package else ''} days."
    )


NO_BOTS = "You have no agents yet. Send /new to order one."
NO_RENEWABLE = "You have no agent that can be renewed. Send /new to order one."
CHOOSE_RENEW = "Which agent would you like to renew?"
STATUS_WORDS = {
    "warm": "getting ready",
    "launching": "starting",
    "booting": "setting up",
    "ready": "almost ready",
    "active": "live",
    "unhealthy": "having trouble (we're on it)",
    "stopped": "stopped (expired)",
    "terminating": "shutting down",
    "terminated": "shut down",
    "failed": "failed",
}
ORDER_STATUS_WORDS = {
    "awaiting_payment": "waiting for payment",
    "paid": "paid, starting soon",
    "provisioning": "being set up",
    "awaiting_verification": "waiting for you to open your bot",
    "active": "live",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "failed",
    "refunded": "refunded",
}


def my_bot(instance: Instance, *, awaiting_verification: bool = False) -> str:
    username = instance.bot_username
    link = f"@{esc(username)}" if username else "(bot not created yet)"
    status = STATUS_WORDS.get(str(instance.status), str(instance.status))
    text = f"🤖 {link}\nStatus: <b>{esc(status)}</b>\nExpires: {esc(_date(instance.expires_at))}"
    if awaiting_verification:
        text += "\nWaiting for you: open your bot with the button below and press <b>Start</b>."
    return text


def _tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 1_000 else str(n)


def model_use_line(use: MonthUse | None) -> str:
    """/mybots: this month's model use against the plan's allowance ('' when unknown)."""
    if use is None:
        return ""
    if use.quota.tokens_per_month <= 0:
        return f"\nModel use this month: {_tokens(use.tokens)} tokens (no limit)"
    warn = " ⚠️" if use.tokens >= use.quota.tokens_per_month else ""
    return (f"\nModel use this month: {_tokens(use.tokens)} of {_tokens(use.quota.tokens_per_month)} "
            f"tokens ({min(999, round(use.percent or 0))}%){warn}, resets {use.resets_on:%Y-%m-%d}")


def my_open_order(order: Order) -> str:
    name = esc(order.bot_name)
    status = ORDER_STATUS_WORDS.get(str(order.status), str(order.status))
    return f"🧾 Order #{order.id}: <b>{name}</b>, {esc(status)}"


# --- admin ---------------------------------------------------------------------------------------

ADMIN_NO_ACCOUNTS = "No creator accounts. Add one with <code>python main.py accounts login</code>."
ADMIN_NO_INSTANCES = "No instances with status {status}."
ADMIN_NO_ORDERS = "No orders{status}."
ADMIN_GONE = "That item no longer exists."
ADMIN_QUEUED = "Queued: {what}"
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
        f"Last error: {esc(account.last_error or '—')[:300]}"
    )


def admin_account_line(account: TelegramAccount) -> str:
    cooldown = f" · cooling down until {account.cooldown_until:%H:%M} UTC" if account.cooldown_until else ""
    error = f" · last error: {esc((account.last_error or '')[:60])}" if account.last_error else ""
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
        f"#{order.id} {esc(order.status)} {esc(order.package)} “{esc(order.bot_name)}” "
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
    lines = [f"<b>Model</b> this month: {_tokens(usage.month_tokens.total)} tokens, "
             f"~${usage.month_cost:.2f} (estimated)"]
    lines += [f"  {d.day:%m-%d}: {_tokens(d.tokens.total)} tokens in {d.requests} requests, ~${d.cost:.2f}"
              for d in usage.days] or ["  no model use in the last days"]
    if usage.top:
        lines.append("<b>Top agents</b> this month:")
        lines += [f"  #{a.instance_id} @{esc(a.bot_username or '—')}: {_tokens(a.tokens.total)}, "
                  f"~${a.cost:.2f}" for a in usage.top]
    return "\n".join(lines)


def admin_action_echo(action: AdminAction, who: str) -> str:
    detail = f" · {esc(action.detail)}" if action.detail else ""
    return f"🛠 Admin {esc(who)}: <b>{esc(action.action)}</b> {esc(action.target)}{detail}"
