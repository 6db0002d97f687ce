"""The instance admin actions through their job handlers (restart, terminate, health check,
re-provision), against real stand-ins (see instance_rig)."""

from __future__ import annotations

import pytest

from models import Alert, Instance, InstanceStatus, ModelKey
from services.cloud.activation import GatewayUrlMissing
from services.cloud.openclaw_config import CONFIG_PATH, ENV_PATH
from services.jobs.kinds import (
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import utcnow
from services.model_gateway.keys import authenticate, issue_instance_key
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


async def _run_job(rig: Rig, kind: str, payload: dict) -> None:
    await rig.queue.enqueue(kind, payload)
    claimed = await rig.queue.claim([kind])
    assert claimed is not None
    await rig.care.handlers()[kind](claimed)


async def test_admin_restart_restarts_the_gateway_and_tells_the_admins(rig: Rig) -> None:
    instance = await live_instance(rig, status=InstanceStatus.UNHEALTHY, launch=False)
    await _run_job(rig, INSTANCE_RESTART, {"instance_id": instance.id})
    assert len(rig.box.commands_matching("sudo -n systemctl restart openclaw-gateway")) == 1
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.ACTIVE
    assert "restarted on request" in (await Alert.get(kind="instance_restart")).text


async def test_admin_terminate_leaves_no_running_instance(rig: Rig) -> None:
    instance = await live_instance(rig)
    await _run_job(rig, INSTANCE_TERMINATE, {"instance_id": instance.id, "reason": "admin"})
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.TERMINATED
    assert await rig.fleet.state(instance.ec2_instance_id) == "terminated"
    await _run_job(rig, INSTANCE_TERMINATE, {"instance_id": instance.id})  # twice is harmless


async def test_terminate_revokes_the_agents_model_key(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    key = await issue_instance_key(instance.id)
    await _run_job(rig, INSTANCE_TERMINATE, {"instance_id": instance.id, "reason": "admin"})
    assert await authenticate(key) is None
    assert (await ModelKey.get(instance_id=instance.id)).revoked_reason == "terminated"


async def test_admin_health_check_job_checks_even_if_checked_moments_ago(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    instance.last_health_at = utcnow()
    await instance.save()
    await _run_job(rig, INSTANCE_HEALTH_CHECK, {"instance_id": instance.id})
    assert rig.box.commands_matching("/readyz")


async def test_reprovision_rewrites_the_config_on_the_same_instance(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    await _run_job(rig, INSTANCE_REPROVISION, {"instance_id": instance.id})
    import json5

    config = json5.loads(rig.box.files[CONFIG_PATH].content)
    assert config["channels"]["telegram"]["botToken"] == instance.bot_token
    assert config["channels"]["telegram"]["allowFrom"] == [str(instance.owner_telegram_id)]
    assert len(rig.box.commands_matching("systemctl restart")) == 1


async def test_reprovision_replaces_the_model_key(rig: Rig) -> None:
    instance = await live_instance(rig, launch=False)
    old_key = await issue_instance_key(instance.id)
    await _run_job(rig, INSTANCE_REPROVISION, {"instance_id": instance.id})
    assert await authenticate(old_key) is None
    keys = await ModelKey.filter(instance_id=instance.id).order_by("id")
    assert [k.revoked_reason for k in keys] == ["reprovisioned", None]
    # the agent calls the model gateway with the NEW key; the platform key is in none of its files
    import json5

    env_text = rig.box.files[ENV_PATH].content
    new_key = env_text.strip().partition("=")[2]
    holder = await authenticate(new_key)
    assert holder is not None and holder.instance_id == instance.id
    provider = json5.loads(rig.box.files[CONFIG_PATH].content)["models"]["providers"]["meetmatt"]
    assert provider["baseUrl"] == "https://meetmatt.example/model/v1"
    platform_key = rig.settings.moonshot_api_key.get_secret_value()
    assert all(platform_key not in f.content for f in rig.box.files.values())


async def test_activation_without_public_base_url_is_refused_before_a_key_or_a_token_is_made(
    rig: Rig,
) -> None:
    instance = await live_instance(rig, launch=False)
    await Instance.filter(id=instance.id).update(gateway_token=None)
    instance = await Instance.get(id=instance.id)
    old_key = await issue_instance_key(instance.id)
    rig.care.actions.settings = rig.settings.model_copy(update={"public_base_url": None})
    with pytest.raises(GatewayUrlMissing, match="PUBLIC_BASE_URL is not set"):
        await rig.care.actions.activate_agent(
            instance, bot_token=instance.bot_token or "", owner_id=1, reason="activated again"
        )
    # the running agent keeps its key and nothing reached the server
    assert await authenticate(old_key) is not None
    assert await ModelKey.filter(instance_id=instance.id).count() == 1
    assert (await Instance.get(id=instance.id)).gateway_token is None
    assert rig.box.commands == []


async def test_a_config_push_counts_as_the_instances_health_check(rig: Rig) -> None:
    """The push restarts the gateway; a health sweep in the middle of it must not take that for an
    outage and restart it again, so the push claims the instance's check for the check interval."""
    from services.cloud.health import InstanceHealth

    instance = await live_instance(rig, launch=False)
    before = utcnow()
    await _run_job(rig, INSTANCE_REPROVISION, {"instance_id": instance.id})
    pushed = await Instance.get(id=instance.id)
    assert pushed.last_health_at is not None and pushed.last_health_at >= before
    restarts = len(rig.box.commands_matching("systemctl restart"))
    health = InstanceHealth(
        settings=rig.settings,
        queue=rig.queue,
        ssh=rig.care.actions.ssh,
        fleet=rig.fleet,
        bot_api=None,
        min_check_interval_s=60,
    )
    assert await health.sweep_health() == 0  # left alone: the push just saw the gateway ready
    assert len(rig.box.commands_matching("systemctl restart")) == restarts
