"""Data only: Tortoise models. Import everything from here."""

from models.accounts import TelegramAccount
from models.alerts import AdminAction, Alert
from models.customers import Customer
from models.enums import AccountStatus, AlertSeverity, InstanceStatus, JobStatus, OrderStatus
from models.instances import Instance, Verification
from models.jobs import Job
from models.model_gateway import ModelKey, ModelQuotaOverride, ModelUsage
from models.orders import Order, StripeEvent
from models.platform import PlatformKey
from models.support import SupportMessage

# every id is an IntField primary key, a 32-bit column on PostgreSQL: a larger value names no row, and
# sent in a query it raises there (so ids from user input are checked against this first)
MAX_ID = 2**31 - 1

__all__ = [
    "AccountStatus",
    "AdminAction",
    "Alert",
    "AlertSeverity",
    "Customer",
    "Instance",
    "InstanceStatus",
    "Job",
    "JobStatus",
    "MAX_ID",
    "ModelKey",
    "ModelQuotaOverride",
    "ModelUsage",
    "Order",
    "OrderStatus",
    "PlatformKey",
    "StripeEvent",
    "SupportMessage",
    "TelegramAccount",
    "Verification",
]
