"""Delivering stored admin alerts (the `deliver_alert` job): admin chat, e-mail, JSON webhook.

- Admin chat: ADMIN_TELEGRAM_CHAT_ID through the `Messenger` passed in (the composition root's, over
  the bot of ADMIN_TELEGRAM_BOT_TOKEN, else the main BOT_TOKEN: `admin_bot_token`).
- E-mail over SMTP (aiosmtplib): the fallback when the admin chat cannot be reached, and always for
  CRITICAL alerts.
- ALERT_WEBHOOK_URL, when set: a JSON POST of every alert.

Each channel that succeeded is recorded in `Alert.delivered_via`, so a retried job never sends
twice through a channel that already worked; `delivered_at` is set once the admins were reached.
The job fails (and is retried with backoff) while a required channel is still missing.
Texts are redacted again before leaving, in case a secret became known after the alert was stored.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiohttp
from pydantic import SecretStr

from config import Settings, secret_value
from models import Alert, AlertSeverity
from services.infra.logging_setup import redact, secrets
from services.jobs.queue import utcnow
from services.notifications.customers import Messenger

log = logging.getLogger(__name__)

TELEGRAM, EMAIL, WEBHOOK = "telegram", "email", "webhook"
TELEGRAM_TEXT_LIMIT = 3800  # the escaped body; leaves room for the header within Telegram's 4096
_ICON = {AlertSeverity.INFO: "ℹ️", AlertSeverity.WARNING: "⚠️", AlertSeverity.CRITICAL: "🚨"}


class AlertDeliveryError(RuntimeError):
    """A required channel failed; the job retries (channels that worked are not repeated)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 20.0

    def __repr__(self) -> str:  # never print the password
        return f"SmtpConfig({self.host}:{self.port}, to={','.join(self.recipients)})"


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:300]


class AlertDelivery:
    """Sends one stored alert through the configured channels and records which ones worked."""

    def __init__(
        self,
        *,
        telegram: Messenger | None = None,
        chat_id: int | None = None,
        smtp: SmtpConfig | None = None,
        webhook_url: str | None = None,
        http_timeout: float = 15.0,
    ) -> None:
        self.telegram = telegram if chat_id is not None else None
        self.chat_id = chat_id
        self.smtp = smtp
        self.webhook_url = webhook_url
        self.http_timeout = http_timeout
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        messenger: Messenger | None = None,
    ) -> AlertDelivery:
        """Channels from ADMIN_TELEGRAM_CHAT_ID (reached through `messenger`: the composition root's
        Messenger over the admin bot, `admin_bot_token`), SMTP_*, ALERT_WEBHOOK_URL."""

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value else None

        smtp = None
        if settings.smtp_host and settings.smtp_from and settings.smtp_to:
            smtp = SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                recipients=tuple(r.strip() for r in settings.smtp_to.split(",") if r.strip()),
                user=settings.smtp_user or None,
                password=secret(settings.smtp_password),
                starttls=settings.smtp_starttls,
            )
        return cls(
            telegram=messenger,
            chat_id=settings.admin_telegram_chat_id,
            smtp=smtp,
            webhook_url=settings.alert_webhook_url,
        )

    async def close(self) -> None:
        """Close the webhook's HTTP session (the Messenger is the caller's)."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- rendering -------------------------------------------------------------------------------

    @staticmethod
    def _lines(alert: Alert) -> tuple[str, str]:
        text = redact(alert.text)
        repeated = f" (repeated {alert.count}×)" if alert.count > 1 else ""
        return text, repeated

    def telegram_text(self, alert: Alert) -> str:
        text, repeated = self._lines(alert)
        severity = AlertSeverity(alert.severity)
        body = html.escape(text)
        limit = len(text)
        while len(body) > TELEGRAM_TEXT_LIMIT:  # Telegram refuses messages over 4096 characters
            limit = limit * 3 // 4
            body = html.escape(text[:limit]) + "…"
        return (
            f"{_ICON[severity]} <b>{severity.value.upper()}</b> · {html.escape(alert.kind)}{repeated}\n"
            f"{body}\n<i>alert #{alert.id}</i>"
        )

    def email_message(self, alert: Alert) -> EmailMessage:
        assert self.smtp is not None
        text, repeated = self._lines(alert)
        severity = AlertSeverity(alert.severity).value.upper()
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(self.smtp.recipients)
        first_line = text.splitlines()[0] if text else ""
        message["Subject"] = f"[Meet Matt] {severity} {alert.kind}: {first_line[:80]}"
        message.set_content(
            f"{severity} alert #{alert.id} ({alert.kind}){repeated}\n"
            f"first seen: {alert.created_at:%Y-%m-%d %H:%M:%S} UTC\n\n{text}\n"
        )
        return message

    def webhook_body(self, alert: Alert) -> dict[str, Any]:
        return {
            "id": alert.id,
            "kind": alert.kind,
            "severity": AlertSeverity(alert.severity).value,
            "text": redact(alert.text),
            "count": alert.count,
            "created_at": alert.created_at.isoformat() if alert.created_at else None,
        }

    # --- channels --------------------------------------------------------------------------------

    async def _send_telegram(self, alert: Alert) -> None:
        assert self.telegram is not None and self.chat_id is not None
        await self.telegram.send(self.chat_id, self.telegram_text(alert))

    async def _send_email(self, alert: Alert) -> None:
        import aiosmtplib

        assert self.smtp is not None
        implicit_tls = self.smtp.port == 465
        await aiosmtplib.send(
            self.email_message(alert),
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.user,
            password=self.smtp.password,
            use_tls=implicit_tls,
            start_tls=False if implicit_tls else self.smtp.starttls,
            timeout=self.smtp.timeout,
        )

    async def _send_webhook(self, alert: Alert) -> None:
        assert self.webhook_url is not None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.http_timeout))
        async with self._http.post(self.webhook_url, json=self.webhook_body(alert)) as response:
            if response.status >= 300:
                raise AlertDeliveryError(f"webhook answered HTTP {response.status}")

    # --- one alert -------------------------------------------------------------------------------

    async def deliver(self, alert_id: int) -> list[str]:
        """Deliver one alert; returns every channel it has now gone through. Raises if one is missing."""
        alert = await Alert.get_or_none(id=alert_id)
        if alert is None:
            log.warning("alert to deliver no longer exists", extra={"alert_id": alert_id})
            return []
        done = [c for c in (alert.delivered_via or "").split(",") if c and c != "none"]
        failures: dict[str, str] = {}

        async def attempt(channel: str, send: Any) -> bool:
            if channel in done:
                return True
            try:
                await send(alert)
            except Exception as exc:  # noqa: BLE001 - every channel failure is reported, then retried
                failures[channel] = _describe(exc)
                log.warning(
                    "alert delivery failed",
                    extra={"alert_id": alert.id, "channel": channel, "error": failures[channel]},
                )
                return False
            done.append(channel)
            await self._record(alert, done)
            return True

        critical = alert.severity == AlertSeverity.CRITICAL
        reached_by_chat = self.telegram is not None and await attempt(TELEGRAM, self._send_telegram)
        if self.smtp is not None and (critical or not reached_by_chat):
            await attempt(EMAIL, self._send_email)
        if self.webhook_url:
            await attempt(WEBHOOK, self._send_webhook)

        if not (self.telegram or self.smtp or self.webhook_url):
            log.warning(
                "no alert channel is configured: the alert is only stored", extra={"alert_id": alert.id}
            )
            await self._record(alert, ["none"])
            return []
        missing = []
        if not ({TELEGRAM, EMAIL} & set(done)) and (self.telegram or self.smtp):
            missing.append("admin chat or e-mail")
        if critical and self.smtp is not None and EMAIL not in done:
            missing.append("e-mail (critical)")
        if self.webhook_url and WEBHOOK not in done:
            missing.append("webhook")
        if missing:
            detail = "; ".join(f"{c}: {e}" for c, e in failures.items())
            raise AlertDeliveryError(f"alert #{alert.id} not delivered via {', '.join(missing)} ({detail})")
        return done

    @staticmethod
    async def _record(alert: Alert, channels: list[str]) -> None:
        alert.delivered_via = ",".join(channels)[:64]
        fields = ["delivered_via", "updated_at"]
        if alert.delivered_at is None and channels != ["none"]:
            alert.delivered_at = utcnow()
            fields.append("delivered_at")
        await alert.save(update_fields=fields)


def admin_bot_token(settings: Settings) -> str | None:
    """The token the admin chat is written with: ADMIN_TELEGRAM_BOT_TOKEN, else BOT_TOKEN (None: no
    admin chat channel). It is redacted from logs from now on."""
    token = secret_value(settings.admin_telegram_bot_token) or secret_value(settings.bot_token)
    if token is None or settings.admin_telegram_chat_id is None:
        return None
    secrets.add(token)
    return token


async def handle_deliver_alert(delivery: AlertDelivery, payload: dict[str, Any]) -> list[str]:
    """The `deliver_alert` job: payload {"alert_id": n}."""
    return await delivery.deliver(int(payload["alert_id"]))
