"""The agent's model client: the npm `openai` SDK at the version OpenClaw 2026.9.6 bundles (7.15.0),
driven by `stream.mjs` (one streamed chat completion, one JSON line per chunk as it arrives).

    lines = await stream_completion(base_url, api_key, prompt="hi")   # installs node_modules once
    [{"at": 12, "content": "...", "usage": None}, ..., {"error": {"status": 401, "message": ...}}]

Until the real OpenClaw gateway runs in the tests (branch `oc`), this is the closest real client.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class ClientUnavailable(RuntimeError):
    """node/npm are missing or the package could not be installed."""


def ensure_installed(timeout: float = 300.0) -> None:
    if (HERE / "node_modules" / "openai" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ClientUnavailable("node and npm are needed for the openai SDK client")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ClientUnavailable(f"`npm ci` failed in {HERE}: {result.stderr[-2000:]}")


async def stream_completion(
    base_url: str, api_key: str, prompt: str = "hello", timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Run one streamed completion; returns the printed lines (each chunk, or one error)."""
    await asyncio.to_thread(ensure_installed)
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "stream.mjs"),
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "BASE_URL": base_url, "API_KEY": api_key, "PROMPT": prompt},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    if process.returncode != 0:
        raise ClientUnavailable(f"stream.mjs failed: {stderr.decode()[-2000:]}")
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
