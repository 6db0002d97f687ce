"""Instance health checks with one automatic repair, against real stand-ins (see instance_rig)."""

from __future__ import annotations

from models import Alert, AlertSeverity, Instance, InstanceStatus, Job
from services.cloud.health import InstanceHealth
from services.jobs.kinds import DELIVER_ALERT
from tests.services.instance_rig import (  # noqa: F401 - fixtures
    Rig,
    aws_endpoint,
    instance_key,
    live_instance,
    moto_server,
    platform_key,
    rig,
    ssh_box,
)


async def test_a_healthy_instance_is_recorded_and_left_alone(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    report = await rig.care.health.check_instance(instance)
    assert report is not None and report.healthy
    row = await Instance.get(id=instance.id)
    assert row.status == InstanceStatus.ACTIVE and row.last_health_at is not None
    assert row.last_health["readyz_ok"] is True and row.last_health["problems"] == []
    assert row.last_health["mem_used_mb"] == 820 and row.last_health["gateway_memory_mb"] == 480
    assert rig.box.commands_matching("systemctl restart") == []
    assert await Alert.all().count() == 0
    checked = {
        c.command.split(" http")[0] if "curl" in c.command else c.command.split()[0] for c in rig.box.commands
    }
    assert {"curl -fsS -m 5", "systemctl", "free", "sudo"} <= checked
    assert rig.box.commands_matching("/healthz") and rig.box.commands_matching("/readyz")
    assert rig.box.commands_matching("systemctl show -p NRestarts")
    assert rig.box.commands_matching("journalctl -k")
    assert rig.box.commands_matching("journalctl -u openclaw-gateway")


async def test_failing_readiness_leads_to_one_restart_and_then_an_alert(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    rig.box.behaviour.readiness_broken = True

    report = await rig.care.health.check_instance(instance)

    assert report is not None and not report.healthy
    assert len(rig.box.commands_matching("systemctl restart")) == 1
    alert = await Alert.get(kind="instance_unhealthy")
    assert "/readyz failing" in alert.text and "Automatic repair: restart" in alert.text
    assert "After the repair: /readyz failing" in alert.text
    assert await Job.filter(kind=DELIVER_ALERT).count() == 1
    row = await Instance.get(id=instance.id)
    assert row.status == InstanceStatus.UNHEALTHY and row.repair_attempts == 1

    # the repair is spent: the next check alerts again (merged) without restarting again
    await rig.care.health.check_instance(row)
    assert len(rig.box.commands_matching("systemctl restart")) == 1
    assert (await Alert.get(kind="instance_unhealthy")).count == 2  # merged, not a second message
    assert await Job.filter(kind=DELIVER_ALERT).count() == 1


async def test_a_409_conflict_leads_to_delete_webhook_then_restart(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    rig.box.behaviour.conflict_409 = True

    report = await rig.care.health.check_instance(instance)

    calls = rig.bot_api.calls_of("deleteWebhook")
    assert [c.token for c in calls] == [instance.bot_token]
    restarts = rig.box.commands_matching("systemctl restart")
    assert len(restarts) == 1
    assert report is not None and report.healthy  # the conflict is gone after the restart
    assert await Alert.filter(kind="instance_unhealthy").count() == 0
    repaired = await Alert.get(kind="instance_repaired")
    assert repaired.severity == AlertSeverity.INFO and "deleteWebhook, restart" in repaired.text
    assert "409" in repaired.text
    assert instance.bot_token not in repaired.text
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.ACTIVE


async def test_oom_kills_that_persist_after_the_repair_are_reported_to_admins(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    rig.box.behaviour.oom_kills = 2
    await rig.care.health.check_instance(instance)
    alert = await Alert.get(kind="instance_unhealthy")
    assert "2 OOM kill(s) in the kernel log" in alert.text
    assert "memory 820/1910 MB in use" in alert.text


async def test_an_unreachable_instance_is_rebooted_once_and_alerted_critically(rig: Rig) -> None:
    instance = await live_instance(rig)
    await rig.box.stop()
    await rig.care.health.check_instance(instance)
    alert = await Alert.get(kind="instance_unhealthy")
    assert alert.severity == AlertSeverity.CRITICAL
    assert "SSH unreachable" in alert.text and "EC2 reboot" in alert.text
    row = await Instance.get(id=instance.id)
    assert row.status == InstanceStatus.UNHEALTHY and row.repair_attempts == 1


async def test_sweep_health_checks_live_instances_only_and_one_worker_per_instance(rig: Rig) -> None:
    active = await live_instance(rig, launch=False)
    stopped = await live_instance(rig, status=InstanceStatus.STOPPED, launch=False)
    assert await rig.care.health.sweep_health() == 1
    assert (await Instance.get(id=active.id)).last_health_at is not None
    assert (await Instance.get(id=stopped.id)).last_health_at is None
    throttled = InstanceHealth(
        settings=rig.settings,
        queue=rig.queue,
        ssh=rig.care.health.ssh,
        fleet=rig.fleet,
        bot_api=None,
        min_check_interval_s=600,
    )
    assert await throttled.sweep_health() == 0  # just checked: another worker leaves it alone
