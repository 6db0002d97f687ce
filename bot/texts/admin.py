"""The team's texts: admin commands, lists, item pages, stats, action echoes. English only (not in the
catalogue): the names start with ADMIN_ (or are the admin button and command maps)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.texts.markup import date, esc, esc_clipped, tokens
from models import AdminAction, Instance, Order, TelegramAccount
from services.model_gateway.usage_report import StatsUsage

COMMANDS_ADMIN = {
    "accounts": "Creator accounts (admin)",
    "instances": "Servers and agents (admin)",
    "orders": "Recent orders (admin)",
    "stats": "Counts, revenue, pool health (admin)",
}

ADMIN_SUPPORT_DELIVERED = "✓ Delivered to the customer."
ADMIN_SUPPORT_NOT_DELIVERED = "✗ Could not deliver the answer to the customer: {reason}"

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
ADMIN_LIST_BUTTONS = {"prev": "« Prev", "next": "Next »", "back": "« List"}
INSTANCE_BUTTONS = {
    "health": "🩺 Health check",
    "restart": "🔄 Restart agent",
    "reprovision": "♻️ Re-provision",
    "terminate": "🗑 Terminate",
    "terminate_yes": "Yes, terminate",
    "terminate_no": "No, keep it",
}


def admin_account(account: TelegramAccount) -> str:
    cooldown = date(account.cooldown_until) if account.cooldown_until else "—"
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
        f"Expires: {esc(date(instance.expires_at))}\n"
        f"Last health: {esc(date(instance.last_health_at))} {health_text}\n"
        f"Repairs: {instance.repair_attempts}"
    )


def admin_order_line(order: Order) -> str:
    return (
        f"#{order.id} {esc(order.status)} {esc(order.package)} “{esc_clipped(order.bot_name, 32)}” "
        f"@{esc(order.bot_username or '—')} {order.amount / 100:.2f} {esc(order.currency.upper())} "
        f"· {esc(date(order.created_at))}"
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
        f"<b>Model</b> this month: {tokens(usage.month_tokens.total)} tokens, "
        f"~${usage.month_cost:.2f} (estimated)"
    ]
    lines += [
        f"  {d.day:%m-%d}: {tokens(d.tokens.total)} tokens in {d.requests} requests, ~${d.cost:.2f}"
        for d in usage.days
    ] or ["  no model use in the last days"]
    if usage.top:
        lines.append("<b>Top agents</b> this month:")
        lines += [
            f"  #{a.instance_id} @{esc(a.bot_username or '—')}: {tokens(a.tokens.total)}, ~${a.cost:.2f}"
            for a in usage.top
        ]
    return "\n".join(lines)


def admin_action_echo(action: AdminAction, who: str) -> str:
    detail = f" · {esc(action.detail)}" if action.detail else ""
    return f"🛠 Admin {esc(who)}: <b>{esc(action.action)}</b> {esc(action.target)}{detail}"
