"""Alert delivery over real sockets: a local Bot API stand-in (aiogram's real client), a real SMTP
server (aiosmtpd), a local JSON webhook; and alert merging in services.notifications.alerts.raise_alert."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from bot.messenger import AiogramMessenger
from cli.root import admin_messenger
from config import Settings
from models import Alert, AlertSeverity, Job
from services.jobs.kinds import DELIVER_ALERT
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alert_delivery import (
    AlertDelivery,
    AlertDeliveryError,
    SmtpConfig,
    handle_deliver_alert,
)
from services.notifications.alerts import raise_alert
from tests.standins import free_port
from tests.standins.botfather import fake_token

_ADMIN_MESSENGERS: list[AiogramMessenger] = []


def delivery_from(settings: Settings, **options: Any) -> AlertDelivery:
    """As the composition root builds it: the admin chat through the root's admin Messenger."""
    if "messenger" not in options:
        options["messenger"] = admin_messenger(settings)
        if options["messenger"] is not None:
            _ADMIN_MESSENGERS.append(options["messenger"])
    return AlertDelivery.from_settings(settings, **options)


@pytest.fixture(autouse=True)
async def _close_admin_bots() -> AsyncIterator[None]:
    """The root closes the admin bot's session; here, after each test."""
    yield
    while _ADMIN_MESSENGERS:
        await _ADMIN_MESSENGERS.pop().bot.session.close()


ADMIN_CHAT = -100123456


# --- stand-ins ------------------------------------------------------------------------------------


class SmtpInbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class HttpStandIn:
    """A local HTTP server playing the Bot API (`/bot<token>/sendMessage`) and a JSON webhook."""

    url: str = ""
    telegram_status: int = 200
    webhook_status: int = 200
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)

    async def bot_api(self, request: web.Request) -> web.Response:
        is_json = request.content_type == "application/json"
        data = await request.json() if is_json else dict(await request.post())
        self.tokens.append(request.match_info["token"])
        if self.telegram_status != 200:
            return web.json_response(
                {"ok": False, "error_code": self.telegram_status, "description": "Internal Server Error"},
                status=self.telegram_status,
            )
        self.sent.append(data)
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": len(self.sent),
                    "date": 0,
                    "text": data.get("text", ""),
                    "chat": {"id": int(data["chat_id"]), "type": "supergroup", "title": "admins"},
                },
            }
        )

    async def hook(self, request: web.Request) -> web.Response:
        if self.webhook_status != 200:
            return web.Response(status=self.webhook_status)
        self.hooks.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def http() -> AsyncIterator[HttpStandIn]:
    stand_in = HttpStandIn()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", stand_in.bot_api)
    app.router.add_post("/hook", stand_in.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stand_in.url = f"http://127.0.0.1:{port}"
    try:
        yield stand_in
    finally:
        await runner.cleanup()


def settings_for(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def admin_settings(http: HttpStandIn | None, smtp_port: int | None, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "admin_telegram_chat_id": ADMIN_CHAT,
        "admin_telegram_bot_token": fake_token(),
        "telegram_api_server": http.url if http else f"http://127.0.0.1:{free_port()}",
    }
    if smtp_port:
        values.update(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from="alerts@meetmatt.test",
            smtp_to="ops@meetmatt.test, oncall@meetmatt.test",
            smtp_starttls=False,
        )
    return settings_for(**values, **extra)


async def _alert(
    text: str = "Creator account #1 (…0001) is now banned",
    *,
    severity: AlertSeverity = AlertSeverity.WARNING,
    kind: str = "account_status",
) -> Alert:
    return await raise_alert(JobQueue("test"), kind, text, severity=severity)


# --- delivery -------------------------------------------------------------------------------------


async def test_admin_chat_delivery_through_the_bot_api_records_the_channel(
    db: str, http: HttpStandIn, smtp
) -> None:
    inbox, port = smtp
    settings = admin_settings(http, port)
    delivery = delivery_from(settings)
    alert = await _alert("Pool <warning> & co")
    try:
        assert await delivery.deliver(alert.id) == ["telegram"]
    finally:
        await delivery.close()
    assert http.tokens == [settings.admin_telegram_bot_token.get_secret_value()]
    [sent] = http.sent
    assert int(sent["chat_id"]) == ADMIN_CHAT and sent["parse_mode"] == "HTML"
    assert "Pool &lt;warning&gt; &amp; co" in sent["text"] and "<b>WARNING</b>" in sent["text"]
    await alert.refresh_from_db()
    assert alert.delivered_via == "telegram" and alert.delivered_at is not None
    assert inbox.messages == []  # a warning that reached the chat needs no e-mail


async def test_main_bot_token_is_used_when_no_admin_bot_token_is_set(db: str, http: HttpStandIn) -> None:
    token = fake_token()
    settings = settings_for(admin_telegram_chat_id=ADMIN_CHAT, bot_token=token, telegram_api_server=http.url)
    delivery = delivery_from(settings)
    try:
        await delivery.deliver((await _alert()).id)
    finally:
        await delivery.close()
    assert http.tokens == [token]


async def test_bot_api_answering_500_falls_back_to_email(db: str, http: HttpStandIn, smtp) -> None:
    inbox, port = smtp
    http.telegram_status = 500
    delivery = delivery_from(admin_settings(http, port))
    alert = await _alert("Creator account #2 (…0002) is now cooling_down until 2026-01-01 00:02:00 UTC")
    try:
        assert await delivery.deliver(alert.id) == ["email"]
    finally:
        await delivery.close()
    assert len(http.tokens) == 1 and http.sent == []
    [mail] = inbox.messages
    assert inbox.envelopes == [("alerts@meetmatt.test", ["ops@meetmatt.test", "oncall@meetmatt.test"])]
    assert str(mail["Subject"]).strip().startswith("[Meet Matt] WARNING account_status: Creator account #2")
    assert "cooling_down until 2026-01-01" in mail.get_content()
    await alert.refresh_from_db()
    assert alert.delivered_via == "email" and alert.delivered_at is not None


async def test_bot_api_on_a_closed_port_falls_back_to_email(db: str, smtp) -> None:
    inbox, port = smtp
    delivery = delivery_from(admin_settings(None, port))
    try:
        assert await delivery.deliver((await _alert()).id) == ["email"]
    finally:
        await delivery.close()
    assert len(inbox.messages) == 1


async def test_critical_alerts_go_to_the_chat_and_always_by_email(db: str, http: HttpStandIn, smtp) -> None:
    inbox, port = smtp
    delivery = delivery_from(admin_settings(http, port))
    alert = await _alert(
        "No creator account can create bots", severity=AlertSeverity.CRITICAL, kind="pool_exhausted"
    )
    try:
        assert await delivery.deliver(alert.id) == ["telegram", "email"]
    finally:
        await delivery.close()
    assert len(http.sent) == 1 and len(inbox.messages) == 1
    assert str(inbox.messages[0]["Subject"]).strip().startswith("[Meet Matt] CRITICAL pool_exhausted")


async def test_webhook_gets_json_and_a_retry_never_resends_a_channel_that_worked(
    db: str, http: HttpStandIn
) -> None:
    settings = admin_settings(http, None, alert_webhook_url=f"{http.url}/hook")
    http.webhook_status = 503
    delivery = delivery_from(settings)
    alert = await _alert()
    try:
        with pytest.raises(AlertDeliveryError, match="webhook"):
            await delivery.deliver(alert.id)
        await alert.refresh_from_db()
        assert alert.delivered_via == "telegram"
        http.webhook_status = 200
        assert await handle_deliver_alert(delivery, {"alert_id": alert.id}) == ["telegram", "webhook"]
    finally:
        await delivery.close()
    assert len(http.sent) == 1  # the chat got it once
    [body] = http.hooks
    assert body["id"] == alert.id and body["kind"] == "account_status" and body["severity"] == "warning"
    assert body["text"] == alert.text and body["count"] == 1


async def test_every_channel_failing_leaves_the_alert_undelivered_and_the_job_retries(db: str) -> None:
    queue = JobQueue("test")
    alert = await _alert()
    delivery = delivery_from(admin_settings(None, free_port()))  # both ports closed
    claimed = await queue.claim([DELIVER_ALERT])
    try:
        with pytest.raises(AlertDeliveryError) as caught:
            await handle_deliver_alert(delivery, claimed.job.payload)
    finally:
        await delivery.close()
    assert "admin chat or e-mail" in str(caught.value)
    await queue.fail(claimed, str(caught.value))
    job = await Job.get(id=claimed.id)
    assert job.status == "pending" and job.run_after > utcnow()
    await alert.refresh_from_db()
    assert alert.delivered_via is None and alert.delivered_at is None


async def test_the_full_path_from_raise_alert_to_the_admin_chat_hides_secrets(
    db: str, http: HttpStandIn
) -> None:
    queue = JobQueue("test")
    leaked = fake_token()
    await raise_alert(queue, "provision_failed", f"order 7: BotFather gave {leaked} then failed")
    claimed = await queue.claim([DELIVER_ALERT])
    delivery = delivery_from(admin_settings(http, None))
    try:
        await handle_deliver_alert(delivery, claimed.job.payload)
        await queue.complete(claimed)
    finally:
        await delivery.close()
    assert leaked not in http.sent[0]["text"] and "[REDACTED]" in http.sent[0]["text"]
    assert leaked not in (await Alert.get(id=claimed.job.payload["alert_id"])).text


async def test_with_no_channel_configured_the_alert_is_stored_only(db: str) -> None:
    delivery = delivery_from(settings_for())
    alert = await _alert()
    assert await delivery.deliver(alert.id) == []
    await alert.refresh_from_db()
    assert alert.delivered_via == "none" and alert.delivered_at is None


def test_smtp_config_never_shows_its_password() -> None:
    config = SmtpConfig("mail.test", 587, "a@b", ("c@d",), user="u", password="hunter2-secret")
    assert "hunter2" not in repr(config)


# --- merging (services.notifications.alerts.raise_alert) -----


async def test_identical_alerts_within_the_window_merge_into_one_delivery(db: str, http: HttpStandIn) -> None:
    queue = JobQueue("test")
    for _ in range(3):
        await raise_alert(
            queue, "pool_exhausted", "No creator account can create bots", dedup_key="pool:exhausted"
        )
    other = await raise_alert(queue, "account_status", "Creator account #3 is now banned")
    assert await Alert.filter(kind="pool_exhausted").count() == 1
    merged = await Alert.get(kind="pool_exhausted")
    assert merged.count == 3 and other.count == 1
    payloads = await Job.filter(kind=DELIVER_ALERT).order_by("id").values_list("payload", flat=True)
    assert [p["alert_id"] for p in payloads] == [merged.id, other.id]

    delivery = delivery_from(admin_settings(http, None))
    try:
        await delivery.deliver(merged.id)
    finally:
        await delivery.close()
    assert "(repeated 3×)" in http.sent[0]["text"]


async def test_the_same_alert_after_the_merge_window_is_a_new_alert(db: str) -> None:
    queue = JobQueue("test")
    first = await raise_alert(queue, "pool_exhausted", "No creator account", dedup_key="pool:exhausted")
    await Alert.filter(id=first.id).update(created_at=utcnow() - timedelta(minutes=11))
    second = await raise_alert(queue, "pool_exhausted", "No creator account", dedup_key="pool:exhausted")
    assert second.id != first.id
    assert await Job.filter(kind=DELIVER_ALERT).count() == 2
    assert json.loads(json.dumps((await Job.filter(kind=DELIVER_ALERT).order_by("-id").first()).payload)) == {
        "alert_id": second.id
    }


async def test_a_very_long_alert_is_cut_to_fit_one_telegram_message(db: str, http: HttpStandIn) -> None:
    alert = await _alert("<&>" * 3000)
    delivery = delivery_from(admin_settings(http, None))
    try:
        await delivery.deliver(alert.id)
    finally:
        await delivery.close()
    text = http.sent[0]["text"]
    assert len(text) <= 4096 and "…" in text and "&lt;&amp;&gt;" in text
    assert not text.split("…")[0].endswith("&")  # never half an HTML entity


async def test_close_leaves_a_messenger_passed_in_alone(db: str) -> None:
    class Recording:
        def __init__(self) -> None:
            self.sent: list[tuple[int, str]] = []
            self.closed = False

        async def send(self, chat_id: int, text: str, buttons=None) -> int:
            self.sent.append((chat_id, text))
            return 1

        async def edit(self, chat_id: int, message_id: int, text: str, buttons=None) -> None:
            raise AssertionError("alerts are never edited")

        async def close(self) -> None:
            self.closed = True

    messenger = Recording()
    settings = settings_for(admin_telegram_chat_id=ADMIN_CHAT)
    delivery = delivery_from(settings, messenger=messenger)
    assert await delivery.deliver((await _alert()).id) == ["telegram"]
    await delivery.close()
    assert messenger.sent[0][0] == ADMIN_CHAT and messenger.closed is False
