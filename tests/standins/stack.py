"""Every local stand-in of DESIGN section 9 at once, wired through the settings a user would set:
moto (AWS_ENDPOINT_URL), telegram-test-api (TELEGRAM_API_SERVER, and AGENT_TELEGRAM_API_ROOT for
the agent's bot), the Stripe stand-in (STRIPE_API_BASE, and signed webhook events), the Kimi
stand-in behind Meet Matt's own model gateway (MODEL_UPSTREAM_BASE_URL, accepting only
MOONSHOT_API_KEY; agents call PUBLIC_BASE_URL, the web server of the test, with their instance
key), an SSH server playing the customer's
instance (SSH_HOST_OVERRIDE/SSH_PORT) and the scripted BotFather behind Telethon's client surface.

`real_openclaw=True` makes the instance run the REAL pinned OpenClaw gateway (tests/standins/
openclaw): activation starts it with the files it wrote, and health checks ask it.

Used by the end-to-end tests and by `python main.py sandbox`.

    async with standin_stack(database_url, encryption_key, tmp_dir) as stack:
        async with running(stack.settings, options=stack.runtime_options()) as app:
            ...
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioboto3
import aiohttp
import asyncssh
from moto.server import ThreadedMotoServer

from cli.root import Options
from config import Settings
from models import AccountStatus, Order, TelegramAccount
from services.cloud.host_keys import HostKeyPair, generate_host_key, load_or_create_client_key
from tests.standins import free_port
from tests.standins.botfather import ScriptedTelegram, fake_string_session
from tests.standins.kimi import KimiStandIn
from tests.standins.openclaw.instance import RealInstance
from tests.standins.ssh_server import SshInstanceStandIn
from tests.standins.stripe_api import StripeStandIn, stripe_signature
from tests.standins.telegram import TelegramTestApi, TelegramTestUser

ADMIN_ID = 700_101
ADMIN_CHAT_ID = -100_777
CREATOR_PHONES = ("+15550007001", "+15550007002")


def bot_token_shaped() -> str:
    """A value shaped like a bot token, made at run time (never a real one in the repo)."""
    return f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(27)}"


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0, what: str = "a condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def moto_reset(base_url: str) -> None:
    request = urllib.request.Request(f"{base_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local stand-in
        answer.read()


@dataclass
class Stack:
    settings: Settings
    telegram: TelegramTestApi
    stripe: StripeStandIn
    ssh: SshInstanceStandIn
    botfather: ScriptedTelegram
    host_key: HostKeyPair
    moto_url: str
    kimi: KimiStandIn
    secrets_used: dict[str, str] = field(default_factory=dict)

    def runtime_options(self, **overrides: Any) -> Options:
        """What the composition root (`running()`, `open_root()`) needs to talk to these stand-ins."""
        options: dict[str, Any] = {
            "client_factory": self.botfather.client_for,
            "host_key_factory": lambda: self.host_key,
            "poll_interval_s": 0.1,
            "sweep_scale": 0.05,
            "import_env": False,
        }
        options.update(overrides)
        return Options(**options)

    @property
    def bot_token(self) -> str:
        return self.settings.bot_token.get_secret_value()  # type: ignore[union-attr]

    def customer(self, user_id: int, first_name: str = "Alice") -> TelegramTestUser:
        return TelegramTestUser(
            self.telegram.base_url,
            self.bot_token,
            user_id=user_id,
            first_name=first_name,
            username=first_name.lower(),
        )

    def admin_chat(self) -> TelegramTestUser:
        return TelegramTestUser(
            self.telegram.base_url, self.bot_token, user_id=ADMIN_ID, first_name="Ada", chat_id=ADMIN_CHAT_ID
        )

    def on_bot(self, token: str, user_id: int, first_name: str = "Alice") -> TelegramTestUser:
        """The customer talking to their NEW bot."""
        return TelegramTestUser(
            self.telegram.base_url, token, user_id=user_id, first_name=first_name, username=first_name.lower()
        )

    async def pay(self, order: Order, web_port: int, *, event_id: str | None = None) -> int:
        """The customer pays: Stripe captures the session (so a refund finds the payment) and calls
        the webhook with checkout.session.completed, signed with the webhook secret."""
        session = self.stripe.complete_session(order.stripe_session_id or "")
        event = {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27",
            "data": {"object": session},
        }
        body = json.dumps(event).encode()
        secret = self.settings.stripe_webhook_secret.get_secret_value()  # type: ignore[union-attr]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{web_port}/webhooks/stripe",
                data=body,
                headers={
                    "Stripe-Signature": stripe_signature(body, secret),
                    "Content-Type": "application/json",
                },
            ) as response,
        ):
            return response.status

    async def live_instances(self) -> list[dict[str, Any]]:
        """Every instance moto has not terminated (pending, running, stopping, stopped)."""
        session = aioboto3.Session(
            aws_access_key_id=self.settings.aws_access_key_id.get_secret_value(),  # type: ignore[union-attr]
            aws_secret_access_key=self.settings.aws_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
            region_name=self.settings.aws_region,
        )
        async with session.client("ec2", endpoint_url=self.moto_url) as ec2:
            answer = await ec2.describe_instances(
                Filters=[
                    {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
                ]
            )
        return [i for r in answer["Reservations"] for i in r["Instances"]]

    async def add_creator_accounts(self) -> list[TelegramAccount]:
        accounts = []
        for n, phone in enumerate(CREATOR_PHONES):
            accounts.append(
                await TelegramAccount.create(
                    phone=phone,
                    api_id=100_000 + n,
                    api_hash=self.secrets_used.setdefault(f"api_hash{n}", secrets.token_hex(16)),
                    session=self.secrets_used.setdefault(f"session{n}", fake_string_session()),
                    status=AccountStatus.ACTIVE,
                    priority=10 * (n + 1),
                )
            )
        return accounts


@asynccontextmanager
async def standin_stack(
    database_url: str,
    encryption_key: str,
    tmp_dir: Path,
    *,
    moto_url: str | None = None,
    telegram: TelegramTestApi | None = None,
    botfather_latency: float = 0.0,
    real_openclaw: bool = False,
    **setting_overrides: Any,
) -> AsyncIterator[Stack]:
    """Start (or reuse) every stand-in and build the Settings that point at them."""
    own_moto = None
    if moto_url is None:
        own_moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        own_moto.start()
        host, port = own_moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
    own_telegram = telegram is None
    telegram = telegram or TelegramTestApi.start()
    key_path = tmp_dir / "platform_ssh_key"
    platform_key = load_or_create_client_key(key_path)
    host_key = generate_host_key()
    try:
        real = RealInstance(tmp_dir / "instance-home") if real_openclaw else None
        moonshot_key = "sk-moonshot-" + secrets.token_hex(16)
        box = SshInstanceStandIn(
            asyncssh.import_private_key(host_key.private_openssh), platform_key, real=real
        )
        async with StripeStandIn() as stripe_api, KimiStandIn(api_key=moonshot_key) as kimi, box:
            used = {
                "bot_token": bot_token_shaped(),
                "stripe_secret_key": "sk_test_" + secrets.token_hex(12),
                "stripe_webhook_secret": "whsec_" + secrets.token_hex(16),
                "aws_access_key_id": "AKIA"
                + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
                "aws_secret_access_key": secrets.token_urlsafe(30),
                "moonshot_api_key": moonshot_key,
            }
            web_port = free_port()
            values: dict[str, Any] = {
                "database_url": database_url,
                "encryption_key": encryption_key,
                "bot_token": used["bot_token"],
                "admin_ids": str(ADMIN_ID),
                "admin_telegram_chat_id": ADMIN_CHAT_ID,
                "telegram_api_server": telegram.base_url,
                "telegram_mode": "polling",
                "bot_cooldown_seconds": 0,
                "web_host": "127.0.0.1",
                "web_port": web_port,
                # agents reach the model gateway of this very web server, as in production
                "public_base_url": f"http://127.0.0.1:{web_port}",
                "stripe_secret_key": used["stripe_secret_key"],
                "stripe_api_base": stripe_api.base_url,
                "stripe_webhook_secret": used["stripe_webhook_secret"],
                "aws_access_key_id": used["aws_access_key_id"],
                "aws_secret_access_key": used["aws_secret_access_key"],
                "aws_region": "us-east-1",
                "aws_endpoint_url": moto_url,
                "ssh_private_key_path": str(key_path),
                "ssh_host_override": "127.0.0.1",
                "ssh_port": box.port,
                "ssh_connect_timeout": 5.0,
                "ec2_waiter_delay": 1,
                "ec2_waiter_max_attempts": 10,
                "bootstrap_timeout_s": 20.0,
                # the real gateway takes 10-30 s to be ready on a busy 2-core machine
                "readiness_timeout_s": 180.0 if real_openclaw else 5.0,
                "moonshot_api_key": used["moonshot_api_key"],
                "job_lease_seconds": 30,
                "model_upstream_base_url": kimi.base_url,
                "agent_telegram_api_root": telegram.base_url,
                "worker_concurrency": 4,
            }
            values.update(setting_overrides)
            settings = Settings(_env_file=None, **values)
            yield Stack(
                settings=settings,
                telegram=telegram,
                stripe=stripe_api,
                ssh=box,
                botfather=ScriptedTelegram(latency=botfather_latency),
                host_key=host_key,
                moto_url=moto_url,
                kimi=kimi,
                secrets_used=used,
            )
    finally:
        if own_telegram:
            telegram.stop()
        if own_moto is not None:
            own_moto.stop()
