"""The Telegram Bot API stand-in: npm `telegram-test-api` 4.2.1 behind `launcher.js` (which fixes its gaps).

    with TelegramTestApi.start() as api:          # installs node_modules on first use (npm ci)
        settings = Settings(telegram_api_server=api.base_url, ...)
        user = TelegramTestUser(api.base_url, token, user_id=42, first_name="Alice")
        await user.send("/start")
        reply = await user.wait_text("Hi Alice")

`TelegramTestUser` plays a Telegram user over the package's client API (`/sendMessage`,
`/sendCallback`) and reads what the bot sent through the launcher's `/meetmatt/botMessages`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent


class StandInUnavailable(RuntimeError):
    """node/npm are missing or the package could not be installed."""


def ensure_installed(timeout: float = 300.0) -> None:
    """Install the pinned package into this folder when node_modules is missing."""
    if (HERE / "node_modules" / "telegram-test-api" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise StandInUnavailable("node and npm are needed for the Telegram stand-in (telegram-test-api)")
    command = [npm, "ci" if (HERE / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
    result = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise StandInUnavailable(f"`{' '.join(command[1:])}` failed in {HERE}: {result.stderr[-2000:]}")


class TelegramTestApi:
    """A running launcher process on a free local port."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, startup_timeout: float = 20.0) -> TelegramTestApi:
        ensure_installed()
        process = subprocess.Popen(
            ["node", str(HERE / "launcher.js"), "--port", "0", "--host", "127.0.0.1"],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DEBUG": ""},
        )
        deadline = time.monotonic() + startup_timeout
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("LISTENING "):
                return cls(process, int(line.split()[1]))
            if not line and process.poll() is not None:
                break
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        raise StandInUnavailable(f"telegram-test-api launcher did not start: {stderr[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> TelegramTestApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class BotMessage:
    message_id: int
    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    edited: int

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (
            (self.reply_markup or {}).get("inline_keyboard")
            or (self.reply_markup or {}).get("keyboard")
            or []
        )
        return [button for row in rows for button in row]

    def button(self, text_part: str) -> dict[str, Any]:
        for button in self.buttons:
            if text_part in button["text"]:
                return button
        raise AssertionError(f"no button with {text_part!r} in {[b['text'] for b in self.buttons]}")


class TelegramTestUser:
    """A Telegram user talking to one bot through the stand-in."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        user_id: int,
        first_name: str = "Alice",
        username: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            self.user["username"] = username
        self.chat_id = chat_id or user_id
        chat_type = "private" if self.chat_id > 0 else "supergroup"
        self.chat: dict[str, Any] = {"id": self.chat_id, "type": chat_type}
        if chat_type == "private":
            self.chat["first_name"] = first_name
        else:
            self.chat["title"] = "Admins"
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.post(f"{self.base_url}{path}", json=body) as response:
            assert response.status == 200, await response.text()

    async def block_bot(self) -> None:
        """This user blocks the bot: from now on its messages to them fail with 403, as on Telegram."""
        await self._post("/meetmatt/block", {"token": self.token, "chat_id": self.chat["id"]})

    async def send(self, text: str | None = None, **extra: Any) -> None:
        message: dict[str, Any] = {
            "botToken": self.token,
            "from": self.user,
            "chat": self.chat,
            "date": int(time.time()),
            **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        await self._post("/sendMessage", message)

    async def press(self, button_text: str, *, in_message: BotMessage | None = None) -> None:
        """Press the newest inline button whose label contains `button_text`."""
        message = in_message or next(
            (m for m in reversed(await self.messages()) if any(button_text in b["text"] for b in m.buttons)),
            None,
        )
        assert message is not None, f"no message offers a button {button_text!r}"
        data = message.button(button_text)["callback_data"]
        await self.press_data(data, message.message_id)

    async def press_data(self, data: str, message_id: int) -> None:
        await self._post(
            "/sendCallback",
            {
                "botToken": self.token,
                "from": self.user,
                "data": data,
                "message": {
                    "message_id": message_id,
                    "chat": self.chat,
                    "date": int(time.time()),
                    "text": "…",
                },
            },
        )

    async def messages(self) -> list[BotMessage]:
        """Everything the bot sent to this chat, oldest first, as it stands after edits."""
        params = {"token": self.token, "chatId": str(self.chat_id)}
        async with self.session.get(f"{self.base_url}/meetmatt/botMessages", params=params) as response:
            rows = (await response.json())["result"]
        return [
            BotMessage(
                r["message_id"], r["chat_id"], r.get("text") or "", r.get("reply_markup"), r.get("edited", 0)
            )
            for r in rows
        ]

    async def wait_for(
        self, predicate: Callable[[list[BotMessage]], Any], timeout: float = 15.0, what: str = "a reply"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            messages = await self.messages()
            found = predicate(messages)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; bot sent: {[m.text[:80] for m in messages]}"
                )
            await asyncio.sleep(0.03)

    async def wait_text(self, part: str, *, since: int = 0, timeout: float = 15.0) -> BotMessage:
        """The first bot message (from index `since`) containing `part`."""

        def find(messages: list[BotMessage]) -> BotMessage | None:
            return next((m for m in messages[since:] if part in m.text), None)

        return await self.wait_for(find, timeout, what=repr(part))

    async def count(self) -> int:
        return len(await self.messages())

    async def say(self, text: str | None, expect: str, **extra: Any) -> BotMessage:
        """Send, then wait for a NEW message containing `expect`."""
        since = await self.count()
        await self.send(text, **extra)
        return await self.wait_text(expect, since=since)

    async def tap(self, button_text: str, expect: str, *, in_message: BotMessage | None = None) -> BotMessage:
        """Press a button, then wait for a new OR newly edited message containing `expect` (the bot may
        turn the message with the button into the next prompt)."""
        before = {m.message_id: m.edited for m in await self.messages()}
        await self.press(button_text, in_message=in_message)

        def changed(messages: list[BotMessage]) -> BotMessage | None:
            return next(
                (
                    m
                    for m in messages
                    if expect in m.text and (m.message_id not in before or m.edited > before[m.message_id])
                ),
                None,
            )

        return await self.wait_for(changed, what=repr(expect))


async def get_json(base_url: str, path: str, **params: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}{path}", params=params) as response,
    ):
        return (await response.json())["result"]
