"""Table tests of the order dialogue's validators and the username suggestion."""

from __future__ import annotations

import random

import pytest

from services.orders.validation import (
    hidden_characters,
    suggest_username,
    validate_avatar,
    validate_description,
    validate_display_name,
    validate_username,
)


@pytest.mark.parametrize(
    ("raw", "value", "reason"),
    [
        ("Tom's Helper", "Tom's Helper", None),
        ("  padded  ", "padded", None),
        ("🤖🔥", "🤖🔥", None),
        ("👩\u200d💻 coder", "👩\u200d💻 coder", None),  # a ZWJ inside an emoji sequence is fine
        ("<b>x</b>", "<b>x</b>", None),  # allowed: escaped when shown
        ("x" * 64, "x" * 64, None),
        ("", "", "empty"),
        ("   ", "", "empty"),
        (None, "", "empty"),
        ("x" * 65, "", "65 characters long; the limit is 64"),
        ("a\u202eb", "", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("a\u200bb", "", "U+200B ZERO WIDTH SPACE"),
        ("a\u200db", "", "U+200D ZERO WIDTH JOINER"),  # not between emoji
        ("a\x00b", "", "U+0000"),
        ("two\nlines", "", "U+000A"),
        ("a\ufeffb", "", "U+FEFF"),
    ],
)
def test_display_name(raw: str | None, value: str, reason: str | None) -> None:
    checked = validate_display_name(raw)
    if reason is None:
        assert checked.ok and checked.value == value
    else:
        assert not checked.ok and reason in (checked.reason or "")


@pytest.mark.parametrize(
    ("raw", "value", "reason"),
    [
        ("tom_helper_bot", "tom_helper_bot", None),
        ("@TomBot", "TomBot", None),
        ("https://t.me/tom_helper_bot", "tom_helper_bot", None),
        ("abcbot", "abcbot", None),
        ("a" * 29 + "bot", "a" * 29 + "bot", None),
        ("", "", "empty"),
        ("bot", "", "3 characters long; it needs at least 5"),
        ("a" * 30 + "bot", "", "33 characters long; the limit is 32"),
        ("1tombot", "", "start with a letter"),
        ("_tombot", "", "start with a letter"),
        ("tom_helper", "", "end with “bot”"),
        ("tom helper bot", "", "' '"),
        ("tom-bot", "", "'-'"),
        ("tömbot", "", "'ö'"),
        ("tom\u200bbot", "", "U+200B"),
        ("tom'; DROP TABLE x;--bot", "", "Latin letters"),
    ],
)
def test_username(raw: str, value: str, reason: str | None) -> None:
    checked = validate_username(raw)
    if reason is None:
        assert checked.ok and checked.value == value
    else:
        assert not checked.ok and reason in (checked.reason or "")


@pytest.mark.parametrize(
    ("raw", "ok", "reason"),
    [
        ("", True, None),
        ("Plans my week.\nAnd my meals.", True, None),
        ("d" * 512, True, None),
        ("d" * 513, False, "513 characters long; the limit is 512"),
        ("x" * 10_000, False, "10000 characters long"),
        ("evil\u202etxt", False, "U+202E"),
        ("tab\there", False, "U+0009"),
    ],
)
def test_description(raw: str, ok: bool, reason: str | None) -> None:
    checked = validate_description(raw)
    assert checked.ok is ok
    if reason:
        assert reason in (checked.reason or "")


@pytest.mark.parametrize(
    ("width", "height", "size", "reason"),
    [
        (640, 640, 100_000, None),
        (150, 150, None, None),
        (1280, 720, 300_000, None),
        (149, 400, 1000, "at least 150×150"),
        (10_001, 5000, 1000, "10000 px a side"),
        (1000, 1000, 6 * 1024 * 1024, "the limit is 5 MB"),
        (3100, 1000, 1000, "too long and thin"),
    ],
)
def test_avatar(width: int, height: int, size: int | None, reason: str | None) -> None:
    checked = validate_avatar(width, height, size)
    assert checked.ok is (reason is None)
    if reason:
        assert reason in (checked.reason or "")


def test_hidden_characters_lists_each_kind_once_and_at_most_five() -> None:
    text = "".join(["\u200b", "\u200b", "\u202e", "\x01", "\x02", "\x03", "\x04", "\x05"])
    found = hidden_characters(text)
    assert len(found) == 5 and found[0].startswith("U+200B") and found[1].startswith("U+202E")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Tom's Helper", "tom_s_helper_bot"),
        ("Tom Helper Bot", "tom_helper_bot"),
        ("ChatBot", "chat_bot"),
        ("Ölçü Çiçek", "olcu_cicek_bot"),
        ("🤖🔥", "my_agent_bot"),
        ("123 go", "my_123_go_bot"),
        ("x" * 80, "x" * 28 + "_bot"),
    ],
)
def test_suggestion_is_a_valid_username_from_the_name(name: str, expected: str) -> None:
    suggestion = suggest_username(name, rng=random.Random(1))
    assert suggestion == expected and validate_username(suggestion).ok


def test_suggestion_avoids_taken_usernames_case_insensitively() -> None:
    taken = {"TOM_HELPER_BOT"}
    suggestion = suggest_username("Tom Helper", taken, rng=random.Random(7))
    assert suggestion.lower() not in {t.lower() for t in taken}
    assert suggestion.startswith("tom_helper_") and suggestion.endswith("_bot")
    assert validate_username(suggestion).ok
