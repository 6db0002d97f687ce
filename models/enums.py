"""Status enums: stored as short strings, so both databases read them the same way."""

from enum import StrEnum


class AccountStatus(StrEnum):
    ACTIVE = "active"
    COOLING_DOWN = "cooling_down"
    LIMITED = "limited"
    BANNED = "banned"
    SESSION_DEAD = "session_dead"
    FULL = "full"
    DISABLED = "disabled"


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    NEEDS_REVIEW = "needs_review"  # money arrived but does not pay this order: an admin approves or refunds
    PROVISIONING = "provisioning"
    AWAITING_VERIFICATION = "awaiting_verification"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDED = "refunded"


class InstanceStatus(StrEnum):
    WARM = "warm"  # pre-booted, never used by a customer, waiting in the warm pool
    LAUNCHING = "launching"
    BOOTING = "booting"
    READY = "ready"
    ACTIVE = "active"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # kept for jobs cancelled on purpose; exhausted jobs are DEAD
    DEAD = "dead"


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
