"""Admin alerts: every alert is stored first, then delivered by the worker (`deliver_alert` job).

`raise_alert` is what every part of the app calls. Identical alerts (same dedup key) within the
merge window bump the stored alert's count instead of creating and delivering another one.
Delivery channels (admin chat, e-mail, JSON webhook) are built in the alerts delivery service.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from models import Alert, AlertSeverity
from services.infra.logging_setup import redact
from services.jobs.kinds import DELIVER_ALERT
from services.jobs.queue import JobQueue, utcnow

MERGE_WINDOW = timedelta(minutes=10)


async def raise_alert(
    queue: JobQueue,
    kind: str,
    text: str,
    *,
    severity: AlertSeverity = AlertSeverity.WARNING,
    dedup_key: str | None = None,
    using_db: Any = None,
) -> Alert:
    """Store an alert (secrets redacted) and queue its delivery, merging repeats in the window."""
    text = redact(text)
    dedup_key = dedup_key or f"{kind}:{text}"[:255]
    since = utcnow() - MERGE_WINDOW
    recent = (
        await Alert.filter(dedup_key=dedup_key, created_at__gte=since)
        .using_db(using_db)
        .order_by("-id")
        .first()
    )
    if recent is not None:
        recent.count += 1
        await recent.save(using_db=using_db, update_fields=["count", "updated_at"])
        return recent
    alert = await Alert.create(
        kind=kind, severity=severity, text=text, dedup_key=dedup_key, using_db=using_db
    )
    await queue.enqueue(DELIVER_ALERT, {"alert_id": alert.id}, key=f"alert:{alert.id}", using_db=using_db)
    return alert
