"""`check-config --online`: try each credential against its service, through the same endpoint
settings the application uses (TELEGRAM_API_SERVER, STRIPE_API_BASE, AWS_ENDPOINT_URL), and say which
one failed and why, never echoing a value.

- the Bot API: `getMe` with BOT_TOKEN;
- Stripe: a balance read with STRIPE_SECRET_KEY;
- AWS: `sts get-caller-identity` with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
- each creator account given in the environment: connect and `get_me` on its session.
Creator accounts stored in the database are checked by `python main.py accounts check`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

from config import Settings, configured_secret

if TYPE_CHECKING:
    from telethon import TelegramClient

    from services.accounts.pool import ClientFactory

TIMEOUT_S = 15.0


@dataclass(frozen=True)
class OnlineCheck:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _unreachable(service: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"{service} did not answer within {TIMEOUT_S:g}s"
    return f"cannot reach {service} ({type(exc).__name__})"


async def check_bot_api(settings: Settings) -> OnlineCheck:
    name = "Bot API getMe (BOT_TOKEN)"
    if not configured_secret(settings.bot_token):
        return OnlineCheck(name, False, "skipped: BOT_TOKEN is not set")
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError

    from bot.factory import create_bot

    bot = create_bot(settings)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            me = await bot.get_me()
        return OnlineCheck(name, True, f"the token belongs to @{me.username}")
    except TelegramUnauthorizedError:
        return OnlineCheck(name, False, "the Bot API refused BOT_TOKEN (401 Unauthorized)")
    except TelegramNetworkError as exc:
        return OnlineCheck(name, False, _unreachable("the Bot API", exc))
    except TelegramAPIError as exc:
        return OnlineCheck(name, False, f"the Bot API answered an error ({type(exc).__name__})")
    except Exception as exc:  # network: never the URL, it carries the token
        return OnlineCheck(name, False, _unreachable("the Bot API", exc))
    finally:
        await bot.session.close()


async def check_stripe(settings: Settings) -> OnlineCheck:
    name = "Stripe balance read (STRIPE_SECRET_KEY)"
    if not configured_secret(settings.stripe_secret_key):
        return OnlineCheck(name, False, "skipped: STRIPE_SECRET_KEY is not set")
    import stripe

    from services.payments.stripe_api import close_stripe_client, make_stripe_client

    client = make_stripe_client(settings, timeout=TIMEOUT_S, max_network_retries=0)
    try:
        balance = await client.v1.balance.retrieve_async()
        mode = "live" if getattr(balance, "livemode", False) else "test"
        return OnlineCheck(name, True, f"Stripe accepted the key ({mode} mode)")
    except stripe.AuthenticationError:
        return OnlineCheck(name, False, "Stripe refused STRIPE_SECRET_KEY (authentication failed)")
    except stripe.PermissionError:
        return OnlineCheck(
            name,
            False,
            "STRIPE_SECRET_KEY is valid but may not read the balance "
            "(a restricted key: give it Balance read)",
        )
    except stripe.APIConnectionError as exc:
        return OnlineCheck(name, False, _unreachable("Stripe", exc))
    except stripe.StripeError as exc:
        return OnlineCheck(name, False, f"Stripe answered an error ({type(exc).__name__})")
    finally:
        await close_stripe_client(client)


async def check_aws(settings: Settings) -> OnlineCheck:
    name = "AWS sts get-caller-identity (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    key_id = configured_secret(settings.aws_access_key_id)
    secret = configured_secret(settings.aws_secret_access_key)
    if not key_id or not secret:
        return OnlineCheck(name, False, "skipped: the AWS keys are not set")
    import aioboto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    session = aioboto3.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=settings.aws_region
    )
    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=TIMEOUT_S)
    try:
        async with (
            asyncio.timeout(TIMEOUT_S),
            session.client("sts", endpoint_url=settings.aws_endpoint_url, config=config) as sts,
        ):
            identity = await sts.get_caller_identity()
        account = str(identity.get("Account", ""))
        return OnlineCheck(name, True, f"AWS accepted the keys (account …{account[-4:]})")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return OnlineCheck(name, False, f"AWS refused the keys ({code})")
    except (BotoCoreError, OSError, TimeoutError) as exc:
        return OnlineCheck(name, False, _unreachable("AWS", exc))


async def check_env_accounts(
    client_factory: ClientFactory | None = None, env: Mapping[str, str] | None = None
) -> list[OnlineCheck]:
    """Each creator account the environment describes: its session logs in and `get_me` answers."""
    from services.accounts.env_import import environment, read_env_accounts
    from services.accounts.telethon_client import telethon_client_factory

    factory = client_factory or telethon_client_factory
    accounts, problems = read_env_accounts(environment() if env is None else env)
    checks = [OnlineCheck("creator account (environment)", False, f"not imported: {p}") for p in problems]
    for item in accounts:
        name = f"creator account {item.label} …{item.phone[-4:]} get_me"
        if not item.session:
            checks.append(
                OnlineCheck(
                    name, False, f"{item.label}_SESSION is empty: run `python main.py accounts login`"
                )
            )
            continue
        checks.append(
            await _check_account(
                name,
                factory(
                    SimpleNamespace(
                        phone=item.phone, api_id=item.api_id, api_hash=item.api_hash, session=item.session
                    )
                ),
            )
        )
    return checks


async def _check_account(name: str, client: TelegramClient) -> OnlineCheck:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await client.connect()
            if not await client.is_user_authorized():
                return OnlineCheck(
                    name,
                    False,
                    "the session is not authorised (logged out): run `python main.py accounts login` again",
                )
            me = await client.get_me()
        if me is None:
            return OnlineCheck(name, False, "get_me returned nothing: the session is not authorised")
        return OnlineCheck(name, True, "the session is authorised")
    except Exception as exc:  # Telethon's errors name the problem by class (banned, revoked, flood…)
        return OnlineCheck(name, False, f"failed: {type(exc).__name__}")
    finally:
        try:
            await client.disconnect()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


async def run_online_checks(
    settings: Settings,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str] | None = None,
) -> list[OnlineCheck]:
    parts: list[Awaitable[OnlineCheck]] = [
        check_bot_api(settings),
        check_stripe(settings),
        check_aws(settings),
    ]
    bot, stripe_check, aws = await asyncio.gather(*parts)
    return [bot, stripe_check, aws, *await check_env_accounts(client_factory, env)]
