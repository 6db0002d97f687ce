"""The packages as customers see them: title, price (Babel, in the customer's language), blurb."""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import N_, _, money
from bot.texts.markup import esc
from services.payments.packages import Package

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
