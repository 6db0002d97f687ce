"""Settings for every component, read from the environment or `.env`.

Names follow DESIGN.md section 7. Secrets are `SecretStr` so they never print by accident.
`check_settings()` is a pure function that reports, per component, what is missing or malformed.
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

    # payments
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None
    refund_on_failure: bool = False
    pool_wait_limit_hours: float = Field(default=48, gt=0)  # how long a paid order waits for an account
    packages_json: str | None = None  # override of the package catalogue, as JSON

    @cached_property
    def packages(self):
        """The package catalogue (PACKAGES_JSON, else the default set), parsed once."""
        from services.packages import parse_packages

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
    # the model gateway (webhooks/model_gateway.py): agents call PUBLIC_BASE_URL + MODEL_GATEWAY_PATH
    model_upstream_base_url: str = "https://api.moonshot.ai/v1"
    model_gateway_path: str = "/model/v1"
    model_upstream_timeout_s: float = Field(default=600.0, gt=0)  # a whole answer, streamed or not
    model_gateway_max_body_mb: float = Field(default=16.0, gt=0)
    # estimated cost shown in /stats, USD per million tokens (Kimi K2.5 list prices)
    model_price_input_per_mtok: float = Field(default=0.60, ge=0)
    model_price_cached_input_per_mtok: float = Field(default=0.10, ge=0)
    model_price_output_per_mtok: float = Field(default=3.00, ge=0)
    openclaw_version: str = "2026.11.1"
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
        "telegram_api_server", "public_base_url", "stripe_api_base", "aws_endpoint_url", "redis_url",
        "alert_webhook_url", "ec2_ami_id", "telegram_phone", "smtp_host", "ssh_host_override",
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


@dataclass
class ComponentReport:
    name: str
    needed_by_run: bool
    missing: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.malformed


def secret_value(value: SecretStr | None) -> str | None:
    """The plain value of a secret setting, or None when it is unset or empty."""
    return (value.get_secret_value() or None) if value else None


def _secret(value: SecretStr | None) -> str:
    return secret_value(value) or ""


def _check_fernet_key(key: str) -> bool:
    import base64

    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, TypeError):
        return False


def check_settings(s: Settings) -> list[ComponentReport]:
    """Per component: which settings are missing or malformed. Never includes a secret's value."""
    database = ComponentReport("database", needed_by_run=True)
    if not re.match(r"^(sqlite|postgres|postgresql|asyncpg|psycopg)://", s.database_url):
        database.malformed.append("DATABASE_URL (expected sqlite://path or postgres://user@host/db)")
    key = _secret(s.encryption_key)
    if not key:
        database.missing.append("ENCRYPTION_KEY (make one with: python main.py gen-key)")
    elif not _check_fernet_key(key):
        database.malformed.append("ENCRYPTION_KEY (not a Fernet key: 32 url-safe base64 bytes)")

    bot = ComponentReport("bot", needed_by_run=True)
    token = _secret(s.bot_token)
    if not token:
        bot.missing.append("BOT_TOKEN")
    elif not BOT_TOKEN_RE.match(token):
        bot.malformed.append("BOT_TOKEN (expected <digits>:<secret> as @BotFather gives it)")
    if not s.admin_id_set:
        bot.notes.append("ADMIN_IDS is empty: nobody can use /accounts or /instances")
    if s.telegram_mode == TelegramMode.WEBHOOK and not s.public_base_url:
        bot.missing.append("PUBLIC_BASE_URL (needed when TELEGRAM_MODE=webhook)")
    if s.public_base_url and not s.public_base_url.startswith("https://"):
        bot.notes.append("PUBLIC_BASE_URL is not https: Telegram only delivers webhooks over HTTPS")

    payments = ComponentReport("payments", needed_by_run=True)
    sk = _secret(s.stripe_secret_key)
    if not sk:
        payments.missing.append("STRIPE_SECRET_KEY")
    elif not re.match(r"^(sk|rk)_(test|live)_", sk):
        payments.malformed.append("STRIPE_SECRET_KEY (expected sk_test_… or sk_live_…)")
    wh = _secret(s.stripe_webhook_secret)
    if not wh:
        payments.missing.append("STRIPE_WEBHOOK_SECRET")
    elif not wh.startswith("whsec_"):
        payments.malformed.append("STRIPE_WEBHOOK_SECRET (expected whsec_…)")

    pool = ComponentReport("creator pool", needed_by_run=s.bot_creation_mode != BotCreationMode.MANAGED)
    if s.telegram_phone or s.telegram_api_id or s.telegram_api_hash:
        for env, value in (
            ("TELEGRAM_API_ID", s.telegram_api_id),
            ("TELEGRAM_API_HASH", _secret(s.telegram_api_hash)),
            ("TELEGRAM_PHONE", s.telegram_phone),
        ):
            if not value:
                pool.missing.append(env)
        api_hash = _secret(s.telegram_api_hash)
        if api_hash and not re.fullmatch(r"[0-9a-f]{32}", api_hash):
            pool.malformed.append("TELEGRAM_API_HASH (expected 32 hex characters)")
        if s.telegram_phone and not re.fullmatch(r"\+?\d{7,15}", s.telegram_phone):
            pool.malformed.append("TELEGRAM_PHONE (expected international digits, e.g. +15550000000)")
        if not _secret(s.telegram_session):
            pool.notes.append("TELEGRAM_SESSION is empty: run `python main.py accounts login` for this phone")
    else:
        pool.missing.append(
            "TELEGRAM_API_ID/TELEGRAM_API_HASH/TELEGRAM_PHONE (or accounts added with "
            "`python main.py accounts login`)"
        )
        pool.notes.append("accounts stored in the database also count; `accounts list` shows them")

    cloud = ComponentReport("cloud", needed_by_run=True)
    if not _secret(s.aws_access_key_id):
        cloud.missing.append("AWS_ACCESS_KEY_ID")
    if not _secret(s.aws_secret_access_key):
        cloud.missing.append("AWS_SECRET_ACCESS_KEY")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", s.aws_region):
        cloud.malformed.append("AWS_REGION (expected e.g. us-east-1)")
    if not _secret(s.moonshot_api_key):
        cloud.missing.append("MOONSHOT_API_KEY (the platform's model key; only the model gateway uses it)")
    if not re.match(r"^https?://[^/\s]+", s.model_upstream_base_url):
        cloud.malformed.append("MODEL_UPSTREAM_BASE_URL (expected e.g. https://api.moonshot.ai/v1)")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", s.model_gateway_path):
        cloud.malformed.append("MODEL_GATEWAY_PATH (expected a path such as /model/v1)")
    if not s.public_base_url:
        cloud.notes.append("PUBLIC_BASE_URL is empty: agents reach the model gateway at PUBLIC_BASE_URL"
                           f"{s.model_gateway_path} over HTTPS")
    if s.ec2_ami_id and not re.fullmatch(r"ami-[0-9a-f]{8,17}", s.ec2_ami_id):
        cloud.malformed.append("EC2_AMI_ID (expected ami-…)")
    if not re.fullmatch(r"\d{4}\.\d+\.\d+(-[\w.]+)?|\d+\.\d+\.\d+", s.openclaw_version):
        cloud.malformed.append("OPENCLAW_VERSION (pin an exact version, e.g. 2026.11.1)")
    if s.warm_pool_size < 0:
        cloud.malformed.append("WARM_POOL_SIZE (must be 0 or more)")

    alerts = ComponentReport("alerts", needed_by_run=False)
    if s.admin_telegram_chat_id is None:
        alerts.missing.append("ADMIN_TELEGRAM_CHAT_ID (where admin alerts go)")
    if s.smtp_host and not (s.smtp_from and s.smtp_to):
        alerts.missing.append("SMTP_FROM/SMTP_TO (needed with SMTP_HOST)")
    if s.alert_webhook_url and not s.alert_webhook_url.startswith(("http://", "https://")):
        alerts.malformed.append("ALERT_WEBHOOK_URL (expected an http(s) URL)")

    return [database, bot, payments, pool, cloud, alerts]

