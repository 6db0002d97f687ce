"""The shared BotFather: the app's real BotFatherDialogue over the remote client reaches the one
world in the server; scripted Telethon errors arrive as Telethon's own classes; a dialogue left open
by a dead process is closed, not counted as an overlap."""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace

import pytest
from telethon import errors

from services.accounts.botfather import BotFatherDialogue
from tests.standins.botfather import ScriptedTelegram
from tests.standins.botfather_server import BotFatherServer, RemoteBotFather, decode_error, encode_error

PHONE = "+15550001111"


async def test_remote_dialogue_creates_the_bot_in_the_shared_world() -> None:
    world = ScriptedTelegram()
    replies: list[str] = []
    async with BotFatherServer(world) as server:
        client = RemoteBotFather(server.base_url, on_reply=replies.append).client_for(
            SimpleNamespace(phone=PHONE)
        )
        await client.connect()
        assert await client.is_user_authorized()
        assert (await client.get_me()).phone == PHONE.lstrip("+")
        made = await BotFatherDialogue(client, reply_timeout=1).create_bot(
            "Ann's Agent", ["ann_agent_bot"], description="Keeps my diary", photo=b"\x89PNG"
        )
        assert await BotFatherDialogue(client, reply_timeout=1).recover_token("ann_agent_bot") == made.token
        await client.disconnect()
    assert world.created == [(PHONE, "ann_agent_bot")]
    assert world.bots["ann_agent_bot"].token == made.token
    assert world.bots["ann_agent_bot"].description == "Keeps my diary"
    assert world.bots["ann_agent_bot"].photo == b"\x89PNG"
    assert any(r.startswith("Done! Congratulations") for r in replies)
    assert world.overlaps == [] and world.open_dialogues[PHONE] == 0


async def test_scripted_telethon_errors_arrive_as_their_own_classes() -> None:
    world = ScriptedTelegram()
    world.fail(PHONE, "/newbot", errors.FloodWaitError(request=None, capture=42))
    world.fail(PHONE, "connect", errors.AuthKeyUnregisteredError(request=None))
    async with BotFatherServer(world) as server:
        client = RemoteBotFather(server.base_url).client_for(SimpleNamespace(phone=PHONE))
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await client.connect()
        await client.connect()
        with pytest.raises(errors.FloodWaitError) as caught:
            await BotFatherDialogue(client, reply_timeout=1).create_bot("A", ["a_agent_bot"])
        assert caught.value.seconds == 42
        await client.disconnect()
    assert world.created == []


def test_error_encoding_round_trip_keeps_class_and_arguments() -> None:
    rpc = decode_error(encode_error(errors.RPCError(None, "SOMETHING_ODD", 400)))
    assert type(rpc) is errors.RPCError and rpc.message == "SOMETHING_ODD" and rpc.code == 400
    assert isinstance(decode_error(encode_error(ValueError("bad"))), ValueError)
    assert type(decode_error({"module": "os", "name": "system", "args": ["true"]})) is RuntimeError


async def test_a_dialogue_of_a_killed_process_is_closed_not_an_overlap() -> None:
    world = ScriptedTelegram()
    async with BotFatherServer(world) as server:
        # another process opens a dialogue and dies without closing it
        script = (
            "import asyncio, sys, os, signal, types\n"
            "from tests.standins.botfather_server import RemoteBotFather\n"
            "async def main():\n"
            f"    c = RemoteBotFather({server.base_url!r}).client_for(\n"
            f"        types.SimpleNamespace(phone={PHONE!r}))\n"
            "    await c.connect()\n"
            "    await c.conversation('BotFather').__aenter__()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "asyncio.run(main())\n"
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
        assert await proc.wait() == -9
        assert world.open_dialogues[PHONE] == 1
        client = RemoteBotFather(server.base_url).client_for(SimpleNamespace(phone=PHONE))
        await client.connect()
        await BotFatherDialogue(client, reply_timeout=1).create_bot("A", ["a_agent_bot"])
        await client.disconnect()
        assert server.reaped == [(proc.pid, PHONE)]
    assert world.overlaps == [] and world.open_dialogues[PHONE] == 0
    assert world.created == [(PHONE, "a_agent_bot")]
