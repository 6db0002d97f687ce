"""Talking to @BotFather from a creator account: one pure reply parser and the dialogue over Telethon.

`parse_reply(text)` turns any BotFather message into an `Outcome` (plus the token or the wait in
seconds when the text carries one). It is pure and table-tested on BotFather's real texts.

`BotFatherDialogue(client)` drives Telethon's conversation API (`client.conversation(...)`,
`send_message`, `send_file`, `get_response(timeout=...)`): every step waits for BotFather's answer
with a per-reply timeout, never with a fixed sleep. It knows nothing about accounts or the
database: refusals that concern the whole account (too many attempts, bot limit, restriction) are
raised as `BotFatherRefused` for the pool to act on, and Telethon's own errors pass through.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.infra.logging_setup import secrets

log = logging.getLogger(__name__)

BOTFATHER = "BotFather"
DELETE_CONFIRMATION = "Yes, I am totally sure."

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


# --- errors ---------------------------------------------------------------------------------------


class BotFatherError(RuntimeError):
    """BotFather did not do what the dialogue needed. Messages never contain a token."""


class BotFatherRefused(BotFatherError):
    """An account-level refusal (too many attempts, bot limit, restriction): try another account."""

    def __init__(self, reply: Reply, step: str) -> None:
        wait = f" (wait {reply.seconds}s)" if reply.seconds else ""
        super().__init__(f"BotFather refused at {step}: {reply.outcome.value}{wait}")
        self.reply = reply
        self.step = step


class BotFatherTimeout(BotFatherError):
    """BotFather did not answer one step in time. The step's effect (e.g. a created bot) is unknown."""

    def __init__(self, step: str, timeout: float) -> None:
        super().__init__(f"BotFather did not answer {step} within {timeout:g}s")
        self.step = step


class BotFatherUnexpected(BotFatherError):
    """BotFather answered something this dialogue does not expect at that step."""

    def __init__(self, step: str, reply: Reply, expected: Sequence[Outcome]) -> None:
        super().__init__(
            f"unexpected BotFather answer at {step}: {reply.outcome.value} "
            f"(expected {', '.join(o.value for o in expected)})"
        )
        self.step = step
        self.reply = reply


class UsernamesExhausted(BotFatherError):
    """Every username candidate was taken or invalid: the order needs new candidates."""

    def __init__(self, tried: Sequence[str]) -> None:
        super().__init__(f"every username candidate was taken or invalid: {', '.join(tried)}")
        self.tried = list(tried)


@dataclass
class BotCreation:
    """What `create_bot` made. `warnings` lists customisation steps BotFather did not confirm."""

    username: str
    token: str
    warnings: list[str] = field(default_factory=list)


# --- the dialogue ---------------------------------------------------------------------------------


class BotFatherDialogue:
    """BotFather's commands over one logged-in Telethon client (connected by the caller)."""

    def __init__(self, client: Any, *, reply_timeout: float = 30.0, peer: str = BOTFATHER) -> None:
        self.client = client
        self.reply_timeout = reply_timeout
        self.peer = peer

    def _conversation(self) -> Any:
        # total_timeout bounds a whole dialogue even if every single reply comes just in time
        return self.client.conversation(
            self.peer, timeout=self.reply_timeout, total_timeout=self.reply_timeout * 20, exclusive=True
        )

    async def _ask(self, conv: Any, step: str, message: str | None = None, *, file: Any = None) -> Reply:
        if file is not None:
            await conv.send_file(file)
        else:
            await conv.send_message(message)
        try:
            response = await conv.get_response(timeout=self.reply_timeout)
        except TimeoutError:  # asyncio.TimeoutError is this class since Python 3.11
            raise BotFatherTimeout(step, self.reply_timeout) from None
        text = (
            getattr(response, "raw_text", None)
            or getattr(response, "text", None)
            or getattr(response, "message", None)
            or ""
        )
        reply = parse_reply(text)
        if reply.token:
            secrets.add(reply.token)  # from now on the logs hide it
        log.debug("botfather reply", extra={"step": step, "outcome": reply.outcome.value})
        return reply

    @staticmethod
    def _expect(reply: Reply, step: str, *expected: Outcome) -> Reply:
        if reply.outcome in expected:
            return reply
        if reply.outcome in ACCOUNT_LEVEL:
            raise BotFatherRefused(reply, step)
        raise BotFatherUnexpected(step, reply, expected)

    async def create_bot(
        self,
        name: str,
        username_candidates: Sequence[str],
        description: str = "",
        about: str = "",
        photo: bytes | None = None,
        on_username_chosen: Callable[[str], Awaitable[None]] | None = None,
        on_created: Callable[[str], Awaitable[None]] | None = None,
    ) -> BotCreation:
        """/newbot: name, then each candidate until one is free; then description, about, photo.

        `on_username_chosen(username)` runs BEFORE each username is sent (the username is only
        requested then: it may be someone else's); `on_created(username)` runs right after
        BotFather's success reply, so a caller that dies later knows this bot is its own.
        """
        if not username_candidates:
            raise ValueError("create_bot needs at least one username candidate")
        async with self._conversation() as conv:
            self._expect(await self._ask(conv, "/newbot", "/newbot"), "/newbot", Outcome.ASKED_FOR_NAME)
            self._expect(await self._ask(conv, "name", name), "name", Outcome.ASKED_FOR_USERNAME)
            created: Reply | None = None
            username = ""
            tried: list[str] = []
            for username in username_candidates:
                username = username.lstrip("@")
                if on_username_chosen is not None:
                    await on_username_chosen(username)
                tried.append(username)
                reply = self._expect(
                    await self._ask(conv, "username", username),
                    "username",
                    Outcome.CREATED,
                    Outcome.USERNAME_TAKEN,
                    Outcome.USERNAME_INVALID,
                )
                if reply.outcome is Outcome.CREATED:
                    created = reply
                    if on_created is not None:
                        await on_created(username)
                    break
                log.info("username refused", extra={"username": username, "outcome": reply.outcome.value})
            if created is None:
                await self._cancel(conv)
                raise UsernamesExhausted(tried)
            token = created.token or await self._token_in(conv, username)
            if not token:
                raise BotFatherError(f"BotFather created @{username} but gave no token, even on /token")
            warnings = await self._customise(conv, username, description, about, photo)
        return BotCreation(username=username, token=token, warnings=warnings)

    async def _customise(
        self, conv: Any, username: str, description: str, about: str, photo: bytes | None
    ) -> list[str]:
        """Best effort: the bot already exists, so a refused cosmetic step is a warning, not a failure."""
        warnings: list[str] = []
        steps: list[tuple[str, Outcome, Any]] = []
        if description:
            steps.append(("/setdescription", Outcome.ASKED_FOR_DESCRIPTION, description))
        if about:
            steps.append(("/setabouttext", Outcome.ASKED_FOR_ABOUT, about))
        if photo:
            steps.append(("/setuserpic", Outcome.ASKED_FOR_PHOTO, photo))
        for command, prompt, value in steps:
            try:
                self._expect(await self._ask(conv, command, command), command, Outcome.ASKED_FOR_BOT)
                step = f"{command} bot"
                self._expect(await self._ask(conv, step, f"@{username}"), step, prompt)
                if isinstance(value, bytes):
                    upload = io.BytesIO(value)
                    upload.name = "avatar.jpg"  # Telethon sends a named image as a photo
                    reply = await self._ask(conv, f"{command} value", file=upload)
                else:
                    reply = await self._ask(conv, f"{command} value", value)
                self._expect(reply, f"{command} value", Outcome.UPDATED)
            except BotFatherError as exc:
                warnings.append(f"{command}: {exc}")
                log.warning("bot customisation step failed", extra={"step": command, "error": str(exc)})
                if isinstance(exc, BotFatherTimeout | BotFatherRefused):
                    break  # the account is slow or throttled: do not push it further
                await self._cancel(conv)
        return warnings

    async def set_profile(
        self, username: str, description: str = "", photo: bytes | None = None
    ) -> list[str]:
        """/setdescription and /setuserpic for a bot this account owns (after go-live). Returns the
        steps BotFather did not confirm (empty: all done)."""
        async with self._conversation() as conv:
            return await self._customise(conv, username.lstrip("@"), description, "", photo)

    async def _cancel(self, conv: Any) -> None:
        # read the answer too, so it cannot arrive later inside the next conversation
        try:
            await self._ask(conv, "/cancel", "/cancel")
        except BotFatherTimeout:
            log.warning("BotFather did not answer /cancel")

    async def _token_in(self, conv: Any, username: str) -> str | None:
        reply = self._expect(
            await self._ask(conv, "/token", "/token"), "/token", Outcome.ASKED_FOR_BOT, Outcome.BOT_NOT_FOUND
        )
        if reply.outcome is Outcome.BOT_NOT_FOUND:
            return None
        reply = self._expect(
            await self._ask(conv, "/token bot", f"@{username}"),
            "/token bot",
            Outcome.TOKEN,
            Outcome.CREATED,
            Outcome.BOT_NOT_FOUND,
        )
        return reply.token

    async def recover_token(self, username: str) -> str | None:
        """The token of a bot this account already owns (/token), or None if it owns no such bot."""
        async with self._conversation() as conv:
            return await self._token_in(conv, username.lstrip("@"))

    async def owned_bots(self) -> set[str]:
        """/mybots: the (lower-case) usernames of every bot this account owns."""
        async with self._conversation() as conv:
            await conv.send_message("/mybots")
            try:
                response = await conv.get_response(timeout=self.reply_timeout)
            except TimeoutError:
                raise BotFatherTimeout("/mybots", self.reply_timeout) from None
        buttons = [b.text for row in (getattr(response, "buttons", None) or []) for b in row]
        text = getattr(response, "raw_text", None) or getattr(response, "text", None) or ""
        owned = bots_listed(text, buttons)
        if owned is None:
            raise BotFatherUnexpected("/mybots", parse_reply(text), (Outcome.ASKED_FOR_BOT,))
        return owned

    async def delete_bot(self, username: str) -> bool:
        """/deletebot. True when BotFather confirms; False when this account owns no such bot."""
        username = username.lstrip("@")
        async with self._conversation() as conv:
            reply = self._expect(
                await self._ask(conv, "/deletebot", "/deletebot"),
                "/deletebot",
                Outcome.ASKED_FOR_BOT,
                Outcome.BOT_NOT_FOUND,
            )
            if reply.outcome is Outcome.BOT_NOT_FOUND:
                return False
            reply = self._expect(
                await self._ask(conv, "/deletebot bot", f"@{username}"),
                "/deletebot bot",
                Outcome.ASKED_FOR_DELETE_CONFIRMATION,
                Outcome.BOT_NOT_FOUND,
            )
            if reply.outcome is Outcome.BOT_NOT_FOUND:
                return False
            self._expect(
                await self._ask(conv, "/deletebot confirm", DELETE_CONFIRMATION),
                "/deletebot confirm",
                Outcome.DELETED,
            )
            return True
