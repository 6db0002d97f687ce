"""Settings for every component, read from the environment or `.env`.

Names follow DESIGN.md section 7. Secrets are `SecretStr` so they never print by accident.
What each command needs of them, and `check-config`, are in cli/config_check.py.
"""

from __future__ import annotations

import re
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


# values .env.example ships with: reported as not set, never accepted as credentials
_PLACEHOLDER_RE = re.compile(r"replace|change-me|changeme", re.I)


def is_placeholder(value: object) -> bool:
    """A value .env.example ships with ("replace-me", "change-me"): never accepted as a credential."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return isinstance(text, str) and bool(_PLACEHOLDER_RE.search(text))


def secret_value(value: SecretStr | None) -> str | None:
    """The plain value of a secret setting, or None when it is unset or empty."""
    return (value.get_secret_value() or None) if value else None


def configured_secret(value: SecretStr | None) -> str:
    """The secret's value; a placeholder from .env.example counts as unset."""
    plain = secret_value(value) or ""
    return "" if is_placeholder(plain) else plain
