"""Settings for every component, read from the environment or `.env`.

Names follow DESIGN.md section 7. Secrets are `SecretStr` so they never print by accident.
`check_settings()` is a pure function that reports, per component, what is missing or malformed;
`problems_for(command)` is what `run`, `bot`, `web` and `worker` refuse to start by (same table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite://data/meetmatt.sqlite3"
DEFAULT_AMI = "ami-0c7217cdde317cfec"  # Ubuntu 22.04 LTS, us-east-1 (the seed's image)
BOT_TOKEN_RE = re.compile(r"^\d{6,12}:[A-Za-z0-9_-]{30,}$")


class BotCreationMode(StrEnum):
    POOL = "pool"
    MANAGED = "managed"
    AUTO = "auto"


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # database
    database_url: str = DEFAULT_DATABASE_URL
    encryption_key: SecretStr | None = None

    # the Meet Matt bot
    bot_token: SecretStr | None = None
    admin_ids: str = ""  # comma-separated Telegram user ids
    telegram_mode: TelegramMode = TelegramMode.POLLING
    telegram_api_server: str | None = None  # Bot API base URL override (tests, local Bot API server)
    telegram_webhook_secret: SecretStr | None = None
    public_base_url: str | None = None
    redis_url: str | None = None
    bot_creation_mode: BotCreationMode = BotCreationMode.POOL
    bot_cooldown_seconds: float = Field(default=1.0, ge=0)  # anti-spam: one update per user per window

    # web server
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # the private ops listener: /livez, /readyz, /metrics (empty OPS_PORT: off; 0: any free port)
    ops_host: str = "127.0.0.1"
    ops_port: int | None = 9100
    metrics_on_web_port: bool = False  # also serve /metrics on the public WEB_PORT
    worker_heartbeat_limit_s: float = Field(default=30.0, gt=0)  # /readyz: the worker loop ticked within

    # payments
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None
    refund_on_failure: bool = False
    pool_wait_limit_hours: float = Field(default=48, gt=0)  # how long a paid order waits for an account
    packages_json: str | None = None  # override of the package catalogue, as JSON
    max_unpaid_orders: int = Field(default=3, ge=1)  # unpaid orders one customer may hold at a time

    @cached_property
    def packages(self):
        """The package catalogue (PACKAGES_JSON, else the default set), parsed once."""
        from services.payments.packages import parse_packages

        return parse_packages(self.packages_json)

    # creator-account pool (primary; fallbacks are read from TELEGRAM_FALLBACK_<n>_* by services)
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    telegram_phone: str | None = None
    telegram_session: SecretStr | None = None
    creator_bot_limit: int = 20

    # cloud
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    ec2_ami_id: str | None = None  # empty: the seed's AMI in us-east-1, else the public SSM parameter
    ec2_instance_type: str = "t3.small"
    ec2_volume_gb: int = 20
    ec2_key_name: str = "meetmatt-platform"
    ec2_security_group: str = "meetmatt-agents"
    ssh_source_cidr: str = "0.0.0.0/0"
    ssh_private_key_path: str = "data/platform_ssh_key"
    ssh_user: str = "ubuntu"
    ssh_host_override: str | None = None  # tests: reach every instance at this host
    ssh_port: int = 22
    ssh_connect_timeout: float = 20.0
    moonshot_api_key: SecretStr | None = None
    openclaw_version: str = "2026.9.6"  # a published version the OpenClaw tests run (README: moving the pin)
    # the Bot API root the agent's own bot uses; empty: Telegram's (tests: their stand-in). The agent's
    # model is always Meet Matt's gateway, PUBLIC_BASE_URL + MODEL_GATEWAY_PATH, with its own key
    agent_telegram_api_root: str | None = None
    # the model gateway (webhooks/model_gateway.py): it alone calls MODEL_UPSTREAM_BASE_URL with
    # MOONSHOT_API_KEY
    model_upstream_base_url: str = "https://api.moonshot.ai/v1"
    model_gateway_path: str = "/model/v1"
    model_upstream_timeout_s: float = Field(default=600.0, gt=0)  # a whole answer, streamed or not
    model_gateway_max_body_mb: float = Field(default=16.0, gt=0)
    # estimated cost shown in /stats, USD per million tokens (Kimi K2.5 list prices)
    model_price_input_per_mtok: float = Field(default=0.60, ge=0)
    model_price_cached_input_per_mtok: float = Field(default=0.10, ge=0)
    model_price_output_per_mtok: float = Field(default=3.00, ge=0)
    warm_pool_size: int = 0
    ec2_ami_ssm_parameter: str = (  # public parameter used when EC2_AMI_ID is empty outside us-east-1
        "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    )
    ec2_waiter_delay: int = Field(default=5, ge=1)  # seconds between EC2 state polls
    ec2_waiter_max_attempts: int = Field(default=60, ge=1)
    bootstrap_timeout_s: float = 900.0  # launch to bootstrap marker
    readiness_timeout_s: float = 120.0  # gateway restart to /readyz answering
    expiry_reminder_days: str = "3,1"  # remind the customer this many days before expiry
    expiry_grace_days: int = Field(default=7, ge=0)  # stopped instances are terminated after this
    health_check_concurrency: int = Field(default=4, ge=1)

    # alerts
    admin_telegram_bot_token: SecretStr | None = None
    admin_telegram_chat_id: int | None = None
    terms_source: str | None = None  # /terms: a text file's path or an https:// URL
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_to: str | None = None
    smtp_starttls: bool = True
    alert_webhook_url: str | None = None

    # worker
    worker_concurrency: int = Field(default=16, ge=1)  # jobs are I/O-bound: mostly waiting on outside calls
    job_lease_seconds: int = Field(default=120, ge=5)
    provision_max_attempts: int = Field(default=8, ge=1)  # provision job tries before it is dead
    job_backoff_base_seconds: float = Field(default=5.0, gt=0)  # retry n waits base * 2^(n-1) (cap 15 min)
    verification_ttl_minutes: float = Field(default=1440, gt=0)  # the ownership deep link stays valid
    log_level: str = "INFO"
    log_format: str = "kv"  # kv | json

    @field_validator(
        "telegram_api_server",
        "public_base_url",
        "agent_telegram_api_root",
        "stripe_api_base",
        "aws_endpoint_url",
        "redis_url",
        "alert_webhook_url",
        "ec2_ami_id",
        "telegram_phone",
        "smtp_host",
        "ssh_host_override",
        "ops_port",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def admin_id_set(self) -> frozenset[int]:
        return frozenset(int(x) for x in re.split(r"[,\s]+", self.admin_ids.strip()) if x.isdigit())

    def secret_values(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


# --- check-config -------------------------------------------------------------------------------


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
# values .env.example ships with: reported as not set, never accepted as credentials
_PLACEHOLDER_RE = re.compile(r"replace|change-me|changeme", re.I)
_EXAMPLE_NUMBERS = {"admin_ids": "111111111,222222222", "admin_telegram_chat_id": "-1000000000000"}


def is_placeholder(value: object) -> bool:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return isinstance(text, str) and bool(_PLACEHOLDER_RE.search(text))


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
    import sys

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


def secret_value(value: SecretStr | None) -> str | None:
    """The plain value of a secret setting, or None when it is unset or empty."""
    return (value.get_secret_value() or None) if value else None


def configured_secret(value: SecretStr | None) -> str:
    """The secret's value; a placeholder from .env.example counts as unset."""
    plain = secret_value(value) or ""
    return "" if is_placeholder(plain) else plain


def _placeholders(s: Settings) -> list[str]:
    names = [name.upper() for name in type(s).model_fields if is_placeholder(getattr(s, name))]
    names += [
        name.upper()
        for name, example in _EXAMPLE_NUMBERS.items()
        if str(getattr(s, name) if getattr(s, name) is not None else "") == example
    ]
    return names


def _check_fernet_key(key: str) -> bool:
    import base64

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

    database = ComponentReport("database", NEEDED_BY["database"])
    if not re.match(r"^(sqlite|postgres|postgresql|asyncpg|psycopg)://", s.database_url):
        database.malformed.append("DATABASE_URL (expected sqlite://path or postgres://user@host/db)")
    key = configured_secret(s.encryption_key)
    if not key:
        database.missing.append(unset("ENCRYPTION_KEY") + " (make one with: python main.py gen-key)")
    elif not _check_fernet_key(key):
        database.malformed.append("ENCRYPTION_KEY (not a Fernet key: 32 url-safe base64 bytes)")

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
        if api_hash and not re.fullmatch(r"[0-9a-f]{32}", api_hash):
            pool.malformed.append("TELEGRAM_API_HASH (expected 32 hex characters)")
        if s.telegram_phone and not re.fullmatch(r"\+?\d{7,15}", s.telegram_phone):
            pool.malformed.append("TELEGRAM_PHONE (expected international digits, e.g. +15550000000)")
        if not configured_secret(s.telegram_session):
            pool.notes.append("TELEGRAM_SESSION is empty: run `python main.py accounts login` for this phone")
    else:
        pool.missing.append(
            "TELEGRAM_API_ID/TELEGRAM_API_HASH/TELEGRAM_PHONE (or accounts added with "
            "`python main.py accounts login`)"
        )
        pool.notes.append("accounts stored in the database also count; `accounts list` shows them")

    cloud = ComponentReport("cloud", NEEDED_BY["cloud"])
    if not configured_secret(s.aws_access_key_id):
        cloud.missing.append(unset("AWS_ACCESS_KEY_ID"))
    if not configured_secret(s.aws_secret_access_key):
        cloud.missing.append(unset("AWS_SECRET_ACCESS_KEY"))
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", s.aws_region):
        cloud.malformed.append("AWS_REGION (expected e.g. us-east-1)")
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

    alerts = ComponentReport("alerts", NEEDED_BY["alerts"])
    if "ADMIN_TELEGRAM_CHAT_ID" in placeholders:
        alerts.missing.append("ADMIN_TELEGRAM_CHAT_ID (still the .env.example placeholder)")
    elif s.admin_telegram_chat_id is None:
        alerts.missing.append("ADMIN_TELEGRAM_CHAT_ID (where admin alerts go)")
    if s.smtp_host and not (s.smtp_from and s.smtp_to):
        alerts.missing.append("SMTP_FROM/SMTP_TO (needed with SMTP_HOST)")
    if s.alert_webhook_url and not s.alert_webhook_url.startswith(("http://", "https://")):
        alerts.malformed.append("ALERT_WEBHOOK_URL (expected an http(s) URL)")

    return [database, bot, payments, webhook, pool, cloud, alerts]
