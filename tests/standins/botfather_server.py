"""The scripted @BotFather shared by several processes: one `ScriptedTelegram` world hosted in the
test process behind a small aiohttp server on 127.0.0.1, and a Telethon-shaped client that talks to it.

Worker SUBPROCESSES get `RemoteBotFather(url).client_for` as their pool's client factory; the test
reads the one world's record afterwards (`created`, `deleted`, `bots`, `overlaps`, `sent`).

    async with BotFatherServer(stack.botfather) as server:
        ...  # hand server.base_url to the worker processes
        assert len(stack.botfather.created) == 1

Scripted errors travel as (module, class, args) and are re-raised client-side as the same class:
Telethon's REAL error classes (built from their own `__reduce__` arguments), builtins, and
`SimulatedCrash`. A dialogue left open by a process that died (SIGKILL) is closed when the server
notices the process is gone, as Telegram forgets a dead client's conversation; it is not an overlap.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from telethon import errors

from tests.standins.botfather import FakeMessage, ScriptedTelegram, SimulatedCrash, as_message

_ALLOWED_ERROR_MODULES = ("telethon.errors", "builtins", "tests.standins.botfather")


def encode_error(exc: BaseException) -> dict[str, Any]:
    """An exception as JSON: Telethon's RPC errors by their own reduce arguments (request dropped)."""
    cls = type(exc)
    if isinstance(exc, errors.RPCError):
        args = list(exc.__reduce__()[1][1:])  # (request, *rest): the request never travels
    else:
        args = [a if isinstance(a, int | float | str | None) else str(a) for a in exc.args]
    return {"module": cls.__module__, "name": cls.__qualname__, "args": args}


def decode_error(data: dict[str, Any]) -> BaseException:
    """The exception `encode_error` described, of the same class (RuntimeError if it is not allowed)."""
    module_name, name, args = data.get("module", ""), data.get("name", ""), data.get("args", [])
    if not module_name.startswith(_ALLOWED_ERROR_MODULES):
        return RuntimeError(f"BotFather stand-in raised {module_name}.{name}: {args}")
    cls = getattr(importlib.import_module(module_name), name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return RuntimeError(f"BotFather stand-in raised unknown {module_name}.{name}")
    if issubclass(cls, errors.RPCError):
        return cls(None, *args)
    return cls(*args)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet waited for) is dead too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class _Dialogue:
    phone: str
    pid: int
    peer: str
    responses: list[str | None] = field(default_factory=list)
    open: bool = True


class BotFatherServer:
    """One `ScriptedTelegram` world behind HTTP (JSON POST /call {"op": ..., ...})."""

    def __init__(self, world: ScriptedTelegram, host: str = "127.0.0.1") -> None:
        self.world = world
        self.host = host
        self.port = 0
        self.calls: list[tuple[int, str, str]] = []  # (pid, phone, op)
        self.reaped: list[tuple[int, str]] = []  # (pid, phone) dialogues closed because the process died
        self._dialogues: dict[int, _Dialogue] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> BotFatherServer:
        app = web.Application()
        app.router.add_post("/call", self._call)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotFatherServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def reap_dead(self) -> None:
        """Close the dialogues of processes that died without closing them."""
        for dialogue in self._dialogues.values():
            if dialogue.open and not _process_alive(dialogue.pid):
                self._close(dialogue)
                self.reaped.append((dialogue.pid, dialogue.phone))

    def _close(self, dialogue: _Dialogue) -> None:
        if dialogue.open:
            dialogue.open = False
            self.world.open_dialogues[dialogue.phone] -= 1

    async def _call(self, request: web.Request) -> web.Response:
        body = await request.json()
        op = body.get("op", "")
        phone = body.get("phone", "")
        self.calls.append((int(body.get("pid", 0)), phone, op))
        try:
            result = await self._dispatch(op, body)
        except (Exception, SimulatedCrash) as exc:  # the scripted failure travels to the client
            return web.json_response({"error": encode_error(exc)})
        return web.json_response({"result": result})

    async def _dispatch(self, op: str, body: dict[str, Any]) -> Any:
        world = self.world
        phone = body.get("phone", "")
        if op == "connect":
            world._raise_scripted(phone, "connect")
            world.connects[phone] += 1
            return None
        if op == "is_user_authorized":
            return world.scripts[phone].authorized
        if op == "get_me":
            world._raise_scripted(phone, "get_me")
            if not world.scripts[phone].authorized:
                return None
            return {"id": abs(hash(phone)) % 10**9, "phone": phone.lstrip("+"), "bot": False}
        if op == "open":
            self.reap_dead()
            world._raise_scripted(phone, "conversation")
            if world.open_dialogues[phone] > 0:
                world.overlaps.append(phone)
            world.open_dialogues[phone] += 1
            world.max_parallel[phone] = max(world.max_parallel[phone], world.open_dialogues[phone])
            dialogue_id = next(self._ids)
            self._dialogues[dialogue_id] = _Dialogue(phone, int(body.get("pid", 0)), body.get("peer", ""))
            return dialogue_id
        dialogue = self._dialogues.get(int(body.get("dialogue", 0)))
        if dialogue is None:
            raise RuntimeError(f"no such BotFather dialogue: {body.get('dialogue')!r}")
        if op == "send":
            if dialogue.peer.lstrip("@").lower() != "botfather":
                raise errors.UsernameNotOccupiedError(request=None)
            await asyncio.sleep(world.latency)
            photo = base64.b64decode(body["photo"]) if body.get("photo") is not None else None
            dialogue.responses.append(world.answer(dialogue.phone, body.get("text"), photo))
            return None
        if op == "get_response":
            return dialogue.responses.pop(0) if dialogue.responses else None
        if op == "close":
            self._close(dialogue)
            return None
        raise RuntimeError(f"unknown BotFather stand-in operation {op!r}")


# --- the client side (runs in the worker process) -------------------------------------------------


class RemoteBotFather:
    """A `ClientFactory` for the creator pool whose clients talk to a `BotFatherServer`.

    `on_reply(text)` sees every BotFather reply as it arrives (test harnesses hook crashes there).
    """

    def __init__(self, base_url: str, *, on_reply: Callable[[str], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.on_reply = on_reply

    def client_for(self, account: Any) -> RemoteScriptedClient:
        return RemoteScriptedClient(self, account.phone)


class RemoteScriptedClient:
    """Telethon's TelegramClient surface for one account, answered by the shared BotFather world."""

    def __init__(self, remote: RemoteBotFather, phone: str) -> None:
        self.remote = remote
        self.phone = phone
        self.connected = False
        self._http: aiohttp.ClientSession | None = None

    async def _call(self, op: str, **body: Any) -> Any:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        payload = {"op": op, "phone": self.phone, "pid": os.getpid(), **body}
        async with self._http.post(f"{self.remote.base_url}/call", json=payload) as response:
            response.raise_for_status()
            answer = await response.json()
        if "error" in answer:
            raise decode_error(answer["error"])
        return answer.get("result")

    async def connect(self) -> None:
        await self._call("connect")
        self.connected = True

    async def is_user_authorized(self) -> bool:
        return bool(await self._call("is_user_authorized"))

    async def get_me(self) -> Any:
        me = await self._call("get_me")
        return SimpleNamespace(**me) if me is not None else None

    async def disconnect(self) -> None:
        self.connected = False
        if self._http is not None:
            await self._http.close()
            self._http = None

    def conversation(
        self,
        entity: str,
        *,
        timeout: float = 60,
        total_timeout: float | None = None,
        max_messages: int = 100,
        exclusive: bool = True,
        replies_are_responses: bool = True,
    ) -> RemoteConversation:
        return RemoteConversation(self, entity, timeout)


class RemoteConversation:
    def __init__(self, client: RemoteScriptedClient, peer: str, timeout: float) -> None:
        self.client = client
        self.peer = peer
        self.timeout = timeout
        self.dialogue: int | None = None

    async def __aenter__(self) -> RemoteConversation:
        self.dialogue = await self.client._call("open", peer=self.peer)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.dialogue is not None:
            await self.client._call("close", dialogue=self.dialogue)

    async def send_message(self, text: str, **_: Any) -> FakeMessage:
        await self.client._call("send", dialogue=self.dialogue, text=text)
        return FakeMessage(text)

    async def send_file(self, file: Any, **_: Any) -> FakeMessage:
        data = file.getvalue() if hasattr(file, "getvalue") else bytes(file)
        await self.client._call("send", dialogue=self.dialogue, photo=base64.b64encode(data).decode())
        return FakeMessage("<photo>")

    async def get_response(self, message: Any = None, *, timeout: float | None = None) -> FakeMessage:
        reply = await self.client._call("get_response", dialogue=self.dialogue)
        if reply is None:
            # Telethon raises asyncio.TimeoutError when the reply does not come in time
            await asyncio.sleep(timeout if timeout is not None else self.timeout)
            raise TimeoutError()
        if self.client.remote.on_reply is not None:
            self.client.remote.on_reply(reply)
        return as_message(reply)
