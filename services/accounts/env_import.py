"""Creator accounts from the environment: TELEGRAM_* (the primary) and TELEGRAM_FALLBACK_<n>_* (any n).

Each account needs PHONE, API_ID and API_HASH; SESSION is a Telethon StringSession or the path to a
Telethon `.session` file (converted to a StringSession here, so only the string is stored,
encrypted). Importing is idempotent: a phone already stored is updated, never duplicated, and an
admin's priority or disabled status is kept. Error messages name the variable, never its value.

The newer session wins: `run`/`worker` import the environment at every start, and a session that
`accounts login` refreshed since is not overwritten by the (older) one still in the environment.
Each decision to keep a stored session is logged.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from models import AccountStatus, TelegramAccount
from services.accounts.credentials import normalise_api_hash, normalise_phone
from services.jobs.queue import utcnow

log = logging.getLogger(__name__)

_FALLBACK_RE = re.compile(r"^TELEGRAM_FALLBACK_(\d+)_(PHONE|API_ID|API_HASH|SESSION)$")
PRIMARY_PRIORITY = 10


class SessionError(ValueError):
    """A TELEGRAM_*SESSION value is neither a StringSession nor a readable Telethon session file."""


@dataclass(frozen=True)
class EnvAccount:
    label: str  # "TELEGRAM" or "TELEGRAM_FALLBACK_2": the variables' prefix
    phone: str
    api_id: int
    api_hash: str
    session: str | None  # a StringSession string
    priority: int
    session_mtime: datetime | None = None  # when the session came from a file: its modification time

    def __repr__(self) -> str:  # never print the hash or the session
        return f"EnvAccount({self.label}, …{self.phone[-4:]}, priority={self.priority})"


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)  # masked phones
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # a newer session from `accounts login` was kept
    errors: list[str] = field(default_factory=list)


def environment(env_file: str | Path | None = ".env") -> dict[str, str]:
    """The process environment over the `.env` file's values (as pydantic-settings reads them)."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def _looks_like_path(value: str) -> bool:
    if value.endswith(".session") or "/" in value or "\\" in value:
        return True
    try:
        return Path(value).exists() or Path(value + ".session").exists()
    except OSError:  # e.g. a 353-character StringSession is too long for a file name
        return False


def load_session(value: str, *, variable: str = "TELEGRAM_SESSION") -> str:
    """A StringSession string from either a StringSession or a Telethon `.session` file path."""
    from telethon.sessions import SQLiteSession, StringSession

    value = value.strip()
    if not _looks_like_path(value):
        try:
            StringSession(value)
        except Exception:  # noqa: BLE001 - binascii/struct/ValueError: all mean "not a session string"
            raise SessionError(
                f"{variable} is neither a Telethon StringSession nor the path of an existing .session file"
            ) from None
        return value
    path = Path(value).expanduser()
    if not path.is_file() and Path(str(path) + ".session").is_file():
        path = Path(str(path) + ".session")
    if not path.is_file():
        raise SessionError(f"{variable}: session file {path} does not exist")
    try:
        session = SQLiteSession(str(path))
        try:
            string = StringSession.save(session)
        finally:
            session.close()
    except Exception as exc:  # noqa: BLE001 - sqlite3 errors, a foreign file...
        raise SessionError(
            f"{variable}: {path} is not a readable Telethon session file ({type(exc).__name__})"
        ) from None
    if not string:
        raise SessionError(f"{variable}: {path} holds no authorisation (log in with `accounts login`)")
    return string


def read_env_accounts(env: Mapping[str, str]) -> tuple[list[EnvAccount], list[str]]:
    """Every account the variables describe, primary first; plus a readable error per broken one."""
    groups: dict[str, dict[str, str]] = {}
    order: dict[str, int] = {}
    for name in ("PHONE", "API_ID", "API_HASH", "SESSION"):
        if (env.get(f"TELEGRAM_{name}") or "").strip():
            groups.setdefault("TELEGRAM", {})[name] = env[f"TELEGRAM_{name}"].strip()
            order["TELEGRAM"] = 0
    for key, value in env.items():
        match = _FALLBACK_RE.match(key)
        if match and (value or "").strip():
            label = f"TELEGRAM_FALLBACK_{match.group(1)}"
            groups.setdefault(label, {})[match.group(2)] = value.strip()
            order[label] = int(match.group(1))
    accounts: list[EnvAccount] = []
    problems: list[str] = []
    for label in sorted(groups, key=lambda g: (g != "TELEGRAM", order[g])):
        values = groups[label]
        missing = [f"{label}_{n}" for n in ("PHONE", "API_ID", "API_HASH") if not values.get(n)]
        if missing:
            problems.append(f"{label}: missing {', '.join(missing)}")
            continue
        phone = normalise_phone(values["PHONE"])
        if phone is None:
            problems.append(f"{label}_PHONE is not an international phone number (e.g. +15550000000)")
            continue
        if not values["API_ID"].isdigit():
            problems.append(f"{label}_API_ID must be a number (from my.telegram.org)")
            continue
        api_hash = normalise_api_hash(values["API_HASH"])
        if api_hash is None:
            problems.append(f"{label}_API_HASH must be 32 hexadecimal characters (from my.telegram.org)")
            continue
        session, mtime = None, None
        if values.get("SESSION"):
            try:
                session = load_session(values["SESSION"], variable=f"{label}_SESSION")
            except SessionError as exc:
                problems.append(str(exc))
                continue
            mtime = _session_file_mtime(values["SESSION"])
        priority = PRIMARY_PRIORITY if label == "TELEGRAM" else PRIMARY_PRIORITY + order[label]
        accounts.append(
            EnvAccount(
                label,
                phone,
                int(values["API_ID"]),
                api_hash,
                session,
                priority,
                mtime,
            )
        )
    return accounts, problems


def _session_file_mtime(value: str) -> datetime | None:
    value = value.strip()
    if not _looks_like_path(value):
        return None
    path = Path(value).expanduser()
    path = path if path.is_file() else Path(str(path) + ".session")
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.is_file() else None


def env_session_wins(
    *, stored_from: str | None, stored_at: datetime | None, stored_dead: bool, env_mtime: datetime | None
) -> bool:
    """Whether the environment's session (different from the stored one) replaces it. Pure.

    Only a session stored by `accounts login` is defended: the environment's wins when it is newer
    (a session file modified after the login), or when the login's session is dead. A session string
    has no age: it does not replace a working login session (the log says so at every start).
    """
    if stored_from != "login":
        return True
    if stored_dead:
        return True
    if env_mtime is not None and stored_at is not None:
        return env_mtime > stored_at
    return False


async def import_env_accounts(env: Mapping[str, str] | None = None, *, bot_limit: int = 20) -> ImportReport:
    """Store (encrypted) every account the environment describes; update the ones already stored."""
    accounts, problems = read_env_accounts(environment() if env is None else env)
    report = ImportReport(errors=problems)
    for item in accounts:
        masked = f"…{item.phone[-4:]} ({item.label})"
        existing = await TelegramAccount.get_or_none(phone=item.phone)
        if existing is None:
            await TelegramAccount.create(
                phone=item.phone,
                api_id=item.api_id,
                api_hash=item.api_hash,
                session=item.session,
                priority=item.priority,
                source="env",
                bot_limit=bot_limit,
                session_from="env" if item.session else None,
                session_updated_at=utcnow() if item.session else None,
                status=AccountStatus.ACTIVE if item.session else AccountStatus.SESSION_DEAD,
                last_error=None if item.session else f"{item.label}_SESSION is empty: run `accounts login`",
            )
            report.created.append(masked)
            continue
        fields = ["api_id", "api_hash", "source", "updated_at"]
        existing.api_id, existing.api_hash, existing.source = item.api_id, item.api_hash, "env"
        if item.session and item.session != existing.session:
            if env_session_wins(
                stored_from=existing.session_from,
                stored_at=existing.session_updated_at,
                stored_dead=existing.status == AccountStatus.SESSION_DEAD,
                env_mtime=item.session_mtime,
            ):
                existing.session, existing.session_from = item.session, "env"
                existing.session_updated_at = utcnow()
                fields += ["session", "session_from", "session_updated_at"]
                if existing.status == AccountStatus.SESSION_DEAD:  # a new session revives a dead one
                    existing.status = AccountStatus.ACTIVE
                    existing.last_error = None
                    fields += ["status", "last_error"]
            else:
                when = existing.session_updated_at.isoformat() if existing.session_updated_at else "?"
                log.warning(
                    "%s_SESSION not applied to account %s: the session stored by `accounts login` "
                    "at %s is newer; log in again or remove the variable to silence this",
                    item.label,
                    masked,
                    when,
                )
                report.kept.append(masked)
        await existing.save(update_fields=fields)
        if masked not in report.kept:
            report.updated.append(masked)
    return report
