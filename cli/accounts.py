"""`python main.py accounts ...`: log a creator account in, import them from the environment,
enable/disable them, set their priority, health-check them. (`accounts list` is cli/views.py's.)

Login runs here, in a terminal, never inside the bot: Telegram refuses login codes that were
forwarded through a Telegram chat. The login takes its client factory and its input functions as
parameters, so a test drives it with Telethon's client surface scripted.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telethon import TelegramClient, errors

from config import Settings, secret_value
from models import AccountStatus, TelegramAccount
from services.accounts.credentials import normalise_api_hash, normalise_phone
from services.infra.operator_errors import OperatorError
from services.jobs.queue import utcnow
from services.operations import accounts as operations
from services.operations.accounts import AccountChange
from services.operations.audit import Actor, NotFound, record

if TYPE_CHECKING:
    from cli.root import Root

LoginClientFactory = Callable[[int, str], TelegramClient]  # (api_id, api_hash) -> not yet authorised
Prompt = Callable[[str], str]


class LoginError(OperatorError):
    """Login cannot go on; the message says why and what to do (and never holds a secret)."""


@dataclass(frozen=True)
class LoginResult:
    phone: str
    session: str  # StringSession string
    user_id: int
    name: str

    def __repr__(self) -> str:
        return f"LoginResult(…{self.phone[-4:]}, user_id={self.user_id})"


def telethon_login_factory(api_id: int, api_hash: str) -> TelegramClient:
    from telethon.sessions import StringSession

    return TelegramClient(StringSession(), api_id, api_hash)


async def _disconnect(client: TelegramClient) -> None:
    result = client.disconnect()
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result


async def telegram_login(
    client_factory: LoginClientFactory,
    *,
    phone: str,
    api_id: int,
    api_hash: str,
    ask_code: Prompt,
    ask_password: Prompt,
    say: Callable[[str], None] = print,
    attempts: int = 3,
) -> LoginResult:
    """Telethon's interactive login: phone -> code (-> 2FA password). Returns the StringSession."""
    client = client_factory(api_id, api_hash)
    await client.connect()
    try:
        return await _login_steps(client, phone, ask_code, ask_password, say, attempts)
    except (errors.PhoneNumberBannedError, errors.UserDeactivatedBanError):
        raise LoginError(
            f"Telegram has banned the number …{phone[-4:]}: it cannot be a creator account. "
            "Use another number."
        ) from None
    except errors.PhoneNumberInvalidError:
        raise LoginError(
            "Telegram says the phone number is invalid: use the international format, e.g. +15550000000."
        ) from None
    except (errors.ApiIdInvalidError, errors.ApiIdPublishedFloodError):
        raise LoginError(
            "Telegram refused this API ID / API hash pair: copy both from "
            "https://my.telegram.org (API development tools)."
        ) from None
    except errors.FloodWaitError as exc:
        raise LoginError(f"Telegram asks to wait {exc.seconds} s before trying again.") from None
    finally:
        await _disconnect(client)


async def _login_steps(
    client: TelegramClient,
    phone: str,
    ask_code: Prompt,
    ask_password: Prompt,
    say: Callable[[str], None],
    attempts: int,
) -> LoginResult:
    sent = await client.send_code_request(phone)
    needs_password = False
    for attempt in range(1, attempts + 1):
        code = re.sub(r"\D", "", await asyncio.to_thread(ask_code, "Login code Telegram sent you: "))
        try:
            await client.sign_in(phone=phone, code=code, phone_code_hash=sent.phone_code_hash)
            break
        except errors.SessionPasswordNeededError:
            needs_password = True
            break
        except errors.PhoneCodeInvalidError:
            left = attempts - attempt
            if not left:
                raise LoginError(
                    "The login code was wrong too many times. Run `accounts login` again to get a new code."
                ) from None
            say(f"That code is wrong. Check the message from Telegram and try again ({left} left).")
        except errors.PhoneCodeExpiredError:
            raise LoginError(
                "The login code has expired. Run `accounts login` again for a new one "
                "(type the code here; never forward it in a Telegram chat)."
            ) from None
    if needs_password:
        for attempt in range(1, attempts + 1):
            password = await asyncio.to_thread(ask_password, "Two-step verification password: ")
            try:
                await client.sign_in(password=password)
                break
            except errors.PasswordHashInvalidError:
                left = attempts - attempt
                if not left:
                    raise LoginError("The two-step verification password was wrong too many times.") from None
                say(f"That password is wrong. Try again ({left} left).")
    me = await client.get_me()
    if me is None or not await client.is_user_authorized():
        raise LoginError("Telegram did not complete the login; run `accounts login` again.")
    session = client.session.save()
    if not session:
        raise LoginError("Telethon returned an empty session; run `accounts login` again.")
    name = " ".join(p for p in (getattr(me, "first_name", None), getattr(me, "last_name", None)) if p)
    return LoginResult(phone=phone, session=session, user_id=int(me.id), name=name)


async def store_login(
    result: LoginResult, *, api_id: int, api_hash: str, priority: int | None = None, bot_limit: int = 20
) -> tuple[TelegramAccount, bool]:
    """Save (encrypted) the logged-in account, or refresh a stored one. Returns (account, created)."""
    account = await TelegramAccount.get_or_none(phone=result.phone)
    created = account is None
    if account is None:
        account = await TelegramAccount.create(
            phone=result.phone,
            api_id=api_id,
            api_hash=api_hash,
            session=result.session,
            priority=priority or 100,
            bot_limit=bot_limit,
            source="db",
            session_from="login",
            session_updated_at=utcnow(),
        )
    else:
        account.api_id, account.api_hash, account.session = api_id, api_hash, result.session
        # a later import-env keeps this session unless the environment's is newer (accounts_env)
        account.session_from, account.session_updated_at = "login", utcnow()
        fields = [
            "api_id",
            "api_hash",
            "session",
            "session_from",
            "session_updated_at",
            "status",
            "cooldown_until",
            "updated_at",
        ]
        if priority is not None:
            account.priority = priority
            fields.append("priority")
        # a fresh login revives a dead session; a disabled, banned or resting account keeps its state
        if account.status == AccountStatus.SESSION_DEAD:
            account.status = AccountStatus.ACTIVE
        await account.save(update_fields=fields)
    await record(
        Actor.cli(), "accounts.login", f"account:{account.id}", "created" if created else "session replaced"
    )
    return account, created


# --- command functions (args, settings) -> exit code ----------------------------------------------


def _ask_visible(prompt: str) -> str:
    return input(prompt)


def login_inputs(args: argparse.Namespace, settings: Settings) -> tuple[str, int, str]:
    """(phone, API ID, API hash) from the options, else the settings, else asked; each checked as it
    comes (the rules check-config and import-env use), so a typo stops before the next question."""
    phone = normalise_phone(
        args.phone or settings.telegram_phone or _ask_visible("Phone number (international, +…): ")
    )
    if phone is None:
        raise OperatorError("the phone number must be international digits, e.g. +15550000000")
    api_id_text = str(args.api_id or settings.telegram_api_id or _ask_visible("API ID (my.telegram.org): "))
    if not api_id_text.strip().isdigit():
        raise OperatorError("the API ID is a number from https://my.telegram.org")
    api_hash = normalise_api_hash(
        secret_value(settings.telegram_api_hash) or getpass.getpass("API hash (my.telegram.org, hidden): ")
    )
    if api_hash is None:
        raise OperatorError("the API hash is 32 hexadecimal characters from https://my.telegram.org")
    return phone, int(api_id_text), api_hash


def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command

    phone, api_id, api_hash = login_inputs(args, settings)

    async def body(_: Root) -> int:
        result = await telegram_login(
            telethon_login_factory,
            phone=phone,
            api_id=api_id,
            api_hash=api_hash,
            ask_code=_ask_visible,
            ask_password=getpass.getpass,
        )
        account, created = await store_login(
            result,
            api_id=api_id,
            api_hash=api_hash,
            priority=args.priority,
            bot_limit=settings.creator_bot_limit,
        )
        print(
            f"{'Added' if created else 'Updated'} creator account #{account.id} (…{phone[-4:]}, "
            f"status {account.status}, priority {account.priority}). The session is stored encrypted."
        )
        return 0

    return run_command(settings, body)


def cmd_import_env(_: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command
    from services.accounts.env_import import import_env_accounts

    async def body(_: Root) -> int:
        report = await import_env_accounts(bot_limit=settings.creator_bot_limit)
        for masked in report.created:
            print(f"added    {masked}")
        for masked in report.updated:
            print(f"updated  {masked}")
        for masked in report.kept:
            print(f"kept     {masked}: its session from `accounts login` is newer than the environment's")
        for problem in report.errors:
            print(f"error:   {problem}", file=sys.stderr)
        if not (report.created or report.updated or report.errors):
            print("no TELEGRAM_PHONE / TELEGRAM_FALLBACK_<n>_PHONE accounts in the environment")
        await record(
            Actor.cli(),
            "accounts.import_env",
            "accounts",
            f"{len(report.created)} added, {len(report.updated)} updated",
        )
        return 1 if report.errors else 0

    return run_command(settings, body)


def _account_command(act: Callable[[argparse.Namespace, Actor], Awaitable[AccountChange]]):
    def command(args: argparse.Namespace, settings: Settings) -> int:
        from cli.root import run_command

        async def body(_: Root) -> int:
            try:
                account = (await act(args, Actor.cli())).account
            except NotFound:
                print(f"error: no creator account #{args.id} (see `accounts list`)", file=sys.stderr)
                return 1
            print(
                f"creator account #{account.id} ({account.masked_phone}): status {account.status}, "
                f"priority {account.priority}"
            )
            return 0

        return run_command(settings, body)

    return command


async def _enable(args: argparse.Namespace, actor: Actor) -> AccountChange:
    return await operations.enable_account(args.id, actor)


async def _disable(args: argparse.Namespace, actor: Actor) -> AccountChange:
    return await operations.disable_account(args.id, actor)


async def _priority(args: argparse.Namespace, actor: Actor) -> AccountChange:
    return await operations.set_priority(args.id, args.priority, actor)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import Needs, run_command

    async def body(root: Root) -> int:
        assert root.pool is not None  # Needs(pool=True)
        try:
            results = await operations.check_accounts_now(root.pool, args.id, Actor.cli())
        except NotFound:
            print(f"error: no creator account #{args.id} (see `accounts list`)", file=sys.stderr)
            return 1
        for account_id, status in results.items():
            print(f"#{account_id}: {status}")
        return 0 if all(s in (AccountStatus.ACTIVE, AccountStatus.FULL) for s in results.values()) else 1

    return run_command(settings, body, Needs(pool=True))


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    accounts = groups["accounts"]
    login = accounts.add_parser("login", help="interactive login (phone, code, 2FA); stores the session")
    login.add_argument("--phone", help="international phone number (default TELEGRAM_PHONE, else asked)")
    login.add_argument("--api-id", type=int, help="API ID (default TELEGRAM_API_ID, else asked)")
    login.add_argument("--priority", type=int, default=None, help="lower is tried first (default 100)")
    login.set_defaults(func=cmd_login)
    accounts.add_parser(
        "import-env", help="store the TELEGRAM_* and TELEGRAM_FALLBACK_<n>_* accounts"
    ).set_defaults(func=cmd_import_env)
    for name, change, text in (
        ("enable", _enable, "put an account back in service (clears its cooldown)"),
        ("disable", _disable, "take an account out of service"),
    ):
        parser = accounts.add_parser(name, help=text)
        parser.add_argument("id", type=int, help="account id from `accounts list`")
        parser.set_defaults(func=_account_command(change))
    priority = accounts.add_parser("priority", help="set an account's priority (lower is tried first)")
    priority.add_argument("id", type=int)
    priority.add_argument("priority", type=int)
    priority.set_defaults(func=_account_command(_priority))
    check = accounts.add_parser("check", help="health-check accounts now (connect, session, get_me)")
    check.add_argument("id", type=int, nargs="?", default=None)
    check.set_defaults(func=cmd_check)
