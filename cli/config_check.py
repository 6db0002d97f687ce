"""What each long-running command needs of the settings, and `python main.py check-config`.

`check_settings()` is a pure function that reports, per component, what is missing or malformed;
`problems_for(command)` is what `run`, `bot`, `web` and `worker` refuse to start by (`can_start`: the
same table). Placeholders from .env.example count as missing. No report ever holds a secret's value.
"""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from config import BOT_TOKEN_RE, Settings, TelegramMode, configured_secret, is_placeholder
from services.accounts.credentials import normalise_api_hash, normalise_phone

COMMANDS = ("run", "bot", "web", "worker")
# which long-running command needs which component: the ONE table `check-config` reports from and
# `run`/`bot`/`web`/`worker` refuse to start by (`problems_for`). The creator pool is advisory:
# accounts also come from the database (`accounts login`), so no command refuses to start without them.
NEEDED_BY: dict[str, frozenset[str]] = {
    "database": frozenset(COMMANDS),
    "bot": frozenset({"run", "bot", "worker"}),  # the worker messages customers with the bot
    "payments": frozenset({"run"}),  # Checkout Sessions and refunds (a bot alone says "unavailable")
    "stripe webhook": frozenset({"run", "web"}),  # the webhook's signature
    "creator pool": frozenset(),
    "cloud": frozenset({"run", "worker"}),
    "alerts": frozenset(),
}
_EXAMPLE_NUMBERS = {"admin_ids": "111111111,222222222", "admin_telegram_chat_id": "-1000000000000"}

Unset = Callable[[str], str]  # a setting's name -> how a missing one is reported


@dataclass
class ComponentReport:
    name: str
    needed_by: frozenset[str] = frozenset()
    missing: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.malformed

    @property
    def needed_by_run(self) -> bool:
        return "run" in self.needed_by

    def as_dict(self) -> dict[str, object]:
        return {
            "component": self.name,
            "ok": self.ok,
            "needed_by": sorted(self.needed_by),
            "missing": self.missing,
            "malformed": self.malformed,
            "warnings": self.warnings,
            "notes": self.notes,
        }


def problems_for(command: str, s: Settings) -> list[ComponentReport]:
    """The components `command` needs that are not ready (empty: it can start)."""
    return [r for r in check_settings(s) if command in r.needed_by and not r.ok]


def can_start(settings: Settings, command: str) -> bool:
    """False, with each problem on stderr, when `command` cannot start (the table check-config reports)."""
    blocking = problems_for(command, settings)
    for report in blocking:
        print(f"{report.name}: " + "; ".join(report.missing + report.malformed), file=sys.stderr)
    if blocking:
        print(
            f"`python main.py {command}` cannot start: fix these settings (see `python main.py "
            f"check-config` and .env.example).",
            file=sys.stderr,
        )
    return not blocking


def _placeholders(s: Settings) -> list[str]:
    names = [name.upper() for name in type(s).model_fields if is_placeholder(getattr(s, name))]
    names += [
        name.upper()
        for name, example in _EXAMPLE_NUMBERS.items()
        if str(getattr(s, name) if getattr(s, name) is not None else "") == example
    ]
    return names


def _check_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, TypeError):
        return False


def check_settings(s: Settings) -> list[ComponentReport]:
    """Per component: which settings are missing or malformed, and who needs it (`NEEDED_BY`).

    Placeholders from .env.example count as missing ("placeholder"). Never includes a secret's value.
    """
    placeholders = set(_placeholders(s))

    def unset(name: str) -> str:
        return f"{name} (still the .env.example placeholder)" if name in placeholders else name

    return [
        _database(s, unset),
        _bot(s, unset, placeholders),
        *_stripe(s, unset),
        _creator_pool(s, unset),
        _cloud(s, unset),
        _alerts(s, placeholders),
    ]


def _database(s: Settings, unset: Unset) -> ComponentReport:
    database = ComponentReport("database", NEEDED_BY["database"])
    if not re.match(r"^(sqlite|postgres|postgresql|asyncpg|psycopg)://", s.database_url):
        database.malformed.append("DATABASE_URL (expected sqlite://path or postgres://user@host/db)")
    key = configured_secret(s.encryption_key)
    if not key:
        database.missing.append(unset("ENCRYPTION_KEY") + " (make one with: python main.py gen-key)")
    elif not _check_fernet_key(key):
        database.malformed.append("ENCRYPTION_KEY (not a Fernet key: 32 url-safe base64 bytes)")
    return database


def _bot(s: Settings, unset: Unset, placeholders: set[str]) -> ComponentReport:
    bot = ComponentReport("bot", NEEDED_BY["bot"])
    token = configured_secret(s.bot_token)
    if not token:
        bot.missing.append(unset("BOT_TOKEN"))
    elif not BOT_TOKEN_RE.match(token):
        bot.malformed.append("BOT_TOKEN (expected <digits>:<secret> as @BotFather gives it)")
    if "ADMIN_IDS" in placeholders:
        bot.warnings.append("ADMIN_IDS is still the .env.example placeholder: strangers' ids would be admins")
    elif not s.admin_id_set:
        bot.notes.append("ADMIN_IDS is empty: nobody can use /accounts or /instances")
    if s.telegram_mode == TelegramMode.WEBHOOK and not s.public_base_url:
        bot.missing.append("PUBLIC_BASE_URL (needed when TELEGRAM_MODE=webhook)")
    if s.public_base_url and not s.public_base_url.startswith("https://"):
        bot.notes.append("PUBLIC_BASE_URL is not https: Telegram only delivers webhooks over HTTPS")
    return bot


def _stripe(s: Settings, unset: Unset) -> list[ComponentReport]:
    payments = ComponentReport("payments", NEEDED_BY["payments"])
    sk = configured_secret(s.stripe_secret_key)
    if not sk:
        payments.missing.append(unset("STRIPE_SECRET_KEY"))
    elif not re.match(r"^(sk|rk)_(test|live)_", sk):
        payments.malformed.append("STRIPE_SECRET_KEY (expected sk_test_… or sk_live_…)")
    webhook = ComponentReport("stripe webhook", NEEDED_BY["stripe webhook"])
    wh = configured_secret(s.stripe_webhook_secret)
    if not wh:
        webhook.missing.append(unset("STRIPE_WEBHOOK_SECRET"))
    elif not wh.startswith("whsec_"):
        webhook.malformed.append("STRIPE_WEBHOOK_SECRET (expected whsec_…)")
    return [payments, webhook]


def _creator_pool(s: Settings, unset: Unset) -> ComponentReport:
    pool = ComponentReport("creator pool", NEEDED_BY["creator pool"])
    if s.telegram_phone or s.telegram_api_id or s.telegram_api_hash:
        for env, value in (
            ("TELEGRAM_API_ID", s.telegram_api_id),
            ("TELEGRAM_API_HASH", configured_secret(s.telegram_api_hash)),
            ("TELEGRAM_PHONE", s.telegram_phone),
        ):
            if not value:
                pool.missing.append(unset(env))
        api_hash = configured_secret(s.telegram_api_hash)
        if api_hash and normalise_api_hash(api_hash) is None:
            pool.malformed.append("TELEGRAM_API_HASH (expected 32 hex characters)")
        if s.telegram_phone and normalise_phone(s.telegram_phone) is None:
            pool.malformed.append("TELEGRAM_PHONE (expected international digits, e.g. +15550000000)")
        if not configured_secret(s.telegram_session):
            pool.notes.append("TELEGRAM_SESSION is empty: run `python main.py accounts login` for this phone")
    else:
        pool.missing.append(
            "TELEGRAM_API_ID/TELEGRAM_API_HASH/TELEGRAM_PHONE (or accounts added with "
            "`python main.py accounts login`)"
        )
        pool.notes.append("accounts stored in the database also count; `accounts list` shows them")
    return pool


def _cloud(s: Settings, unset: Unset) -> ComponentReport:
    cloud = ComponentReport("cloud", NEEDED_BY["cloud"])
    if not configured_secret(s.aws_access_key_id):
        cloud.missing.append(unset("AWS_ACCESS_KEY_ID"))
    if not configured_secret(s.aws_secret_access_key):
        cloud.missing.append(unset("AWS_SECRET_ACCESS_KEY"))
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", s.aws_region):
        cloud.malformed.append("AWS_REGION (expected e.g. us-east-1)")
    _model_gateway(s, unset, cloud)
    if s.ssh_source_cidr.strip() in ("0.0.0.0/0", "::/0"):
        cloud.warnings.append(
            "SSH_SOURCE_CIDR=0.0.0.0/0 opens SSH on every customer server to the whole "
            "internet: set the worker's public address, e.g. 203.0.113.7/32"
        )
    if s.ec2_ami_id and not re.fullmatch(r"ami-[0-9a-f]{8,17}", s.ec2_ami_id):
        cloud.malformed.append("EC2_AMI_ID (expected ami-…)")
    if not re.fullmatch(r"\d{4}\.\d+\.\d+(-[\w.]+)?|\d+\.\d+\.\d+", s.openclaw_version):
        cloud.malformed.append("OPENCLAW_VERSION (pin an exact version, e.g. 2026.9.6)")
    if s.warm_pool_size < 0:
        cloud.malformed.append("WARM_POOL_SIZE (must be 0 or more)")
    return cloud


def _model_gateway(s: Settings, unset: Unset, cloud: ComponentReport) -> None:
    """The platform key and the URLs agents reach the model gateway by."""
    if not configured_secret(s.moonshot_api_key):
        cloud.missing.append(
            unset("MOONSHOT_API_KEY") + " (the platform's model key; only the model gateway uses it)"
        )
    if not re.match(r"^https?://[^/\s]+", s.model_upstream_base_url):
        cloud.malformed.append("MODEL_UPSTREAM_BASE_URL (expected e.g. https://api.moonshot.ai/v1)")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", s.model_gateway_path):
        cloud.malformed.append("MODEL_GATEWAY_PATH (expected a path such as /model/v1)")
    if not s.public_base_url:
        cloud.missing.append(
            f"PUBLIC_BASE_URL (agents call the model gateway at PUBLIC_BASE_URL"
            f"{s.model_gateway_path}; it is written into every agent's config)"
        )
    elif not re.match(r"^https?://[^/\s]+", s.public_base_url):
        cloud.malformed.append("PUBLIC_BASE_URL (expected e.g. https://meetmatt.example.com)")
    elif not s.public_base_url.startswith("https://"):
        cloud.warnings.append(
            "PUBLIC_BASE_URL is not https: agents would send their model key unencrypted over the internet"
        )


def _alerts(s: Settings, placeholders: set[str]) -> ComponentReport:
    alerts = ComponentReport("alerts", NEEDED_BY["alerts"])
    if "ADMIN_TELEGRAM_CHAT_ID" in placeholders:
        alerts.missing.append("ADMIN_TELEGRAM_CHAT_ID (still the .env.example placeholder)")
    elif s.admin_telegram_chat_id is None:
        alerts.missing.append("ADMIN_TELEGRAM_CHAT_ID (where admin alerts go)")
    if s.smtp_host and not (s.smtp_from and s.smtp_to):
        alerts.missing.append("SMTP_FROM/SMTP_TO (needed with SMTP_HOST)")
    if s.alert_webhook_url and not s.alert_webhook_url.startswith(("http://", "https://")):
        alerts.malformed.append("ALERT_WEBHOOK_URL (expected an http(s) URL)")
    return alerts
