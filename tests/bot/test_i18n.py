"""Languages: the Russian catalogue covers every text the code marks, the compiled catalogue is the
one the .po says, translations keep their placeholders and markup, and the pure choices are right."""

from __future__ import annotations

import gettext
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import texts
from bot.i18n import I18N, LANGUAGES, LOCALES_DIR, Msgid, money, pick_locale

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None}


def _catalogue(locale: str):
    with open(LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def _marked_in_code() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers", "services"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            if isinstance(message, str) and message:
                found.add(message)
    return found


def _placeholders(text: str) -> Counter[str]:
    return Counter(re.findall(r"\{[a-z_]*\}", text))


def _tags(text: str) -> Counter[str]:
    return Counter(re.findall(r"</?[a-z]+>", text))


@pytest.mark.parametrize("locale", [code for code in LANGUAGES if code != "en"])
def test_every_marked_text_has_a_translation(locale: str) -> None:
    catalogue = _catalogue(locale)
    translated = {m.id for m in catalogue if m.id and m.string and "fuzzy" not in m.flags}
    missing = sorted(_marked_in_code() - translated)
    assert missing == [], f"{locale} lacks translations (pybabel extract/update, then translate): {missing}"


@pytest.mark.parametrize("locale", [code for code in LANGUAGES if code != "en"])
def test_translations_keep_placeholders_and_markup(locale: str) -> None:
    for message in _catalogue(locale):
        if message.id and message.string:
            assert _placeholders(message.string) == _placeholders(message.id), message.id
            assert _tags(message.string) == _tags(message.id), message.id


@pytest.mark.parametrize("locale", [code for code in LANGUAGES if code != "en"])
def test_the_compiled_catalogue_is_the_po_file(locale: str) -> None:
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    with open(folder / "messages.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    wanted = {m.id: m.string for m in _catalogue(locale) if m.id and m.string}
    assert {k: v for k, v in compiled.items() if k} == wanted, "pybabel compile -d bot/locales -D messages"


def test_customer_constants_are_marked_and_only_admin_texts_are_english_only() -> None:
    plain = {
        name
        for name, value in vars(texts).items()
        if name[0].isalpha()
        and name.isupper()
        and isinstance(value, (str, dict))
        and not isinstance(value, Msgid)
    }
    assert {
        name
        for name in plain
        if not name.startswith(("ADMIN_", "COMMANDS_ADMIN", "ACCOUNT_BUTTONS", "INSTANCE_BUTTONS"))
    } == set()


def test_constants_read_in_the_current_language() -> None:
    assert texts.ASK_PACKAGE == "Which package would you like?"
    with I18N.use_locale("ru"):
        assert texts.ASK_PACKAGE == "Какой тариф вы выбираете?"
        assert texts.EDIT_FIELDS["name"] == "Имя"
    assert texts.EDIT_FIELDS["name"] == "Name"


@pytest.mark.parametrize(
    ("chosen", "telegram", "expected"),
    [
        (None, None, "en"),
        (None, "ru", "ru"),
        (None, "ru-RU", "ru"),
        (None, "de", "en"),
        ("en", "ru", "en"),
        ("ru", "en", "ru"),
        ("xx", "ru", "ru"),
        ("", "pt-br", "en"),
    ],
)
def test_pick_locale_prefers_the_choice_then_the_app_language_then_english(
    chosen: str | None, telegram: str | None, expected: str
) -> None:
    assert pick_locale(chosen, telegram) == expected


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("en", 2900, "usd", "$29.00"),
        ("ru", 2900, "usd", "29,00\xa0$"),
        ("en", 500, "jpy", "¥500"),
        ("en", 1999, "eur", "€19.99"),
        ("ru", 29000, "rub", "290,00\xa0₽"),
    ],
)
def test_money_is_formatted_by_babel_for_the_language_and_currency(
    locale: str, amount: int, currency: str, expected: str
) -> None:
    with I18N.use_locale(locale):
        assert money(amount, currency) == expected
