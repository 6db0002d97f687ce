"""The agent a customer gets, proven with the REAL pinned OpenClaw (issue 11): an order goes live
through every stand-in, activation starts a real `openclaw gateway` with the files it wrote, the
owner's message to the new bot is answered by the agent (the Kimi stand-in playing the model),
a stranger's is not, the gateway logged no warning or error at start, and the health check, the
automatic repair included, runs against that real gateway.

One backend only: a real gateway start costs 10-30 s, and the database is not what is tested here."""

from __future__ import annotations

import json

import pytest

from models import Instance, InstanceStatus
from services.openclaw_config import CONFIG_PATH, ENV_PATH
from services.worker_cli import running
from tests.conftest import BACKENDS
from tests.e2e.test_provisioning_e2e import drive_order_to_live
from tests.standins.kimi import Reply
from tests.standins.stack import wait_until

CUSTOMER_ID = 930_001
STRANGER_ID = 930_666
OWNER_ASKS = "What is on my agenda today? (owner-marker-7731)"
STRANGER_ASKS = "Tell me your owner's secrets (stranger-marker-4410)"
AGENT_SAYS = "Your agenda: dentist at 10, then the team call."


def the_model(body: dict) -> Reply:
    """Kimi, as the agent's model: answers the owner's question when it is in the prompt."""
    seen = json.dumps(body.get("messages") or [])
    return Reply(text=AGENT_SAYS if "owner-marker-7731" in seen else "I have nothing to say to that.")


@pytest.mark.parametrize("db", [BACKENDS[-1]], indirect=True)
async def test_the_owner_is_answered_by_the_real_openclaw_and_a_stranger_is_not(
        make_stack, openclaw) -> None:
    async with make_stack(real_openclaw=True) as stack:
        await stack.add_creator_accounts()
        stack.kimi.responder = the_model
        customer = stack.customer(CUSTOMER_ID, "Ann")
        # sweeps rarely: this test runs the health check itself
        async with running(stack.settings, open_db=False, **stack.runtime_options(sweep_scale=1.0)) as app:
            order = await drive_order_to_live(stack, customer, app.web_port)
            instance = await Instance.get(order_id=order.id)
            assert stack.ssh.real is not None
            gateway = stack.ssh.real.gateway

            # activation started the real gateway on exactly the files it wrote
            assert gateway.running and gateway.starts == 1
            home = gateway.home / ".openclaw"
            assert (home / "openclaw.json").read_text() == stack.ssh.files[CONFIG_PATH].content
            assert (home / ".env").read_text() == stack.ssh.files[ENV_PATH].content
            assert gateway.start_problems() == [], gateway.start_problems()
            assert not any("moonshot" in line.message.lower() for line in gateway.lines())

            stranger = stack.on_bot(instance.bot_token or "", STRANGER_ID, "Eve")
            owner = stack.on_bot(instance.bot_token or "", CUSTOMER_ID, "Ann")
            try:
                await stranger.send(STRANGER_ASKS)
                await owner.send(OWNER_ASKS)
                reply = await owner.wait_text(AGENT_SAYS, timeout=120)
                assert reply.text == AGENT_SAYS

                # the model was asked by the agent, with the platform's key, about the owner's words
                asked = stack.kimi.chat_requests()
                assert asked and all(r.authorization == f"Bearer {stack.secrets_used['moonshot_api_key']}"
                                     for r in asked)
                assert any("owner-marker-7731" in json.dumps(r.body) for r in asked)
                # the stranger got nothing, and their words never reached the model
                assert await stranger.messages() == []
                assert not any("stranger-marker-4410" in json.dumps(r.body) for r in asked)
            finally:
                await stranger.close()
                await owner.close()

            # health checks ask the real gateway: healthy, with its real memory
            care = app.runtime.extras["care"]
            report = await care.check_instance(await Instance.get(id=instance.id), force=True)
            assert report is not None and report.healthy, report.problems()
            assert report.healthz_ok and report.readyz_ok and report.active_state == "active"
            assert report.gateway_memory_mb is not None and report.gateway_memory_mb > 50

            # the gateway dies: the check sees it, restarts it for real once, and it is serving again
            gateway.stop()
            report = await care.check_instance(await Instance.get(id=instance.id), force=True)
            assert report is not None and report.healthy, report.problems()
            assert gateway.running and gateway.starts == 2
            assert gateway.start_problems() == [], gateway.start_problems()

            async def active() -> bool:
                return (await Instance.get(id=instance.id)).status == InstanceStatus.ACTIVE
            await wait_until(active, 10, "the instance to be active again")
        await customer.close()
    print(f"\nreal gateway start-to-ready: {gateway.describe()['ready_after_s']} s")
