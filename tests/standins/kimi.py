"""A local stand-in of Moonshot's OpenAI-compatible API (Kimi K2.5): `/v1/chat/completions`.

A real aiohttp server on 127.0.0.1 that answers the way Moonshot does, streaming (server-sent
events, `data: {...}` chunks, a final chunk with `finish_reason` and `usage`, then `data: [DONE]`)
and not, and records every request (headers and JSON body) so a test can see what the model was
asked and with which key.

What it answers is decided per request by `responder(body) -> Reply`; the default echoes the last
user message as "You said: ...". A `Reply` may carry tool calls instead of text, so a test can make
the model ask the agent to run a tool (e.g. `exec`), then see the tool's result in the next request.

    async with KimiStandIn(api_key="sk-test-platform") as kimi:
        kimi.responder = lambda body: Reply(text="hello", chunks=30, chunk_delay=0.01)
        ... point the client at kimi.base_url (ends in /v1) ...
        kimi.requests[-1].authorization
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{secrets.token_hex(6)}")


@dataclass
class Reply:
    """What the model answers: text (split into `chunks` pieces when streamed) or tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    chunks: int = 0  # 0: one chunk per word
    chunk_delay: float = 0.0  # seconds between streamed chunks
    status: int = 200  # another status answers an OpenAI-style error body instead
    error_message: str = "upstream error"
    retry_after: int | None = None  # a Retry-After header on the error (Moonshot's 429s carry one)
    cached_tokens: int = 0  # prompt tokens Moonshot reports as served from its context cache
    delay: float = 0.0  # seconds before answering at all (a model that thinks before its first byte)


@dataclass
class RecordedRequest:
    path: str
    authorization: str
    body: dict[str, Any]
    received_at: float
    finished_at: float | None = None
    disconnected: bool = False

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def last_user_text(self) -> str:
        return last_user_text(self.body)


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message of a chat-completions body ('' when there is none)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def echo(body: dict[str, Any]) -> Reply:
    return Reply(text=f"You said: {last_user_text(body)}")


def _split(text: str, chunks: int) -> list[str]:
    if not text:
        return [""]
    if chunks <= 0:
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]
    size = max(1, -(-len(text) // chunks))
    return [text[i : i + size] for i in range(0, len(text), size)]


def usage_for(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Deterministic token counts (about 4 characters a token), as Moonshot reports them."""
    prompt_chars = len(json.dumps(body.get("messages") or []))
    completion_chars = len(reply.text) + sum(len(json.dumps(t.arguments)) for t in reply.tool_calls)
    prompt, completion = prompt_chars // 4 + 1, completion_chars // 4 + 1
    cached = min(reply.cached_tokens, prompt)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cached_tokens": cached,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


class KimiStandIn:
    """Moonshot's chat completions on a local port; accepts only `api_key` as Bearer token."""

    def __init__(self, api_key: str = "sk-test-kimi-standin", model: str = "kimi-k2.5") -> None:
        self.api_key = api_key
        self.model = model
        self.responder: Callable[[dict[str, Any]], Reply] = echo
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""  # http://127.0.0.1:<port>/v1

    async def start(self) -> str:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KimiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- handlers --------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    @staticmethod
    def _error(status: int, message: str, type_: str, retry_after: int | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response(
            {"error": {"message": message, "type": type_}}, status=status, headers=headers
        )

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(
            RecordedRequest(request.path, request.headers.get("Authorization", ""), {}, time.monotonic())
        )
        if not self._authorized(request):
            return self._error(401, "Invalid Authentication", "invalid_authentication_error")
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "request body is not JSON", "invalid_request_error")
        recorded = RecordedRequest(
            request.path, request.headers.get("Authorization", ""), body, time.monotonic()
        )
        self.requests.append(recorded)
        if not self._authorized(request):
            return self._error(401, "Invalid Authentication", "invalid_authentication_error")
        reply = self.responder(body)
        if reply.delay and not await self._wait_connected(request, reply.delay):
            recorded.disconnected = True  # the client left while the model was still thinking
            return web.Response(status=499)
        if reply.status != 200:
            return self._error(
                reply.status, reply.error_message, "engine_overloaded_error", reply.retry_after
            )
        completion_id = f"chatcmpl-{secrets.token_hex(8)}"
        if not body.get("stream"):
            recorded.finished_at = time.monotonic()
            return web.json_response(self._completion(completion_id, body, reply))
        return await self._stream(request, recorded, completion_id, body, reply)

    @staticmethod
    async def _wait_connected(request: web.Request, seconds: float) -> bool:
        """Sleep `seconds`; False as soon as the client's connection is gone."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if request.transport is None or request.transport.is_closing():
                return False
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return request.transport is not None and not request.transport.is_closing()

    def _message(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": t.id,
                    "type": "function",
                    "function": {"name": t.name, "arguments": json.dumps(t.arguments)},
                }
                for t in reply.tool_calls
            ]
        return message

    def _completion(self, completion_id: str, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": self._message(reply),
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": usage_for(body, reply),
        }

    async def _stream(
        self,
        request: web.Request,
        recorded: RecordedRequest,
        completion_id: str,
        body: dict[str, Any],
        reply: Reply,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", self.model),
        }

        async def send(
            delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
        ) -> None:
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
            chunk = {**base, "choices": [choice]}
            if usage is not None:
                choice["usage"] = usage  # where Moonshot puts it
                chunk["usage"] = usage  # where OpenAI's include_usage puts it
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        try:
            await send({"role": "assistant", "content": ""})
            if reply.tool_calls:
                await send(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": t.id,
                                "type": "function",
                                "function": {"name": t.name, "arguments": json.dumps(t.arguments)},
                            }
                            for i, t in enumerate(reply.tool_calls)
                        ]
                    }
                )
            else:
                for piece in _split(reply.text, reply.chunks):
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                    await send({"content": piece})
            await send({}, "tool_calls" if reply.tool_calls else "stop", usage_for(body, reply))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            recorded.disconnected = True
            raise
        recorded.finished_at = time.monotonic()
        return response
