"""Talking to @BotFather from a creator account: the dialogue over Telethon.

BotFather's replies are read by the pure parser in services/accounts/botfather_replies.py.

`BotFatherDialogue(client)` drives Telethon's conversation API (`client.conversation(...)`,
`send_message`, `send_file`, `get_response(timeout=...)`): every step waits for BotFather's answer
with a per-reply timeout, never with a fixed sleep. It knows nothing about accounts or the
database: refusals that concern the whole account (too many attempts, bot limit, restriction) are
raised as `BotFatherRefused` for the pool to act on, and Telethon's own errors pass through.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.accounts.botfather_replies import (
    ACCOUNT_LEVEL,
    Outcome,
    Reply,
    bots_listed,
    parse_reply,
)
from services.infra.logging_setup import secrets

log = logging.getLogger(__name__)

BOTFATHER = "BotFather"
DELETE_CONFIRMATION = "Yes, I am totally sure."

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
