"""Languages of the Meet Matt bot: aiogram's gettext i18n with Babel catalogues in `bot/locales/`.

English is the source language (the msgids in the `bot/texts/` package); `ru` is a complete translation. A
customer's language is the one they chose with /language, else their Telegram app's language if we
have it, else English. Catalogues: `pybabel extract` / `update` / `compile` (see README, Languages).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware
from babel.numbers import format_currency, get_currency_precision

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# code -> the language's own name, as the /language buttons show it
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский"}

I18N = I18n(path=LOCALES_DIR, default_locale=DEFAULT_LOCALE, domain=DOMAIN)


class Msgid(str):
    """An English text marked for the catalogue, translated where it is read."""


def N_(message: str) -> Msgid:  # noqa: N802 (gettext's conventional name)
    """Marks a text for the catalogue without translating it yet."""
    return Msgid(message)


def _(message: str) -> str:
    """`message` in the current user's language (English outside a user's update)."""
    return I18N.gettext(message) if message else message


def pick_locale(chosen: str | None, telegram_language: str | None) -> str:
    """The customer's choice if we speak it, else their app's language if we speak it, else English."""
    for candidate in (chosen, telegram_language):
        code = (candidate or "").replace("_", "-").split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LOCALE


def current_locale() -> str:
    return I18N.current_locale


def money(amount_minor: int, currency: str) -> str:
    """An amount in the currency's smallest unit, formatted for the current language by Babel
    (¥500 has no cents; 29.00 $US in French, $29.00 in English)."""
    code = currency.upper()
    amount = Decimal(amount_minor).scaleb(-get_currency_precision(code))
    return format_currency(amount, code, locale=current_locale())


def locale_of(data: dict[str, Any]) -> str:
    """The locale for an update from what the outer middlewares found (customer, Telegram user)."""
    customer = data.get("customer")
    user: User | None = data.get("event_from_user")
    return pick_locale(getattr(customer, "locale", None), user.language_code if user else None)


class LocaleMiddleware(I18nMiddleware):
    """Runs every handler in the customer's language (after CustomerMiddleware has loaded them)."""

    def __init__(self) -> None:
        super().__init__(I18N)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return locale_of(data)
