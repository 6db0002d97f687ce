"""BotFather: the pure reply parser on BotFather's real texts, and the dialogue over a scripted BotFather."""

from __future__ import annotations

import pytest

from services.accounts.botfather import (
    BotFatherDialogue,
    BotFatherRefused,
    BotFatherTimeout,
    UsernamesExhausted,
)
from services.accounts.botfather_replies import Outcome, bots_listed, extract_token, parse_reply
from tests.standins import botfather as bf
from tests.standins.botfather import ScriptedTelegram, fake_token

TOKEN = fake_token()  # made at run time: no token-shaped literal in the repository

# (text, outcome, seconds) — every BotFather text of DESIGN section 4 and the dialogue's other steps
TABLE: list[tuple[str, Outcome, int | None]] = [
    (bf.ASK_NAME, Outcome.ASKED_FOR_NAME, None),
    (bf.ASK_USERNAME, Outcome.ASKED_FOR_USERNAME, None),
    (bf.TAKEN, Outcome.USERNAME_TAKEN, None),
    ("Sorry, this username is already taken.", Outcome.USERNAME_TAKEN, None),
    (bf.INVALID, Outcome.USERNAME_INVALID, None),
    (bf.MUST_END_IN_BOT, Outcome.USERNAME_INVALID, None),
    ("Sorry, too many attempts. Please try again in 8 seconds.", Outcome.TOO_MANY_ATTEMPTS, 8),
    ("Sorry, too many attempts. Please try again in 1 second.", Outcome.TOO_MANY_ATTEMPTS, 1),
    ("Sorry, too many attempts. Please try again in 58000 seconds.", Outcome.TOO_MANY_ATTEMPTS, 58000),
    ("Sorry, too many attempts. Please try again in 2 minutes.", Outcome.TOO_MANY_ATTEMPTS, 120),
    ("Sorry, too many attempts. Please try again later.", Outcome.TOO_MANY_ATTEMPTS, None),
    (bf.BOT_LIMIT, Outcome.BOT_LIMIT_REACHED, None),
    (bf.BOT_LIMIT_SHORT, Outcome.BOT_LIMIT_REACHED, None),
    (
        "Sorry, you can't add more than 20 bots. To create a new bot, delete one of your bots.",
        Outcome.BOT_LIMIT_REACHED,
        None,
    ),
    (bf.RESTRICTED, Outcome.ACCOUNT_RESTRICTED, None),
    ("Sorry, you can't create new bots at this time.", Outcome.ACCOUNT_RESTRICTED, None),
    (bf.CHOOSE_TOKEN, Outcome.ASKED_FOR_BOT, None),
    ("Choose a bot to get Bot API access token.", Outcome.ASKED_FOR_BOT, None),
    (bf.INVALID_BOT, Outcome.BOT_NOT_FOUND, None),
    ("You have currently no bots.", Outcome.BOT_NOT_FOUND, None),
    (bf.CHOOSE_DELETE, Outcome.ASKED_FOR_BOT, None),
    (bf.CONFIRM_DELETE.format(username="order42_bot"), Outcome.ASKED_FOR_DELETE_CONFIRMATION, None),
    (bf.DELETED, Outcome.DELETED, None),
    ("Done! The bot is gone.", Outcome.DELETED, None),
    (bf.CHOOSE_DESCRIPTION, Outcome.ASKED_FOR_BOT, None),
    (bf.ASK_DESCRIPTION, Outcome.ASKED_FOR_DESCRIPTION, None),
    (bf.DESCRIPTION_DONE, Outcome.UPDATED, None),
    (bf.CHOOSE_ABOUT, Outcome.ASKED_FOR_BOT, None),
    (bf.ASK_ABOUT, Outcome.ASKED_FOR_ABOUT, None),
    (bf.ABOUT_DONE, Outcome.UPDATED, None),
    (bf.CHOOSE_PHOTO, Outcome.ASKED_FOR_BOT, None),
    (bf.ASK_PHOTO, Outcome.ASKED_FOR_PHOTO, None),
    (bf.PHOTO_DONE, Outcome.UPDATED, None),
    (bf.UNRECOGNISED, Outcome.UNKNOWN, None),
    ("", Outcome.UNKNOWN, None),
]


def _variants(text: str) -> list[str]:
    """The same message with the whitespace a client or a copy-paste may add."""
    return [text, f"  {text}  ", text.replace(" ", "  "), text.replace(". ", ".\n"), f"\n\n{text}\n"]


@pytest.mark.parametrize(("text", "outcome", "seconds"), TABLE)
def test_parse_reply_classifies_every_botfather_text_and_its_whitespace_variants(
    text: str, outcome: Outcome, seconds: int | None
) -> None:
    for variant in _variants(text):
        reply = parse_reply(variant)
        assert reply.outcome is outcome, variant
        assert reply.seconds == seconds
        assert reply.token is None


@pytest.mark.parametrize("wrap", ["{}", "`{}`", "```{}```", "``{}``", " `{}` ", "\n{}\n"])
def test_parse_reply_takes_the_token_from_the_created_message_with_or_without_code_marks(wrap: str) -> None:
    text = bf.DONE.replace("`{token}`", wrap.format("{token}")).format(username="order42_bot", token=TOKEN)
    for variant in _variants(text):
        reply = parse_reply(variant)
        assert reply.outcome is Outcome.CREATED
        assert reply.token == TOKEN


@pytest.mark.parametrize("wrap", ["{}", "`{}`", "```\n{}\n```"])
def test_parse_reply_takes_the_token_from_the_token_command_answer(wrap: str) -> None:
    text = bf.TOKEN_REPLY.replace("`{token}`", wrap.format("{token}")).format(token=TOKEN)
    reply = parse_reply(text)
    assert reply.outcome is Outcome.TOKEN
    assert reply.token == TOKEN


def test_created_message_without_a_readable_token_is_still_created_with_no_token() -> None:
    reply = parse_reply(bf.DONE.format(username="order42_bot", token="[REDACTED]"))
    assert reply.outcome is Outcome.CREATED
    assert reply.token is None


def test_extract_token_ignores_too_short_and_too_long_tokens() -> None:
    digits, secret = TOKEN.split(":")
    assert extract_token(f"x {TOKEN} y") == TOKEN
    assert extract_token(f"{digits}:{secret[:-1]}") is None  # 34 characters
    assert extract_token(f"{digits}:{secret}A") is None  # 36 characters
    assert extract_token(f"1234567:{secret}") is None  # 7 digits


# --- the dialogue over the scripted BotFather -----------------------------------------------------

PHONE = "+15550001111"


class _Account:
    phone = PHONE


async def _dialogue(world: ScriptedTelegram, timeout: float = 2.0) -> BotFatherDialogue:
    client = world.client_for(_Account())
    await client.connect()
    return BotFatherDialogue(client, reply_timeout=timeout)


async def test_create_bot_walks_newbot_name_username_then_description_about_and_photo() -> None:
    world = ScriptedTelegram()
    chosen: list[str] = []

    async def on_chosen(username: str) -> None:
        chosen.append(username)

    dialogue = await _dialogue(world)
    result = await dialogue.create_bot(
        "Matt for Ann", ["ann_agent_bot"], "Your agent", "About Ann's agent", b"\x89PNG-avatar", on_chosen
    )
    assert result.username == "ann_agent_bot"
    assert result.token == world.bots["ann_agent_bot"].token
    assert result.warnings == []
    bot = world.bots["ann_agent_bot"]
    assert (bot.name, bot.description, bot.about, bot.photo) == (
        "Matt for Ann",
        "Your agent",
        "About Ann's agent",
        b"\x89PNG-avatar",
    )
    assert chosen == ["ann_agent_bot"]
    assert [t for _, t in world.sent][:3] == ["/newbot", "Matt for Ann", "ann_agent_bot"]


async def test_username_taken_twice_then_the_third_candidate_is_used() -> None:
    world = ScriptedTelegram(taken={"first_bot", "second_bot"})
    chosen: list[str] = []

    async def on_chosen(username: str) -> None:
        chosen.append(username)

    dialogue = await _dialogue(world)
    candidates = ["first_bot", "second_bot", "third_bot"]
    result = await dialogue.create_bot("Matt", candidates, "", "", None, on_chosen)
    assert result.username == "third_bot"
    assert chosen == ["first_bot", "second_bot", "third_bot"]
    assert world.created == [(PHONE, "third_bot")]


async def test_invalid_username_is_skipped_like_a_taken_one() -> None:
    world = ScriptedTelegram()
    dialogue = await _dialogue(world)
    result = await dialogue.create_bot("Matt", ["no", "matt_helper", "matt_helper_bot"], "", "", None)
    assert result.username == "matt_helper_bot"


async def test_every_candidate_refused_raises_usernames_exhausted_and_creates_nothing() -> None:
    world = ScriptedTelegram(taken={"a_one_bot", "a_two_bot"})
    dialogue = await _dialogue(world)
    with pytest.raises(UsernamesExhausted) as caught:
        await dialogue.create_bot("Matt", ["a_one_bot", "a_two_bot"], "", "", None)
    assert caught.value.tried == ["a_one_bot", "a_two_bot"]
    assert world.created == []
    assert world.sent[-1] == (PHONE, "/cancel")


async def test_too_many_attempts_is_an_account_level_refusal_with_the_wait() -> None:
    world = ScriptedTelegram()
    world.reply(PHONE, "/newbot", bf.TOO_MANY_ATTEMPTS.format(seconds=321))
    dialogue = await _dialogue(world)
    with pytest.raises(BotFatherRefused) as caught:
        await dialogue.create_bot("Matt", ["matt_x_bot"], "", "", None)
    assert caught.value.reply.outcome is Outcome.TOO_MANY_ATTEMPTS
    assert caught.value.reply.seconds == 321
    assert world.created == []


async def test_silent_botfather_times_out_per_reply_instead_of_hanging() -> None:
    world = ScriptedTelegram()
    world.silence(PHONE, "/newbot")
    dialogue = await _dialogue(world, timeout=0.05)
    with pytest.raises(BotFatherTimeout) as caught:
        await dialogue.create_bot("Matt", ["matt_x_bot"], "", "", None)
    assert caught.value.step == "/newbot"


async def test_recover_token_returns_the_existing_token_or_none_for_a_bot_it_does_not_own() -> None:
    world = ScriptedTelegram()
    dialogue = await _dialogue(world)
    created = await dialogue.create_bot("Matt", ["recover_me_bot"], "", "", None)
    assert await dialogue.recover_token("recover_me_bot") == created.token
    assert await dialogue.recover_token("@recover_me_bot") == created.token
    assert await dialogue.recover_token("someone_elses_bot") is None
    assert world.created == [(PHONE, "recover_me_bot")]


async def test_delete_bot_confirms_and_the_bot_is_gone() -> None:
    world = ScriptedTelegram()
    dialogue = await _dialogue(world)
    await dialogue.create_bot("Matt", ["delete_me_bot"], "", "", None)
    assert await dialogue.delete_bot("delete_me_bot") is True
    assert world.deleted == [(PHONE, "delete_me_bot")]
    assert world.bots == {}
    assert await dialogue.delete_bot("delete_me_bot") is False  # no bots left at all


async def test_a_refused_customisation_step_is_a_warning_not_a_lost_bot() -> None:
    world = ScriptedTelegram()
    world.reply(PHONE, "/setabouttext", bf.UNRECOGNISED)
    dialogue = await _dialogue(world)
    result = await dialogue.create_bot("Matt", ["warn_me_bot"], "desc", "about", b"img")
    assert result.username == "warn_me_bot"
    assert len(result.warnings) == 1 and result.warnings[0].startswith("/setabouttext")
    assert world.bots["warn_me_bot"].description == "desc"
    assert world.bots["warn_me_bot"].photo == b"img"  # later steps still ran


async def test_scripted_botfather_detects_two_dialogues_open_on_one_account() -> None:
    world = ScriptedTelegram()
    client = world.client_for(_Account())
    async with client.conversation("BotFather"), client.conversation("BotFather"):
        pass
    assert world.overlaps == [PHONE]


@pytest.mark.parametrize(
    ("text", "buttons", "expected"),
    [
        ("Choose a bot from the list below:", ["@Ann_Bot", "@tom_helper_bot"], {"ann_bot", "tom_helper_bot"}),
        ("You have currently no bots.", [], set()),
        ("Choose a bot from the list below:", [], set()),
        ("Unrecognized command. Say what?", [], None),
        ("Choose a bot from the list below:", ["« Back", "@x_bot"], {"x_bot"}),
    ],
)
def test_bots_listed_reads_the_mybots_buttons(text, buttons, expected):
    assert bots_listed(text, buttons) == expected
