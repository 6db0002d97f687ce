"""The migrated schema has what the models need, on both databases: every relation column (the
Instance/Order cycle once lost Instance's) and the status/customer indexes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from tortoise import Tortoise, connections
from tortoise.models import Model

import models as models_package
from models import Customer, Instance, Order, TelegramAccount


async def _columns(backend: str, table: str) -> set[str]:
    conn = connections.get("default")
    if backend == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1", [table]
        )
    else:
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {r["name"] for r in rows}


async def _indexed_columns(backend: str, table: str) -> set[str]:
    conn = connections.get("default")
    if backend == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT a.attname AS name FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) WHERE t.relname = $1",
            [table],
        )
        return {r["name"] for r in rows}
    names = [r["name"] for r in await conn.execute_query_dict(f'PRAGMA index_list("{table}")')]
    columns: set[str] = set()
    for name in names:
        columns |= {r["name"] for r in await conn.execute_query_dict(f'PRAGMA index_info("{name}")')}
    return columns


def _models_defined() -> set[type[Model]]:
    """Every concrete Model class in the models package, found by walking its modules."""
    found: set[type[Model]] = set()
    for module in pkgutil.iter_modules(models_package.__path__):
        loaded = importlib.import_module(f"models.{module.name}")
        found |= {
            obj
            for obj in vars(loaded).values()
            if inspect.isclass(obj) and issubclass(obj, Model) and obj is not Model and not obj._meta.abstract
        }
    return found


async def test_every_model_field_has_its_column(db: str, backend: str) -> None:
    models = list(Tortoise.apps["models"].values())
    assert {m.__name__ for m in _models_defined()} <= {m.__name__ for m in models}  # none left out
    for model in models:
        wanted = set(model._meta.fields_db_projection.values())
        assert wanted <= await _columns(backend, model._meta.db_table), model.__name__


async def test_status_and_customer_columns_are_indexed(db: str, backend: str) -> None:
    assert {"status", "customer_id"} <= await _indexed_columns(backend, "instance")
    assert {"status", "customer_id"} <= await _indexed_columns(backend, "order")
    assert {"status", "run_after"} <= await _indexed_columns(backend, "job")


async def test_instance_relations_work(db: str) -> None:
    customer = await Customer.create(telegram_id=1)
    order = await Order.create(customer=customer, package="starter", bot_name="x")
    account = await TelegramAccount.create(phone="+15550009999", api_id=1, api_hash="h" * 32)
    instance = await Instance.create(order=order, customer=customer, creator_account=account)
    fetched = await Instance.get(id=instance.id).select_related("order", "customer", "creator_account")
    assert (fetched.order.id, fetched.customer.id, fetched.creator_account.id) == (
        order.id,
        customer.id,
        account.id,
    )
