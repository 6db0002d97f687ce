"""Does a paid Checkout Session pay for what it claims to? Pure rules, table-tested.

Stripe's signature proves an event came from Stripe, not that it pays for the order it names: a
Payment Link anyone can open takes `client_reference_id` from its URL, and a coupon can bring the
total to zero. So an event provisions only when it is the order's own session (or a Payment Link
creating a new order) and it charged the price in the package's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.payments.packages import Package, find_package
from services.payments.stripe_event_shape import as_int


@dataclass(frozen=True)
class Charge:
    """What a Checkout Session actually charged (smallest currency unit, after discounts)."""

    amount: int
    currency: str
    discount: int = 0

    @classmethod
    def of_session(cls, session: dict[str, Any]) -> Charge:
        totals = session.get("total_details") if isinstance(session.get("total_details"), dict) else {}
        return cls(
            as_int(session.get("amount_total")),
            str(session.get("currency") or "").lower()[:8],
            as_int(totals.get("amount_discount")),
        )


def charge_problems(
    charge: Charge, price: int, currency: str, *, discounts_allowed: bool = False
) -> list[str]:
    """Why `charge` does not pay `price` in `currency` (empty: it does).

    A discount counts towards the price only when the package allows it (`Package.allow_discounts`):
    otherwise a 100 % coupon would be a free agent.
    """
    problems = []
    if charge.currency != currency.lower():
        problems.append(
            f"charged in {charge.currency.upper() or 'no currency'}, the price is in {currency.upper()}"
        )
    covered = charge.amount + (charge.discount if discounts_allowed else 0)
    if covered < price:
        problem = f"charged {charge.amount}, the price is {price}"
        if charge.discount:
            problem += f" (a discount took {charge.discount} off"
            problem += ")" if discounts_allowed else "; this package does not accept discounts)"
        problems.append(problem)
    return problems


@dataclass(frozen=True)
class OrderMetadata:
    telegram_id: int
    bot_name: str
    package: Package


def parse_metadata(metadata: Any, packages: tuple[Package, ...]) -> tuple[OrderMetadata | None, str]:
    """The order fields a Payment Link's metadata must carry, or None and what is wrong."""
    if not isinstance(metadata, dict) or not metadata:
        return None, "the session has no metadata"
    problems = []
    raw_user = str(metadata.get("userId") or "").strip()
    if not raw_user.isdigit() or not 0 < int(raw_user) < 2**63:
        problems.append("userId is not a Telegram user id")
    bot_name = str(metadata.get("botName") or "").strip()
    if not bot_name or len(bot_name) > 64:
        problems.append("botName is empty or longer than 64 characters")
    package = find_package(packages, str(metadata.get("packageType") or "").strip())
    if package is None:
        problems.append(f"packageType is not one of {', '.join(p.code for p in packages)}")
    if problems:
        return None, "; ".join(problems)
    assert package is not None
    return OrderMetadata(int(raw_user), bot_name, package), ""
