"""A scripted @BotFather behind Telethon's client surface (no MTProto server exists offline).

`ScriptedTelegram` is the world: which bots exist, who owns them, which usernames other people
hold. `world.client_for(account)` is a `ClientFactory` for the pool: it returns a `ScriptedClient`
with Telethon's surface (`connect`, `is_user_authorized`, `get_me`, `disconnect`,
`conversation(...)` with `send_message`, `send_file`, `get_response(timeout=...)`). Replies are
BotFather's real texts; errors are Telethon's REAL error classes, raised where Telethon raises them.

The world records every bot created and deleted (`created`, `deleted`, `bots`) so tests can prove
nothing was orphaned, and every moment two dialogues were open on one account at once (`overlaps`).

`ScriptedLogin` scripts Telethon's login surface (`send_code_request`, `sign_in`, 2FA) for
`accounts login`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import string
from collections import defaultdict, deque
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from telethon import errors

# --- BotFather's texts (as it sends them; the token inside a code entity) ------------------------

ASK_NAME = "Alright, a new bot. How are we going to call it? Please choose a name for your bot."
ASK_USERNAME = (
    "Good. Now let's choose a username for your bot. It must end in `bot`. Like this, "
    "for example: TetrisBot or tetris_bot."
)
TAKEN = "Sorry, this username is already taken. Please try something different."
INVALID = "Sorry, this username is invalid."
MUST_END_IN_BOT = "Sorry, the username must end in 'bot'. E.g. 'Tetris_bot' or 'Tetrisbot'"
TOO_MANY_ATTEMPTS = "Sorry, too many attempts. Please try again in {seconds} seconds."
BOT_LIMIT = (
    "That I cannot do.\n\nYou come to me asking for more than 20 bots. But you don't even "
    "have the decency to delete the ones you no longer need."
)
BOT_LIMIT_SHORT = "Sorry, you can't add more than 20 bots."
RESTRICTED = "Sorry, you cannot create new bots at this time."
DONE = (
    "Done! Congratulations on your new bot. You will find it at t.me/{username}. You can now add a "
    "description, about section and profile picture for your bot, see /help for a list of commands. "
    "By the way, when you've finished creating your cool bot, ping our Bot Support if you want a "
    "better username for it. Just make sure the bot is fully operational before you do this.\n\n"
    "Use this token to access the HTTP API:\n`{token}`\nKeep your token secure and store it safely, "
    "it can be used by anyone to control your bot.\n\nFor a description of the Bot API, see this "
    "page: https://core.telegram.org/bots/api"
)
MYBOTS = "Choose a bot from the list below:"
CHOOSE_TOKEN = "Choose a bot to generate a new token."
TOKEN_REPLY = (
    "You can use this token to access HTTP API:\n`{token}`\n\nFor a description of the Bot "
    "API, see this page: https://core.telegram.org/bots/api"
)
INVALID_BOT = "Invalid bot selected."
CHOOSE_DELETE = "Choose a bot to delete."
CONFIRM_DELETE = (
    "OK, you selected @{username}. Are you sure? Send 'Yes, I am totally sure.' to confirm "
    "you really want to delete this bot."
)
DELETED = "Done! The bot is gone. /help"
CHOOSE_DESCRIPTION = "Choose a bot to change description."
ASK_DESCRIPTION = (
    "OK. Send me the new description for the bot. People will see this description when "
    "they open a chat with your bot, in a block titled 'What can this bot do?'."
)
DESCRIPTION_DONE = "Success! Description updated. /help"
CHOOSE_ABOUT = "Choose a bot to change the about section."
ASK_ABOUT = (
    "OK. Send me the new 'About' text. People will see this text on the bot's profile page and "
    "it will be sent together with a link to your bot when they share it with someone."
)
ABOUT_DONE = "Success! About section updated. /help"
CHOOSE_PHOTO = "Choose a bot to change profile photo."
ASK_PHOTO = "OK. Send me the new profile photo for the bot."
PHOTO_DONE = "Success! Profile photo updated. /help"
CANCELLED = "The command {command} has been cancelled. Anything else for me?"
NOTHING_TO_CANCEL = "No active command to cancel. I wasn't doing anything anyway. Zzzzzz..."
UNRECOGNISED = "Unrecognized command. Say what?"

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"


def fake_token() -> str:
    """A bot token of BotFather's shape, made at run time (never a literal in the repository)."""
    digits = str(secrets.randbelow(9 * 10**9) + 10**9)
    return f"{digits}:AA" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(33))


def fake_string_session() -> str:
    """A syntactically valid Telethon StringSession (random auth key), made at run time."""
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


class SimulatedCrash(BaseException):
    """The worker process 'dies' here (BaseException: nothing in the app may swallow it)."""


@dataclass
class Bot:
    username: str
    token: str
    owner: str
    name: str
    description: str = ""
    about: str = ""
    photo: bytes | None = None


@dataclass
class Script:
    """What one account meets: errors at given steps, replaced replies, silence, a crash."""

    errors: dict[str, deque[BaseException]] = field(default_factory=lambda: defaultdict(deque))
    replies: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    silent_on: set[str] = field(default_factory=set)
    crash_after_create: bool = False
    authorized: bool = True


class ScriptedTelegram:
    """BotFather and the accounts that talk to it. Keyed by the account's phone."""

    def __init__(self, *, taken: set[str] | None = None, bot_limit: int = 20, latency: float = 0.0) -> None:
        self.taken = {u.lower() for u in taken or set()}  # usernames held by other people
        self.bot_limit = bot_limit
        self.latency = latency  # seconds before each reply (0: just yield to the loop)
        self.bots: dict[str, Bot] = {}  # lower-case username -> bot
        self.created: list[tuple[str, str]] = []  # (phone, username)
        self.deleted: list[tuple[str, str]] = []
        self.overlaps: list[str] = []  # phones that had two dialogues open at once
        self.max_parallel: dict[str, int] = defaultdict(int)
        self.open_dialogues: dict[str, int] = defaultdict(int)
        self.sent: list[tuple[str, str]] = []  # (phone, text) every message sent to BotFather
        self.scripts: dict[str, Script] = defaultdict(Script)
        self.state: dict[str, dict[str, Any]] = defaultdict(dict)  # BotFather's per-user state
        self.connects: dict[str, int] = defaultdict(int)

    # --- scripting -------------------------------------------------------------------------------

    def fail(self, phone: str, step: str, error: BaseException, times: int = 1) -> None:
        """Raise `error` at `step`: 'connect', 'get_me', 'conversation', or a sent text like '/newbot'."""
        for _ in range(times):
            self.scripts[phone].errors[step].append(error)

    def reply(self, phone: str, sent_text: str, reply_text: str, times: int = 1) -> None:
        """BotFather answers `sent_text` with `reply_text` (e.g. too many attempts) instead of the usual."""
        for _ in range(times):
            self.scripts[phone].replies[sent_text].append(reply_text)

    def silence(self, phone: str, sent_text: str) -> None:
        self.scripts[phone].silent_on.add(sent_text)

    def crash_after_create(self, phone: str) -> None:
        self.scripts[phone].crash_after_create = True

    def deauthorize(self, phone: str) -> None:
        self.scripts[phone].authorized = False

    def _raise_scripted(self, phone: str, step: str) -> None:
        queue = self.scripts[phone].errors.get(step)
        if queue:
            raise queue.popleft()

    # --- what tests read -------------------------------------------------------------------------

    def bots_of(self, phone: str) -> list[str]:
        return sorted(b.username for b in self.bots.values() if b.owner == phone)

    # --- the client factory ----------------------------------------------------------------------

    def client_for(self, account: Any) -> ScriptedClient:
        return ScriptedClient(self, account.phone)

    # --- BotFather -------------------------------------------------------------------------------

    def answer(self, phone: str, text: str | None, photo: bytes | None = None) -> str | None:
        """BotFather's reply to one message (None: it stays silent)."""
        script = self.scripts[phone]
        key = text if text is not None else "<photo>"
        self.sent.append((phone, key))
        self._raise_scripted(phone, key)
        if key in script.silent_on:
            return None
        if script.replies.get(key):
            self.state[phone] = {}
            return script.replies[key].popleft()
        state = self.state[phone]
        step = state.get("step")
        if text is not None and text.startswith("/"):
            return self._command(phone, text.strip())
        if step == "name":
            state.update(step="username", name=text)
            return ASK_USERNAME
        if step == "username":
            return self._choose_username(phone, (text or "").strip())
        if step in ("token", "delete", "setdescription", "setabouttext", "setuserpic"):
            bot = self.bots.get((text or "").strip().lstrip("@").lower())
            if bot is None or bot.owner != phone:
                self.state[phone] = {}
                return INVALID_BOT
            if step == "token":
                self.state[phone] = {}
                return TOKEN_REPLY.format(token=bot.token)
            state.update(step=f"{step}:value", bot=bot.username.lower())
            return {
                "delete": CONFIRM_DELETE.format(username=bot.username),
                "setdescription": ASK_DESCRIPTION,
                "setabouttext": ASK_ABOUT,
                "setuserpic": ASK_PHOTO,
            }[step]
        if step == "delete:value":
            if text == "Yes, I am totally sure.":
                bot = self.bots.pop(state["bot"])
                self.deleted.append((phone, bot.username))
                self.state[phone] = {}
                return DELETED
            return "Please enter the confirmation text exactly like this:\nYes, I am totally sure."
        if step in ("setdescription:value", "setabouttext:value"):
            bot = self.bots[state["bot"]]
            if step == "setdescription:value":
                bot.description = text or ""
                done = DESCRIPTION_DONE
            else:
                bot.about = text or ""
                done = ABOUT_DONE
            self.state[phone] = {}
            return done
        if step == "setuserpic:value":
            if photo is None:
                return "Please send me the new profile photo for the bot."
            self.bots[state["bot"]].photo = photo
            self.state[phone] = {}
            return PHOTO_DONE
        return UNRECOGNISED

    def _command(self, phone: str, command: str) -> str:
        previous = self.state[phone].get("command")
        self.state[phone] = {}
        if command == "/newbot":
            if len(self.bots_of(phone)) >= self.bot_limit:
                return BOT_LIMIT
            self.state[phone] = {"command": "newbot", "step": "name"}
            return ASK_NAME
        if command == "/mybots":
            owned = self.bots_of(phone)
            return MYBOTS + " ".join(owned) if owned else "You have currently no bots."
        if command == "/cancel":
            return CANCELLED.format(command=previous) if previous else NOTHING_TO_CANCEL
        choose = {
            "/token": ("token", CHOOSE_TOKEN),
            "/deletebot": ("delete", CHOOSE_DELETE),
            "/setdescription": ("setdescription", CHOOSE_DESCRIPTION),
            "/setabouttext": ("setabouttext", CHOOSE_ABOUT),
            "/setuserpic": ("setuserpic", CHOOSE_PHOTO),
        }.get(command)
        if choose is None:
            return UNRECOGNISED
        if not self.bots_of(phone):
            return "You have currently no bots."
        self.state[phone] = {"command": command.lstrip("/"), "step": choose[0]}
        return choose[1]

    def _choose_username(self, phone: str, username: str) -> str:
        if not USERNAME_RE.match(username):
            return INVALID
        if not username.lower().endswith("bot"):
            return MUST_END_IN_BOT
        if username.lower() in self.taken or username.lower() in self.bots:
            return TAKEN
        bot = Bot(username=username, token=fake_token(), owner=phone, name=self.state[phone].get("name", ""))
        self.bots[username.lower()] = bot
        self.created.append((phone, username))
        self.state[phone] = {}
        if self.scripts[phone].crash_after_create:
            self.scripts[phone].crash_after_create = False
            raise SimulatedCrash(f"worker died right after BotFather created @{username}")
        return DONE.format(username=username, token=bot.token)


@dataclass
class FakeButton:
    text: str


@dataclass
class FakeMessage:
    """The parts of telethon's Message the app reads: `.text` (markdown), `.raw_text` (plain) and
    `.buttons` (rows of inline buttons, as /mybots answers)."""

    text: str
    buttons: list[list[FakeButton]] | None = None

    @property
    def raw_text(self) -> str:
        return self.text.replace("`", "")

    @property
    def message(self) -> str:
        return self.raw_text


def as_message(reply: str) -> FakeMessage:
    """BotFather's reply as Telethon shows it: /mybots lists the bots as buttons, one row per bot."""
    if reply.startswith(MYBOTS):
        names = reply[len(MYBOTS) :].split()
        return FakeMessage(MYBOTS, [[FakeButton(f"@{name}")] for name in names])
    return FakeMessage(reply)


class ScriptedConversation:
    def __init__(self, client: ScriptedClient, peer: str, timeout: float) -> None:
        self.client = client
        self.world = client.world
        self.peer = peer
        self.timeout = timeout
        self._responses: deque[str | None] = deque()

    async def __aenter__(self) -> ScriptedConversation:
        phone = self.client.phone
        self.world._raise_scripted(phone, "conversation")
        if self.world.open_dialogues[phone] > 0:
            self.world.overlaps.append(phone)
        self.world.open_dialogues[phone] += 1
        self.world.max_parallel[phone] = max(self.world.max_parallel[phone], self.world.open_dialogues[phone])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.world.open_dialogues[self.client.phone] -= 1

    async def _deliver(self, text: str | None, photo: bytes | None = None) -> FakeMessage:
        if self.peer.lstrip("@").lower() != "botfather":
            raise errors.UsernameNotOccupiedError(request=None)
        await asyncio.sleep(self.world.latency)  # lets other dialogues interleave, as the network does
        reply = self.world.answer(self.client.phone, text, photo)
        self._responses.append(reply)
        return FakeMessage(text or "<photo>")

    async def send_message(self, text: str, **_: Any) -> FakeMessage:
        return await self._deliver(text)

    async def send_file(self, file: Any, **_: Any) -> FakeMessage:
        data = file.getvalue() if hasattr(file, "getvalue") else bytes(file)
        return await self._deliver(None, data)

    async def get_response(self, message: Any = None, *, timeout: float | None = None) -> FakeMessage:
        await asyncio.sleep(0)
        reply = self._responses.popleft() if self._responses else None
        if reply is None:
            # Telethon raises asyncio.TimeoutError when the reply does not come in time
            await asyncio.sleep(timeout if timeout is not None else self.timeout)
            raise TimeoutError()
        return as_message(reply)


class ScriptedClient:
    """Telethon's TelegramClient surface, for one account."""

    def __init__(self, world: ScriptedTelegram, phone: str) -> None:
        self.world = world
        self.phone = phone
        self.connected = False

    async def connect(self) -> None:
        self.world._raise_scripted(self.phone, "connect")
        self.world.connects[self.phone] += 1
        self.connected = True

    async def is_user_authorized(self) -> bool:
        return self.world.scripts[self.phone].authorized

    async def get_me(self) -> Any:
        self.world._raise_scripted(self.phone, "get_me")
        if not self.world.scripts[self.phone].authorized:
            return None
        return SimpleNamespace(id=abs(hash(self.phone)) % 10**9, phone=self.phone.lstrip("+"), bot=False)

    async def disconnect(self) -> None:
        self.connected = False

    def conversation(
        self,
        entity: str,
        *,
        timeout: float = 60,
        total_timeout: float | None = None,
        max_messages: int = 100,
        exclusive: bool = True,
        replies_are_responses: bool = True,
    ) -> ScriptedConversation:
        return ScriptedConversation(self, entity, timeout)


# --- login ----------------------------------------------------------------------------------------


class ScriptedLogin:
    """Telegram's login as Telethon exposes it: send_code_request, sign_in(code), sign_in(password)."""

    def __init__(
        self,
        *,
        code: str = "12345",
        password: str | None = None,
        banned_phones: set[str] | None = None,
        banned_at_sign_in: bool = False,
    ) -> None:
        self.code = code
        self.password = password
        self.banned_phones = banned_phones or set()
        self.banned_at_sign_in = banned_at_sign_in  # the ban shows only once the code is entered
        self.codes_sent: list[str] = []
        self.sign_ins: list[dict[str, Any]] = []
        self.clients: list[ScriptedLoginClient] = []

    def client_factory(self, api_id: int, api_hash: str) -> ScriptedLoginClient:
        client = ScriptedLoginClient(self, api_id, api_hash)
        self.clients.append(client)
        return client


class ScriptedLoginClient:
    def __init__(self, login: ScriptedLogin, api_id: int, api_hash: str) -> None:
        self.login = login
        self.api_id = api_id
        self.api_hash = api_hash
        self.authorized = False
        self.phone: str | None = None
        self.awaiting_password = False
        self.connected = False
        self.session = SimpleNamespace(save=self._save_session)
        self._session_string: str | None = None

    def _save_session(self) -> str:
        if not self.authorized:
            return ""
        if self._session_string is None:
            self._session_string = fake_string_session()
        return self._session_string

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def is_user_authorized(self) -> bool:
        return self.authorized

    async def send_code_request(self, phone: str, **_: Any) -> Any:
        if phone in self.login.banned_phones:
            raise errors.PhoneNumberBannedError(request=None)
        self.phone = phone
        self.login.codes_sent.append(phone)
        return SimpleNamespace(phone_code_hash=base64.b16encode(os.urandom(8)).decode().lower())

    async def sign_in(
        self,
        phone: str | None = None,
        code: str | int | None = None,
        *,
        password: str | None = None,
        phone_code_hash: str | None = None,
        **_: Any,
    ) -> Any:
        self.login.sign_ins.append({"code": code is not None, "password": password is not None})
        if self.login.banned_at_sign_in:
            raise errors.PhoneNumberBannedError(request=None)
        if password is not None:
            if not self.awaiting_password:
                raise errors.PasswordHashInvalidError(request=None)
            if password != self.login.password:
                raise errors.PasswordHashInvalidError(request=None)
            self.awaiting_password = False
            self.authorized = True
            return await self.get_me()
        if str(code) != self.login.code:
            raise errors.PhoneCodeInvalidError(request=None)
        if self.login.password is not None:
            self.awaiting_password = True
            raise errors.SessionPasswordNeededError(request=None)
        self.authorized = True
        return await self.get_me()

    async def get_me(self) -> Any:
        if not self.authorized:
            return None
        return SimpleNamespace(
            id=777000 + len(self.phone or ""),
            phone=(self.phone or "").lstrip("+"),
            first_name="Creator",
            username=None,
            bot=False,
        )
