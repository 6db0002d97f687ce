"""The hand-written statements are generated from the models (services.infra.generated_sql): an
INSERT writes every column of its model, the usage upsert adds up every counter column, and a row
that misses a column (one added to the model, say) is refused instead of being stored with a silent
NULL. With the database open, so that relation columns are part of the models' field lists."""

from __future__ import annotations

import re

import pytest

from models import Job, ModelUsage, Order, StripeEvent
from services.infra.generated_sql import add_on_conflict_statement
from services.model_gateway.usage import UPSERT_KEY
from services.payments.check import Charge
from services.payments.stripe_events import insert_event, set_outcome
from services.payments.stripe_paid import PAYMENT_FIELDS, enqueue_once, mark_paid, payment_values


def _columns(template: str) -> set[str]:
    head = template.split("VALUES")[0].split("WHERE")[0]
    return set(re.findall(r'"(\w+)"', head)) - {
        m._meta.db_table for m in (Job, StripeEvent, Order, ModelUsage)
    }


def _every_column(model) -> set[str]:
    return set(model._meta.db_fields) - {model._meta.db_pk_column}


@pytest.mark.parametrize(("statement", "model"), [(insert_event, StripeEvent), (enqueue_once, Job)])
async def test_every_insert_on_the_paid_path_writes_every_column_of_its_model(db, statement, model) -> None:
    assert _columns(statement().template) == _every_column(model)


async def test_a_row_missing_a_column_or_bringing_an_unknown_one_is_refused(db) -> None:
    row = dict.fromkeys(enqueue_once().fields)
    assert len(enqueue_once().values(row)) == len(enqueue_once().fields)
    with pytest.raises(ValueError, match="missing \\['finished_at'\\]"):
        enqueue_once().values({k: v for k, v in row.items() if k != "finished_at"})
    with pytest.raises(ValueError, match="unknown \\['new_column'\\]"):
        enqueue_once().values({**row, "new_column": 1})
    with pytest.raises(ValueError, match="WHERE values"):
        set_outcome().values({"outcome": "paid", "processed_at": None})  # the event id is missing


async def test_marking_an_order_paid_writes_every_field_a_payment_sets(db) -> None:
    session = {"id": "cs_test_1", "amount_total": 900, "currency": "usd", "payment_intent": "pi_1"}
    assert set(payment_values(session, Charge.of_session(session))) == set(PAYMENT_FIELDS)
    assert _columns(mark_paid().template) == {*PAYMENT_FIELDS, "updated_at"}
    assert mark_paid().template.endswith('WHERE "id" = %s AND "status" IN (%s, %s)')


async def test_the_usage_upsert_writes_every_column_and_adds_up_every_counter(db) -> None:
    upsert = add_on_conflict_statement(ModelUsage, UPSERT_KEY, 1)
    sql = upsert.template
    assert _columns(sql) == _every_column(ModelUsage)
    assert set(upsert.fields) == set(ModelUsage._meta.fields_db_projection) - {"id"}
    added = set(re.findall(r'"(\w+)" = "model_usage"\."\w+" \+ excluded', sql))
    assert added == _every_column(ModelUsage) - {"instance_id", "day", "updated_at"}
