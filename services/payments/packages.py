"""The package catalogue: what a customer can buy. Pure data and pure functions.

The default set can be replaced with PACKAGES_JSON, a JSON list of objects with the fields of
`Package` (e.g. `[{"code": "starter", "title": "Starter", "price": 2900, "currency": "usd",
"term_days": 30, "instance_type": "t3.small", "model_tokens_per_month": 20000000,
"model_requests_per_minute": 20}]`). The two model quotas are what the model gateway allows an
agent of the package (0: no limit); an admin can override them per instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Package:
    code: str
    title: str
    price: int  # smallest currency unit (cents)
    currency: str
    term_days: int
    instance_type: str
    blurb: str = ""
    # whether a Stripe discount (a coupon, up to 100 %) counts towards the price: off, a coupon made
    # for another product must not buy an agent
    allow_discounts: bool = False
    model_tokens_per_month: int = 20_000_000  # prompt + completion tokens per calendar month (UTC)
    model_requests_per_minute: int = 20

    @property
    def price_text(self) -> str:
        return money_text(self.price, self.currency)


def money_text(amount: int, currency: str) -> str:
    """An amount in the smallest currency unit, as a customer reads it: $29.00, 29.00 CHF."""
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    value = f"{amount / 100:.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


DEFAULT_PACKAGES: tuple[Package, ...] = (
    Package(
        "starter",
        "Starter",
        2900,
        "usd",
        30,
        "t3.small",
        "One personal agent on its own t3.small server for 30 days",
        model_tokens_per_month=20_000_000,
        model_requests_per_minute=20,
    ),
    Package(
        "pro",
        "Pro",
        7900,
        "usd",
        30,
        "t3.medium",
        "One agent on a larger t3.medium server for 30 days, for heavier use",
        model_tokens_per_month=60_000_000,
        model_requests_per_minute=60,
    ),
    Package(
        "annual",
        "Starter, 1 year",
        29000,
        "usd",
        365,
        "t3.small",
        "The Starter agent for a full year, two months free",
        model_tokens_per_month=20_000_000,
        model_requests_per_minute=20,
    ),
)


class PackageError(ValueError):
    pass


def parse_packages(raw: str | None) -> tuple[Package, ...]:
    """The catalogue from PACKAGES_JSON, or the default set. Raises PackageError with the reason."""
    if not raw or not raw.strip():
        return DEFAULT_PACKAGES
    try:
        items = json.loads(raw)
        packages = tuple(Package(**item) for item in items)
    except (ValueError, TypeError) as exc:
        raise PackageError(f"PACKAGES_JSON is not a valid list of packages: {exc}") from None
    if not packages:
        raise PackageError("PACKAGES_JSON lists no package")
    for p in packages:
        if p.price <= 0 or p.term_days <= 0 or not p.code.isidentifier():
            raise PackageError(f"PACKAGES_JSON: package {p.code!r} needs a positive price and term")
        if not all(
            isinstance(v, int) and v >= 0 for v in (p.model_tokens_per_month, p.model_requests_per_minute)
        ):
            raise PackageError(
                f"PACKAGES_JSON: package {p.code!r}: model quotas must be whole numbers "
                "of 0 or more (0: no limit)"
            )
    if len({p.code for p in packages}) != len(packages):
        raise PackageError("PACKAGES_JSON: package codes must be unique")
    return packages


def find_package(packages: tuple[Package, ...], code: str) -> Package | None:
    return next((p for p in packages if p.code == code), None)


def new_expiry(package: Package, now: datetime, current_expiry: datetime | None = None) -> datetime:
    """A renewal extends from the later of now and the current expiry; a new agent from now."""
    start = max(now, current_expiry) if current_expiry else now
    return start + timedelta(days=package.term_days)
