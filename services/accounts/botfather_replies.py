"""@BotFather's replies, read by one pure parser: `parse_reply(text)` turns any BotFather message
into an `Outcome` (plus the token or the wait in seconds when the text carries one). Table-tested on
BotFather's real texts (tests/services/test_botfather.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

# DESIGN section 4: <8-12 digits>:<35 url-safe characters>
TOKEN_RE = re.compile(r"(?<![0-9])(\d{8,12}:[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])")
_WAIT_RE = re.compile(r"try again in\s+(\d+)\s*(second|sec|s\b|minute|min|hour|h\b)?", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "sec": 1, "s": 1, "minute": 60, "min": 60, "hour": 3600, "h": 3600}


class Outcome(StrEnum):
    """What a BotFather message means for the dialogue."""

    ASKED_FOR_NAME = "asked_for_name"
    ASKED_FOR_USERNAME = "asked_for_username"
    CREATED = "created"  # "Done! Congratulations on your new bot." (+ token)
    TOKEN = "token"  # the answer to /token (+ token)
    USERNAME_TAKEN = "username_taken"
    USERNAME_INVALID = "username_invalid"
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # (+ seconds, when BotFather names the wait)
    BOT_LIMIT_REACHED = "bot_limit_reached"
    ACCOUNT_RESTRICTED = "account_restricted"
    ASKED_FOR_BOT = "asked_for_bot"  # "Choose a bot to ..."
    BOT_NOT_FOUND = "bot_not_found"  # "Invalid bot selected." / no bots at all
    ASKED_FOR_DESCRIPTION = "asked_for_description"
    ASKED_FOR_ABOUT = "asked_for_about"
    ASKED_FOR_PHOTO = "asked_for_photo"
    UPDATED = "updated"  # "Success! Description updated." and its siblings
    ASKED_FOR_DELETE_CONFIRMATION = "asked_for_delete_confirmation"
    DELETED = "deleted"  # "Done! The bot is gone."
    UNKNOWN = "unknown"


# Outcomes that concern the whole creator account rather than this one order.
ACCOUNT_LEVEL = frozenset({Outcome.TOO_MANY_ATTEMPTS, Outcome.BOT_LIMIT_REACHED, Outcome.ACCOUNT_RESTRICTED})


@dataclass(frozen=True)
class Reply:
    outcome: Outcome
    token: str | None = None
    seconds: int | None = None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def extract_token(text: str) -> str | None:
    """The bot token in a BotFather message, with Markdown code marks or not."""
    match = TOKEN_RE.search((text or "").replace("`", " "))
    return match.group(1) if match else None


def _wait_seconds(text: str) -> int | None:
    match = _WAIT_RE.search(text)
    if not match:
        return None
    unit = (match.group(2) or "second").lower()
    return int(match.group(1)) * _UNIT_SECONDS.get(unit, 1)


# Ordered: the first rule that matches wins. Patterns run on the whitespace-normalised, lower-cased text.
_RULES: tuple[tuple[Outcome, re.Pattern[str]], ...] = tuple(
    (outcome, re.compile(pattern))
    for outcome, pattern in (
        (Outcome.TOO_MANY_ATTEMPTS, r"too many attempts"),
        (Outcome.BOT_LIMIT_REACHED, r"more than \d+ bots|can.t add more .*bots|reached the limit of .*bots"),
        (
            Outcome.ACCOUNT_RESTRICTED,
            r"(cannot|can.t|can not) create (new |any )?bots|account (is|was|has been) (limited|restricted)",
        ),
        (Outcome.DELETED, r"the bot is gone"),
        (Outcome.CREATED, r"congratulations on your new bot|use this token to access the http api"),
        (Outcome.TOKEN, r"(you can use|here is) (this|the) token|token was replaced|use this token"),
        (Outcome.USERNAME_TAKEN, r"username is already (taken|occupied)"),
        (Outcome.USERNAME_INVALID, r"username is invalid|username must end in|username should end in"),
        (
            Outcome.BOT_NOT_FOUND,
            r"invalid bot selected|you have (currently )?no bots|you don.t have any bots",
        ),
        (Outcome.ASKED_FOR_USERNAME, r"choose a username for your bot"),
        (Outcome.ASKED_FOR_NAME, r"choose a name for your bot|how are we going to call it"),
        (Outcome.ASKED_FOR_DELETE_CONFIRMATION, r"are you sure\?|totally sure"),
        (Outcome.ASKED_FOR_BOT, r"choose a bot"),
        (Outcome.ASKED_FOR_DESCRIPTION, r"send me the new description"),
        (Outcome.ASKED_FOR_ABOUT, r"send me the new .?about.? text"),
        (Outcome.ASKED_FOR_PHOTO, r"send me the new profile photo"),
        (Outcome.UPDATED, r"^success!|\bupdated\. ?(/help)?$"),
    )
)


def bots_listed(text: str, button_texts: Sequence[str]) -> set[str] | None:
    """The usernames in BotFather's answer to /mybots (one `@username` button per bot), an empty set
    for "You have currently no bots", None when the answer is neither. Pure."""
    if "no bots" in _normalise(text).lower():
        return set()
    names = {t.strip().lstrip("@").lower() for t in button_texts if t.strip().startswith("@")}
    if names or "choose a bot" in _normalise(text).lower():
        return names
    return None


def parse_reply(text: str | None) -> Reply:
    """Classify one BotFather message. Pure: no I/O, no state."""
    normalised = _normalise(text or "")
    lowered = normalised.lower()
    for outcome, pattern in _RULES:
        if pattern.search(lowered):
            if outcome in (Outcome.CREATED, Outcome.TOKEN):
                return Reply(outcome, token=extract_token(normalised))
            if outcome is Outcome.TOO_MANY_ATTEMPTS:
                return Reply(outcome, seconds=_wait_seconds(normalised))
            return Reply(outcome)
    return Reply(Outcome.UNKNOWN)
