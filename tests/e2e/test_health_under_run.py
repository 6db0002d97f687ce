"""Under `python main.py run`, /readyz tells the truth: 503 within seconds of the worker loop or the
bot's polling dying; and the payment→live histogram counts an order that went live."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from cli.run import running
from tests.e2e.test_provisioning_e2e import drive_order_to_live
from tests.standins.stack import Stack
from tests.webhooks.test_health_and_metrics import sample


async def _readyz(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status, await resp.json()


async def _until_not_ready(port: int, part: str, within_s: float) -> tuple[float, dict]:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        status, body = await _readyz(port)
        if status == 503:
            assert body[part] != "ok", body
            return time.monotonic() - started, body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz still 200 {within_s}s after {part} died")


async def test_readyz_turns_503_within_seconds_of_the_worker_loop_dying(stack: Stack) -> None:
    async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
        status, body = await _readyz(app.web_port)
        assert status == 200 and body == {"status": "ok", "database": "ok", "bot": "ok", "worker": "ok"}
        assert (await _readyz(app.ops_port))[0] == 200  # the private ops port says the same
        app.worker_task.cancel()
        took, body = await _until_not_ready(app.web_port, "worker", within_s=5)
        assert body["worker"] == "stopped" and body["bot"] == "ok" and took < 5


async def test_readyz_turns_503_within_seconds_of_bot_polling_dying(stack: Stack) -> None:
    async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
        assert (await _readyz(app.web_port))[0] == 200
        app.bot.polling.cancel()
        took, body = await _until_not_ready(app.ops_port, "bot", within_s=5)
        assert body["bot"].startswith("stopped") and body["worker"] == "ok"


async def test_readyz_turns_503_when_the_worker_loop_hangs(stack: Stack, monkeypatch) -> None:
    async with running(
        stack.settings.model_copy(update={"worker_heartbeat_limit_s": 1.0}),
        open_db=False,
        options=stack.runtime_options(),
    ) as app:
        assert (await _readyz(app.web_port))[0] == 200
        hang = asyncio.Event()

        async def claim_that_hangs(*args, **kwargs):
            await hang.wait()  # a claim stuck on a dead connection

        monkeypatch.setattr(app.runtime.queue, "claim", claim_that_hangs)
        try:
            took, body = await _until_not_ready(app.web_port, "worker", within_s=6)
            assert body["worker"].startswith("stalled: last heartbeat")
        finally:
            hang.set()


async def test_the_payment_to_live_histogram_counts_an_order_that_went_live(stack: Stack) -> None:
    customer = stack.customer(930_001, "Ann")
    async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{app.ops_port}/metrics") as resp:
                before = await resp.text()
            await drive_order_to_live(stack, customer, app.web_port)
            async with http.get(f"http://127.0.0.1:{app.ops_port}/metrics") as resp:
                after = await resp.text()
    count = "meetmatt_payment_to_live_seconds_count"
    assert sample(after, count) - sample(before, count) == 1
    assert sample(after, "meetmatt_orders", status="active") == 1
    assert sample(after, "process_cpu_seconds_total") > 0
