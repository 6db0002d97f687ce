"""The Kimi stand-in answers like Moonshot's OpenAI-compatible API, over a real socket."""

from __future__ import annotations

import json

import aiohttp

from tests.standins.kimi import KimiStandIn, Reply, ToolCall

KEY = "sk-test-platform-key"


async def _post(kimi: KimiStandIn, body: dict, key: str = KEY) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{kimi.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as resp,
    ):
        return resp.status, await resp.read()


async def test_non_streamed_completion_echoes_the_user_and_reports_usage() -> None:
    async with KimiStandIn(api_key=KEY) as kimi:
        status, raw = await _post(
            kimi, {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi there"}]}
        )
    body = json.loads(raw)
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "You said: hi there"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert kimi.requests[0].authorization == f"Bearer {KEY}"


async def test_streamed_completion_arrives_as_the_requested_chunks_then_done() -> None:
    async with KimiStandIn(api_key=KEY) as kimi:
        kimi.responder = lambda body: Reply(text="x" * 30, chunks=30)
        status, raw = await _post(
            kimi, {"model": "kimi-k2.5", "stream": True, "messages": [{"role": "user", "content": "go"}]}
        )
    events = [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks]
    assert "".join(x for x in contents if x) == "x" * 30
    assert sum(1 for x in contents if x) == 30
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_tool_calls_and_wrong_keys() -> None:
    async with KimiStandIn(api_key=KEY) as kimi:
        cat = ToolCall("exec", {"command": "cat ~/.openclaw/.env"})
        kimi.responder = lambda body: Reply(tool_calls=[cat])
        status, raw = await _post(kimi, {"messages": [{"role": "user", "content": "x"}]})
        wrong, _ = await _post(kimi, {"messages": []}, key="sk-other")
    call = json.loads(raw)["choices"][0]["message"]["tool_calls"][0]
    assert status == 200 and call["function"]["name"] == "exec"
    assert json.loads(call["function"]["arguments"]) == {"command": "cat ~/.openclaw/.env"}
    assert wrong == 401
