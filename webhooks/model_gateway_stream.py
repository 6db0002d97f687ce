"""The model gateway's wire pieces: OpenAI-shaped errors, and an upstream stream passed to the agent
as it arrives while its reported usage is read on the way (webhooks/model_gateway.py routes)."""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web

from services.model_gateway.usage import Tokens, tokens_from_chunk

ERROR_BODY_LIMIT = 256 * 1024


def openai_error(
    status: int, message: str, type_: str, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """An error in the shape OpenAI clients parse (`error.message` is what the agent shows)."""
    return web.json_response(
        {"error": {"message": message, "type": type_, "code": code}}, status=status, headers=headers
    )


class SseUsageScanner:
    """Finds the `usage` in a stream of server-sent events without holding the stream: keeps only the
    unfinished last line, and parses only `data:` lines that mention usage."""

    def __init__(self) -> None:
        self._tail = b""
        self.tokens: Tokens | None = None

    def feed(self, data: bytes) -> None:
        if b"\n" not in data:
            self._tail += data
            return
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            self._line(line)

    def close(self) -> None:
        if self._tail:
            self._line(self._tail)
            self._tail = b""

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:") or b'"usage"' not in line:
            return
        try:
            found = tokens_from_chunk(json.loads(line[5:].strip()))
        except ValueError:
            return
        if found is not None:
            self.tokens = found


class SecretScrubber:
    """Replaces a secret in a byte stream however it is cut into chunks. It holds back only a chunk's
    tail that could be the start of the secret: an event ends in a newline, which no key starts with,
    so whole events are never held."""

    REDACTED = b"[redacted]"

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        if not self._secret:
            return data
        text = (self._held + data).replace(self._secret, self.REDACTED)
        if text.endswith(b"\n"):  # a finished event (the usual chunk): nothing to hold back
            self._held = b""
            return text
        keep = next(
            (
                n
                for n in range(min(len(self._secret) - 1, len(text)), 0, -1)
                if text.endswith(self._secret[:n])
            ),
            0,
        )
        self._held = text[len(text) - keep :]
        return text[: len(text) - keep]

    def close(self) -> bytes:
        held, self._held = self._held, b""
        return held


class ClientGone(Exception):
    """The agent closed its connection before the answer was complete."""


async def stream_answer(
    request: web.Request, up: aiohttp.ClientResponse, secret: str
) -> tuple[web.StreamResponse, Tokens | None]:
    """Pass the upstream's server-sent events to the agent chunk by chunk as they arrive (never
    buffered), reading the usage they report on the way; `secret` (the platform key) is replaced
    wherever it appears. ClientGone when the agent hangs up."""
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": up.headers.get("Content-Type", "text/event-stream"),
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    await response.prepare(request)
    scanner, scrubber = SseUsageScanner(), SecretScrubber(secret)
    try:
        async for data in up.content.iter_any():
            scanner.feed(data)
            await response.write(scrubber.feed(data))
        if held := scrubber.close():
            await response.write(held)
    except (aiohttp.ClientConnectionResetError, ConnectionResetError):
        scanner.close()
        raise ClientGone() from None
    scanner.close()
    await response.write_eof()
    return response, scanner.tokens
