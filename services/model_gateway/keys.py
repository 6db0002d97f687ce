"""Per-instance model keys: what an agent presents to the model gateway instead of the platform key.

A key is 32 random bytes (`mm_live_<base64url>`); only its SHA-256 is stored (a key this random needs
no slow hash), so a database leak gives nobody a working key. An instance has at most one live key:
issuing a new one revokes the old one in the same transaction. The gateway checks the key against
the database on every request, so a revoked key is refused from the next request on, by every web
replica.

Lifecycle (who calls what):
- `issue_instance_key(instance_id)` at activation and re-provisioning: returns the plaintext ONCE,
  to be written into the agent's config (`models.providers.<id>.apiKey`).
- `revoke_instance_keys(instance_id, reason)` when the instance is stopped (expiry), terminated,
  or about to be re-provisioned (the new key replaces it).
"""

from __future__ import annotations

import hashlib
import logging
import secrets as pysecrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from models import Instance, ModelKey
from services.infra.logging_setup import secrets as log_secrets
from services.jobs.queue import utcnow

log = logging.getLogger(__name__)

KEY_PREFIX = "mm_live_"
_KEY_CHARS = 43  # 32 bytes in url-safe base64 without padding
# what `instances agent-config` prints in place of an instance's key (not key-shaped: never accepted)
PLACEHOLDER_KEY = "mm_PLACEHOLDER_each_instance_gets_its_own_key_at_activation"


def gateway_base_url(public_base_url: str, gateway_path: str) -> str:
    """The model provider `baseUrl` an agent's config gets: PUBLIC_BASE_URL + MODEL_GATEWAY_PATH."""
    return public_base_url.rstrip("/") + "/" + gateway_path.strip("/")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + pysecrets.token_urlsafe(32)


def looks_like_key(value: str) -> bool:
    """A cheap shape check before any database work: prefix and length."""
    return value.startswith(KEY_PREFIX) and len(value) == len(KEY_PREFIX) + _KEY_CHARS


@dataclass(frozen=True)
class KeyHolder:
    """The instance a live key belongs to, as the gateway needs it."""

    key_id: int
    instance_id: int
    customer_id: int | None
    order_id: int | None
    bot_username: str | None


async def issue_instance_key(instance_id: int, *, reason: str = "replaced") -> str:
    """A new live key for the instance (the previous live one is revoked). Returns the plaintext."""
    key = new_key()
    log_secrets.add(key)  # never printed in a log line, even by accident
    now = utcnow()
    async with in_transaction() as conn:
        # the instance row's lock orders concurrent issues, so exactly one key stays live (PostgreSQL)
        await Instance.filter(id=instance_id).select_for_update().using_db(conn).first()
        await (
            ModelKey.filter(instance_id=instance_id, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now, revoked_reason=reason)
        )
        await ModelKey.create(
            instance_id=instance_id,
            key_hash=hash_key(key),
            key_prefix=key[: len(KEY_PREFIX) + 4],
            using_db=conn,
        )
    log.info("model key issued", extra={"instance_id": instance_id})
    return key


async def revoke_instance_keys(instance_id: int, reason: str) -> int:
    """Revoke every live key of the instance; returns how many were live. Idempotent."""
    revoked = await ModelKey.filter(instance_id=instance_id, revoked_at=None).update(
        revoked_at=utcnow(), revoked_reason=reason[:64]
    )
    if revoked:
        log.info("model key revoked", extra={"instance_id": instance_id, "reason": reason})
    return int(revoked)


async def authenticate(key: str) -> KeyHolder | None:
    """The holder of a live key, or None for an unknown, malformed or revoked key."""
    if not looks_like_key(key):
        return None
    row = (
        await ModelKey.filter(key_hash=hash_key(key), revoked_at=None)
        .first()
        .values("id", "instance_id", "instance__customer_id", "instance__order_id", "instance__bot_username")
    )
    if row is None:
        return None
    return KeyHolder(
        key_id=row["id"],
        instance_id=row["instance_id"],
        customer_id=row["instance__customer_id"],
        order_id=row["instance__order_id"],
        bot_username=row["instance__bot_username"],
    )
