"""What every payment attack test checks: nothing provisioned, one alert, the event kept."""

from __future__ import annotations

from models import Alert, Job, StripeEvent
from services.jobs.kinds import PROVISION


async def assert_held_with_one_alert(event_id: str) -> Alert:
    assert await Job.filter(kind=PROVISION).count() == 0
    [alert] = await Alert.filter(kind="stripe.needs_review")
    assert alert.count == 1
    row = await StripeEvent.get(event_id=event_id)
    assert row.outcome == "needs_review" and row.payload["id"] == event_id
    return alert
