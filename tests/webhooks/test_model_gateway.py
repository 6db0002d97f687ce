"""The model gateway, end to end over real sockets: a real aiohttp client (the agent), the real web
app, and the Kimi stand-in as Moonshot. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.i18n import I18N
from models import Alert, AlertSeverity, Customer, Instance, InstanceStatus, Job, ModelUsage, Order
from services.jobs.queue import utcnow
from services.model_gateway.keys import issue_instance_key, revoke_instance_keys
from services.model_gateway.quota import set_override
from services.notifications.customer_text import decode
from tests.standins.kimi import KimiStandIn, Reply, usage_for
from tests.standins.openai_client import stream_completion
from tests.webhooks.conftest import serve, webhook_settings
from webhooks.model_gateway import MODEL_GATEWAY_KEY
from webhooks.model_gateway_stream import SecretScrubber

PLATFORM_KEY = "sk-test-platform-kimi-key-0123456789"
GW = "/model/v1"


@dataclass
class Gateway:
    url: str  # the agent's baseUrl: http://127.0.0.1:<port>/model/v1
    http: aiohttp.ClientSession
    kimi: KimiStandIn
    instance: Instance
    key: str
    app: Any

    async def flush(self) -> None:
        """Write the usage the gateway holds in memory (it does every half second on its own)."""
        await self.app[MODEL_GATEWAY_KEY].usage.flush()

    async def chat(
        self, text: str = "hello", *, key: str | None = None, stream: bool = False, **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        body = {
            "model": "kimi-k2.5",
            "messages": [{"role": "user", "content": text}],
            "stream": stream,
            **extra,
        }
        async with self.http.post(
            f"{self.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key or self.key}"}
        ) as resp:
            raw = await resp.read()
            payload = json.loads(raw) if resp.content_type == "application/json" else {"raw": raw}
            return resp.status, payload


@pytest.fixture
async def gateway(db: str) -> AsyncIterator[Gateway]:
    async with KimiStandIn(api_key=PLATFORM_KEY) as kimi:
        settings = webhook_settings(
            moonshot_api_key=PLATFORM_KEY, model_upstream_base_url=kimi.base_url, metrics_on_web_port=True
        )
        customer = await Customer.create(telegram_id=5151, full_name="Ann")
        order = await Order.create(
            customer=customer, package="starter", bot_name="Ann's helper", paid_at=utcnow()
        )
        instance = await Instance.create(
            order=order,
            customer=customer,
            status=InstanceStatus.ACTIVE,
            bot_username="ann_helper_bot",
            owner_telegram_id=5151,
        )
        key = await issue_instance_key(instance.id)
        async for server in serve(settings):
            yield Gateway(f"{server.url}{GW}", server.http, kimi, instance, key, server.app)


def _stand_in_body(kimi: KimiStandIn) -> dict[str, Any]:
    return kimi.chat_requests()[-1].body


async def test_an_instance_key_is_answered_with_the_platform_key_sent_only_upstream(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    status, answer = await gateway.chat("what is 2+2?")
    assert status == 200
    assert answer["choices"][0]["message"]["content"] == "You said: what is 2+2?"
    seen = gateway.kimi.chat_requests()
    assert [r.authorization for r in seen] == [f"Bearer {PLATFORM_KEY}"]
    assert PLATFORM_KEY not in json.dumps(answer)
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert PLATFORM_KEY not in logged and gateway.key not in logged


async def test_the_usage_moonshot_reports_is_recorded_for_the_instance_and_day(gateway):
    await gateway.chat("one")
    await gateway.chat("two", stream=True, stream_options={"include_usage": True})
    expected = [
        usage_for(r.body, Reply(text=f"You said: {r.last_user_text()}")) for r in gateway.kimi.chat_requests()
    ]
    await gateway.flush()
    row = await ModelUsage.get(instance_id=gateway.instance.id)
    assert row.day == utcnow().date()
    assert row.requests == 2
    assert row.prompt_tokens == sum(u["prompt_tokens"] for u in expected)
    assert row.completion_tokens == sum(u["completion_tokens"] for u in expected)


async def test_a_stream_that_does_not_ask_for_usage_is_metered_anyway(gateway):
    await gateway.chat("no usage please", stream=True, stream_options={"include_usage": False})
    assert _stand_in_body(gateway.kimi)["stream_options"] == {"include_usage": True}
    await gateway.chat("odd options", stream=True, stream_options="none")
    assert _stand_in_body(gateway.kimi)["stream_options"] == {"include_usage": True}
    await gateway.chat("as openclaw sends it", stream=True, stream_options={"include_usage": True})
    assert _stand_in_body(gateway.kimi)["stream_options"] == {"include_usage": True}
    await gateway.flush()
    row = await ModelUsage.get(instance_id=gateway.instance.id)
    assert row.requests == 3 and row.prompt_tokens > 0


async def test_cached_tokens_are_recorded_from_moonshots_usage(gateway):
    gateway.kimi.responder = lambda body: Reply(text="ok", cached_tokens=3)
    await gateway.chat("cache me", stream=True)
    await gateway.chat("cache me too")
    await gateway.flush()
    row = await ModelUsage.get(instance_id=gateway.instance.id)
    assert row.cached_tokens == 6


@pytest.mark.parametrize("key", ["", "mm_live_" + "x" * 43, PLATFORM_KEY, "sk-anything"])
async def test_an_unknown_key_or_the_platform_key_itself_gets_401_and_nothing_upstream(gateway, key):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with gateway.http.post(
        f"{gateway.url}/chat/completions", json={"messages": []}, headers=headers
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "invalid_api_key"
    assert gateway.kimi.chat_requests() == []


async def test_a_revoked_key_gets_401_on_the_very_next_request(gateway):
    assert (await gateway.chat("before"))[0] == 200
    await revoke_instance_keys(gateway.instance.id, "terminated")
    status, answer = await gateway.chat("after")
    assert status == 401 and answer["error"]["type"] == "invalid_authentication_error"
    assert len(gateway.kimi.chat_requests()) == 1


async def test_a_reissued_key_replaces_the_old_one(gateway):
    new_key = await issue_instance_key(gateway.instance.id, reason="reprovisioned")
    assert (await gateway.chat("old"))[0] == 401
    assert (await gateway.chat("new", key=new_key))[0] == 200


async def test_going_over_the_monthly_quota_gives_a_clear_error_and_one_customer_message(gateway):
    await set_override(gateway.instance.id, tokens_per_month=10, requests_per_minute=None)
    assert (await gateway.chat("the first answer uses more than ten tokens"))[0] == 200
    refusals = [await gateway.chat("again, before its usage is written")]
    await gateway.flush()
    refusals += [await gateway.chat(f"again {n}") for n in range(2)]
    for status, answer in refusals:
        assert status == 429
        assert answer["error"]["code"] == "monthly_limit_reached"
        assert "Monthly usage limit reached" in answer["error"]["message"]
        assert "renew or upgrade" in answer["error"]["message"]
    assert len(gateway.kimi.chat_requests()) == 1  # refused requests never reach the model
    jobs = await Job.filter(kind="notify_customer")
    assert len(jobs) == 1
    payload = jobs[0].payload
    assert payload["chat_id"] == 5151 and "@ann_helper_bot" in decode(payload["text"]).english()
    with I18N.use_locale("ru"):  # the bot renders it in the customer's language
        assert "@ann_helper_bot израсходовал лимит модели" in decode(payload["text"]).render(I18N.gettext)
    [(label, target)] = payload["buttons"]
    assert (decode(label).english(), target) == ("🔁 Renew or upgrade", f"start:renew-{gateway.instance.id}")


async def test_requests_per_minute_over_the_plan_get_429_with_retry_after(gateway):
    await set_override(gateway.instance.id, tokens_per_month=None, requests_per_minute=2)
    assert [(await gateway.chat(str(n)))[0] for n in range(2)] == [200, 200]
    async with gateway.http.post(
        f"{gateway.url}/chat/completions",
        json={"messages": []},
        headers={"Authorization": f"Bearer {gateway.key}"},
    ) as resp:
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert "2 model requests per minute" in (await resp.json())["error"]["message"]
    assert await Job.filter(kind="notify_customer").count() == 0


async def test_a_30_chunk_stream_reaches_the_agent_chunk_by_chunk(gateway):
    gateway.kimi.responder = lambda body: Reply(text="x" * 300, chunks=30, chunk_delay=0.03)
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "stream"}], "stream": True}
    arrivals: list[tuple[float, bytes]] = []
    first_byte_before_upstream_finished = None
    async with gateway.http.post(
        f"{gateway.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {gateway.key}"}
    ) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        async for data in resp.content.iter_any():
            if not arrivals:
                first_byte_before_upstream_finished = gateway.kimi.chat_requests()[-1].finished_at is None
            arrivals.append((time.monotonic(), data))
    assert first_byte_before_upstream_finished is True
    events = b"".join(d for _, d in arrivals).split(b"\n\n")
    contents = [
        json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events if e.startswith(b"data: {")
    ]
    assert contents.count("x" * 10) == 30
    assert b"data: [DONE]" in events
    # chunk by chunk: the agent got the answer in many reads spread over the upstream's ~0.9 s
    assert len(arrivals) >= 20
    assert arrivals[-1][0] - arrivals[0][0] >= 0.6


@pytest.mark.parametrize("status", [400, 429, 500, 503])
async def test_an_upstream_error_keeps_its_status_and_body(gateway, status):
    gateway.kimi.responder = lambda body: Reply(status=status, error_message=f"upstream said {status}")
    for stream in (False, True):
        got, answer = await gateway.chat("fail", stream=stream)
        assert got == status
        assert answer["error"]["message"] == f"upstream said {status}"


async def test_an_unreachable_upstream_is_a_502_naming_no_secret(gateway, db):
    await gateway.kimi.close()
    status, answer = await gateway.chat("anyone there?")
    assert status == 502 and answer["error"]["type"] == "upstream_error"
    assert PLATFORM_KEY not in json.dumps(answer)
    await gateway.flush()
    assert (await ModelUsage.get(instance_id=gateway.instance.id)).requests == 1


async def test_an_agent_that_disconnects_stops_the_upstream_request(gateway):
    gateway.kimi.responder = lambda body: Reply(text="y" * 300, chunks=30, chunk_delay=0.1)
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "long"}], "stream": True}
    async with aiohttp.ClientSession() as own:
        async with own.post(
            f"{gateway.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {gateway.key}"}
        ) as resp:
            await resp.content.readany()
            resp.close()  # the agent goes away after the first chunk
    upstream = gateway.kimi.chat_requests()[-1]
    for _ in range(50):
        if upstream.disconnected:
            break
        await asyncio.sleep(0.05)
    assert upstream.disconnected and upstream.finished_at is None
    for _ in range(50):  # the request still counts (written by the gateway's own flush)
        if await ModelUsage.filter(instance_id=gateway.instance.id).exists():
            break
        await asyncio.sleep(0.05)
    assert (await ModelUsage.get(instance_id=gateway.instance.id)).requests == 1


async def test_a_disconnect_before_the_first_byte_also_stops_the_upstream_request(gateway):
    gateway.kimi.responder = lambda body: Reply(text="thought long", delay=3.0)
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.4)) as own:
        with pytest.raises(TimeoutError):
            async with own.post(
                f"{gateway.url}/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {gateway.key}"},
            ) as resp:
                await resp.read()
    upstream = gateway.kimi.chat_requests()[-1]
    for _ in range(40):
        if upstream.disconnected:
            break
        await asyncio.sleep(0.05)
    assert upstream.disconnected and upstream.finished_at is None


async def test_the_models_route_answers_the_upstreams_list_to_an_instance_key(gateway):
    async with gateway.http.get(
        f"{gateway.url}/models", headers={"Authorization": f"Bearer {gateway.key}"}
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"][0]["id"] == "kimi-k2.5"
    async with gateway.http.get(f"{gateway.url}/models") as resp:
        assert resp.status == 401


async def test_metrics_show_requests_tokens_and_upstream_latency(gateway):
    await gateway.chat("count me")
    base = gateway.url.removesuffix(GW)
    async with gateway.http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    assert 'meetmatt_model_gateway_requests_total{outcome="ok"}' in text
    assert 'meetmatt_model_gateway_tokens_total{kind="prompt"}' in text
    assert 'meetmatt_model_gateway_upstream_seconds_count{stage="first_byte"}' in text
    assert "meetmatt_webhook_events_total" in text  # the existing metrics are still there


async def test_a_body_that_is_not_json_is_refused_before_the_model(gateway):
    async with gateway.http.post(
        f"{gateway.url}/chat/completions",
        data=b"not json",
        headers={"Authorization": f"Bearer {gateway.key}"},
    ) as resp:
        assert resp.status == 400
    assert gateway.kimi.chat_requests() == []


# --- the agent's real model client -------------------------------------------------------------------


async def test_the_agents_openai_sdk_streams_a_30_chunk_answer_through_the_gateway_chunk_by_chunk(gateway):
    gateway.kimi.responder = lambda body: Reply(text="k" * 300, chunks=30, chunk_delay=0.03)
    lines = await stream_completion(gateway.url, gateway.key, prompt="count to thirty")
    contents = [line["content"] for line in lines if line.get("content")]
    assert contents == ["k" * 10] * 30
    arrivals = [line["at"] for line in lines if line.get("content")]
    assert arrivals[-1] - arrivals[0] >= 600  # milliseconds: read as they came, not at the end
    assert any(line.get("usage") for line in lines)
    assert [r.authorization for r in gateway.kimi.chat_requests()] == [f"Bearer {PLATFORM_KEY}"]
    assert PLATFORM_KEY not in json.dumps(lines)


async def test_the_agents_openai_sdk_gets_401_for_a_revoked_key_and_the_quota_message(gateway):
    await set_override(gateway.instance.id, tokens_per_month=1, requests_per_minute=None)
    assert not any("error" in line for line in await stream_completion(gateway.url, gateway.key))
    [over] = await stream_completion(gateway.url, gateway.key)
    assert over["error"]["status"] == 429 and "Monthly usage limit reached" in over["error"]["message"]
    await revoke_instance_keys(gateway.instance.id, "terminated")
    [refused] = await stream_completion(gateway.url, gateway.key)
    assert refused["error"]["status"] == 401


async def test_an_instance_key_opens_no_other_route(gateway):
    base = gateway.url.removesuffix(GW)
    headers = {"Authorization": f"Bearer {gateway.key}"}
    async with gateway.http.post(
        f"{base}/webhooks/stripe", json={"type": "checkout.session.completed"}, headers=headers
    ) as resp:
        assert resp.status == 400  # still needs Stripe's signature
    async with gateway.http.post(f"{base}/model/v1/completions", json={}, headers=headers) as resp:
        assert resp.status in (404, 405)
    async with gateway.http.post(f"{base}/model/v1/../../webhooks/stripe", json={}, headers=headers) as resp:
        assert resp.status in (400, 404)
    assert gateway.kimi.requests == []


async def test_a_long_context_over_the_stripe_body_limit_goes_through(gateway):
    long_context = "word " * 600_000  # 3 MB: agents send their whole conversation and tool output
    status, answer = await gateway.chat(long_context)
    assert status == 200 and answer["choices"][0]["message"]["content"].startswith("You said: word")
    assert len(gateway.kimi.chat_requests()[-1].body["messages"][0]["content"]) == len(long_context)


async def test_a_body_over_the_gateways_limit_is_refused_with_413(db):
    async with KimiStandIn(api_key=PLATFORM_KEY) as kimi:
        settings = webhook_settings(
            moonshot_api_key=PLATFORM_KEY,
            model_upstream_base_url=kimi.base_url,
            model_gateway_max_body_mb=0.5,
        )
        instance = await Instance.create(status=InstanceStatus.ACTIVE)
        key = await issue_instance_key(instance.id)
        async for server in serve(settings):
            body = {"messages": [{"role": "user", "content": "x" * 600_000}]}
            async with server.http.post(
                f"{server.url}{GW}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            ) as resp:
                assert resp.status == 413
        assert kimi.requests == []


async def test_the_upstream_refusing_the_platform_key_alerts_the_admins_once(gateway):
    gateway.kimi.api_key = "sk-rotated-elsewhere"  # Moonshot no longer accepts our key
    for _ in range(3):
        status, answer = await gateway.chat("anyone?")
        assert status == 401 and answer["error"]["message"] == "Invalid Authentication"
    [alert] = await Alert.filter(kind="model_upstream_auth")
    assert alert.severity == AlertSeverity.CRITICAL and "HTTP 401" in alert.text
    assert PLATFORM_KEY not in alert.text


async def test_an_unset_platform_key_answers_503_and_alerts_the_admins(db):
    async with KimiStandIn(api_key=PLATFORM_KEY) as kimi:
        settings = webhook_settings(model_upstream_base_url=kimi.base_url)  # no MOONSHOT_API_KEY
        instance = await Instance.create(status=InstanceStatus.ACTIVE)
        key = await issue_instance_key(instance.id)
        async for server in serve(settings):
            async with server.http.post(
                f"{server.url}{GW}/chat/completions",
                json={"messages": []},
                headers={"Authorization": f"Bearer {key}"},
            ) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "not_configured"
        assert kimi.requests == []
    assert await Alert.filter(kind="model_gateway_not_configured").count() == 1


async def test_an_upstream_429_keeps_its_retry_after(gateway):
    gateway.kimi.responder = lambda body: Reply(status=429, error_message="slow down", retry_after=7)
    async with gateway.http.post(
        f"{gateway.url}/chat/completions",
        json={"messages": []},
        headers={"Authorization": f"Bearer {gateway.key}"},
    ) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "7"
        assert (await resp.json())["error"]["message"] == "slow down"


async def test_an_upstream_stream_echoing_the_platform_key_reaches_the_agent_redacted(gateway):
    # an echoing proxy (or a debugging upstream) puts the Authorization header back in an event
    gateway.kimi.responder = lambda body: Reply(text=f"you sent Bearer {PLATFORM_KEY} to me", chunks=1)
    status, answer = await gateway.chat("echo", stream=True)
    assert status == 200
    assert PLATFORM_KEY.encode() not in answer["raw"]
    assert b"Bearer [redacted] to me" in answer["raw"] and b"data: [DONE]" in answer["raw"]


def test_the_secret_scrubber_redacts_a_key_cut_at_any_point_and_holds_back_no_whole_event():
    stream = f'data: {{"content": "k={PLATFORM_KEY}"}}\n\ndata: [DONE]\n\n'.encode()
    for cut in range(len(stream) + 1):
        scrubber = SecretScrubber(PLATFORM_KEY)
        first = scrubber.feed(stream[:cut])
        out = first + scrubber.feed(stream[cut:]) + scrubber.close()
        assert out == stream.replace(PLATFORM_KEY.encode(), b"[redacted]"), cut
        # a piece that ends an event is passed on whole, at once
        if stream[:cut].endswith(b"\n"):
            assert first == stream[:cut].replace(PLATFORM_KEY.encode(), b"[redacted]")
