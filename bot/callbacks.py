"""CallbackData factories: every button's data, typed and short (Telegram allows 64 bytes).

Button data comes back from the client and can be forged: every row id is a `DbId`, so an id no row
can have fails to unpack and the press gets the answer of any unmatched button (the fallback router)
instead of reaching a query (PostgreSQL raises on an id beyond its 32-bit columns)."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from models import MAX_ID

DbId = Annotated[int, Field(gt=0, le=MAX_ID)]


class MenuCb(CallbackData, prefix="m"):
    action: str  # new | mybots | help


class PackageCb(CallbackData, prefix="pkg"):
    code: str


class OrderCb(CallbackData, prefix="o"):
    action: str  # suggest | skip | confirm | edit | cancel | back


class EditCb(CallbackData, prefix="e"):
    field: str  # package | name | username | description | avatar


class MyBotsCb(CallbackData, prefix="mb"):
    page: int = 0


class AgentCb(CallbackData, prefix="ag"):
    action: str  # show | restart | persona | profile
    instance_id: DbId
    page: int = 0  # the /mybots page to go back to


class RenewCb(CallbackData, prefix="r"):
    instance_id: DbId


class AccountCb(CallbackData, prefix="ac"):
    action: str  # check | enable | disable | prio_up | prio_down
    account_id: DbId


class InstanceListCb(CallbackData, prefix="il"):
    status: str
    page: int = 0


class InstanceCb(CallbackData, prefix="in"):
    action: str  # show | health | restart | reprovision | terminate | terminate_yes | terminate_no
    instance_id: DbId


class OrderListCb(CallbackData, prefix="ol"):
    status: str  # "all" or an OrderStatus value


class SupportCb(CallbackData, prefix="sup"):
    reference: str = ""  # the error reference the customer asks about, if any


class LanguageCb(CallbackData, prefix="lang"):
    code: str
