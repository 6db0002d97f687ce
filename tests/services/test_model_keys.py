"""Per-instance model keys: random, stored only as a hash, one live key per instance, revocation final."""

from __future__ import annotations

import asyncio

import pytest

from models import Customer, Instance, ModelKey, Order
from services.model_gateway.keys import (
    KEY_PREFIX,
    authenticate,
    gateway_base_url,
    hash_key,
    issue_instance_key,
    looks_like_key,
    revoke_instance_keys,
)


async def _instance(telegram_id: int = 77) -> Instance:
    customer = await Customer.create(telegram_id=telegram_id)
    order = await Order.create(customer=customer, package="starter", bot_name="x")
    return await Instance.create(order=order, customer=customer, bot_username="x_bot")


async def test_a_key_is_random_and_only_its_hash_is_stored(db):
    instance = await _instance()
    key = await issue_instance_key(instance.id)
    other = await issue_instance_key((await _instance(78)).id)
    assert key != other and key.startswith(KEY_PREFIX) and looks_like_key(key)
    row = await ModelKey.get(instance_id=instance.id)
    assert row.key_hash == hash_key(key) and key not in (row.key_hash, row.key_prefix)
    assert len(row.key_prefix) < len(key) // 3


async def test_the_holder_of_a_live_key_is_its_instance(db):
    instance = await _instance()
    holder = await authenticate(await issue_instance_key(instance.id))
    assert holder is not None
    assert (holder.instance_id, holder.customer_id, holder.order_id, holder.bot_username) == (
        instance.id,
        instance.customer_id,
        instance.order_id,
        "x_bot",
    )


async def test_issuing_again_revokes_the_previous_key(db):
    instance = await _instance()
    first = await issue_instance_key(instance.id)
    second = await issue_instance_key(instance.id, reason="reprovisioned")
    assert await authenticate(first) is None
    assert await authenticate(second) is not None
    assert await ModelKey.filter(instance_id=instance.id, revoked_at=None).count() == 1


async def test_revocation_is_final_and_idempotent(db):
    instance = await _instance()
    key = await issue_instance_key(instance.id)
    assert await revoke_instance_keys(instance.id, "terminated") == 1
    assert await revoke_instance_keys(instance.id, "terminated") == 0
    assert await authenticate(key) is None
    assert (await ModelKey.get(instance_id=instance.id)).revoked_reason == "terminated"


async def test_malformed_or_foreign_keys_are_refused_without_a_match(db):
    instance = await _instance()
    key = await issue_instance_key(instance.id)
    for candidate in (
        "",
        key[:-1],
        key + "x",
        key.upper(),
        "sk-" + key[len(KEY_PREFIX) :],
        KEY_PREFIX + "A" * 43,
    ):
        assert await authenticate(candidate) is None


async def test_concurrent_issues_leave_exactly_one_live_key(db):
    instance = await _instance()
    keys = await asyncio.gather(*(issue_instance_key(instance.id) for _ in range(5)))
    live = [k for k in keys if await authenticate(k) is not None]
    assert len(live) == 1
    assert await ModelKey.filter(instance_id=instance.id, revoked_at=None).count() == 1


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://matt.example.com", "/model/v1", "https://matt.example.com/model/v1"),
        ("https://matt.example.com/", "model/v1/", "https://matt.example.com/model/v1"),
    ],
)
def test_the_agents_base_url_is_the_public_url_plus_the_gateway_path(base, path, url):
    assert gateway_base_url(base, path) == url
