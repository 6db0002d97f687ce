"""Attack: get the saga to recover (/token) or delete (/deletebot) a bot it did not create. An order
asks for the username of a live customer's bot made by the same creator account; its worker dies
after recording the requested username and before BotFather's answer. The resumed job, and its
compensation if it dies, must leave the other customer's bot alone.

Real AccountPool and BotFatherDialogue over the scripted BotFather (no MTProto server exists offline).
"""

from __future__ import annotations

import secrets

import pytest

from models import Customer, Instance, InstanceStatus, Order, OrderStatus, TelegramAccount
from services.accounts.pool import AccountPool
from services.jobs.kinds import PROVISION
from services.jobs.queue import JobQueue
from services.payments.packages import DEFAULT_PACKAGES
from services.provisioning.pool_bot_maker import PoolBotMaker
from services.provisioning.saga import ProvisioningSaga, SagaDeps
from tests.standins.botfather import ScriptedTelegram, SimulatedCrash, fake_string_session

PHONE = "+15550000001"
LIVE = "ann_helper_bot"


class Progress:
    def __init__(self) -> None:
        self.steps: list[str] = []

    async def report(self, order_id: int, step: str, **_: object) -> None:
        self.steps.append(step)


class Fleet:
    """Only what compensation asks of EC2 here: terminate the job's server."""

    def __init__(self) -> None:
        self.terminated: list[str] = []

    async def terminate(self, ec2_id: str) -> None:
        self.terminated.append(ec2_id)

    async def find_by_job(self, job_id: int) -> None:
        return None


@pytest.fixture
async def world(db: str) -> ScriptedTelegram:
    await TelegramAccount.create(
        phone=PHONE, api_id=1, api_hash=secrets.token_hex(16), session=fake_string_session(), priority=1
    )
    return ScriptedTelegram()


def saga_for(world: ScriptedTelegram, queue: JobQueue) -> tuple[ProvisioningSaga, Fleet]:
    fleet = Fleet()
    pool = AccountPool(world.client_for, queue, reply_timeout=1.0)
    deps = SagaDeps(
        queue=queue,
        fleet=fleet,
        bot_maker=PoolBotMaker(pool),
        bot_api=None,
        verifier=None,
        progress=Progress(),
        packages=DEFAULT_PACKAGES,
        generate_host_key=None,
        render_user_data=None,
        wait_bootstrapped=None,
        activate=None,
        resume_stopped=None,
    )
    return ProvisioningSaga(deps), fleet


async def ann_live_on_the_same_account(world: ScriptedTelegram, queue: JobQueue) -> str:
    pool = AccountPool(world.client_for, queue, reply_timeout=1.0)

    async def chosen(account_id: int, username: str) -> None:
        return None

    made = await pool.create_bot(
        name="Ann",
        username_candidates=[LIVE],
        description="",
        about="",
        photo=None,
        on_username_chosen=chosen,
    )
    ann = await Customer.create(telegram_id=700_001)
    order = await Order.create(
        customer=ann, package="starter", bot_name="Ann", bot_username=LIVE, status=OrderStatus.ACTIVE
    )
    await Instance.create(
        order=order,
        customer=ann,
        status=InstanceStatus.ACTIVE,
        bot_username=LIVE,
        bot_token=made.token,
        creator_account_id=made.account_id,
    )
    return made.token


async def bobs_job_killed_after_recording(queue: JobQueue, username: str):
    bob = await Customer.create(telegram_id=700_002)
    order = await Order.create(
        customer=bob,
        package="starter",
        bot_name="Copycat",
        bot_username=username,
        status=OrderStatus.PROVISIONING,
    )
    instance = await Instance.create(
        order=order, customer=bob, status=InstanceStatus.BOOTING, ec2_instance_id="i-0bob"
    )
    await queue.enqueue(PROVISION, {"order_id": order.id}, key=f"provision:order:{order.id}")
    claimed = await queue.claim([PROVISION])
    account = await TelegramAccount.get(phone=PHONE)
    await queue.save_step(claimed, "instance", {"instance_id": instance.id, "warm": False})
    # what the killed run left: the username requested, BotFather's answer never read
    await queue.save_step(claimed, "bot_chosen", {"account_id": account.id, "username": username})
    return claimed, order, instance


async def test_the_resumed_job_makes_its_own_bot_and_never_asks_for_the_other_token(world):
    queue = JobQueue("test")
    ann_token = await ann_live_on_the_same_account(world, queue)
    claimed, order, instance = await bobs_job_killed_after_recording(queue, LIVE)
    saga, _ = saga_for(world, queue)
    sent_before = len(world.sent)

    await saga._create_bot(claimed, order, instance)

    await instance.refresh_from_db()
    assert instance.bot_username != LIVE and instance.bot_token != ann_token
    assert f"@{LIVE}" not in [text for _, text in world.sent[sent_before:]]
    assert world.bots[LIVE].token == ann_token and world.bots[LIVE].owner == PHONE
    assert claimed.job.state["bot"]["username"] == instance.bot_username


async def test_compensation_never_deletes_a_bot_the_job_only_asked_for(world):
    queue = JobQueue("test")
    await ann_live_on_the_same_account(world, queue)
    claimed, order, _ = await bobs_job_killed_after_recording(queue, LIVE)
    saga, fleet = saga_for(world, queue)

    await saga.compensate(claimed.job, "gave up")

    assert world.deleted == [] and LIVE in world.bots
    assert fleet.terminated == ["i-0bob"]
    assert (await Order.get(id=order.id)).status == OrderStatus.FAILED


async def test_a_bot_botfather_made_before_the_crash_is_still_adopted_not_made_twice(world):
    queue = JobQueue("test")
    claimed, order, instance = await bobs_job_killed_after_recording(queue, "bob_own_agent_bot")
    # BotFather created it, then the worker died before reading "Done!"
    pool = AccountPool(world.client_for, queue, reply_timeout=1.0)
    world.crash_after_create(PHONE)
    with pytest.raises(SimulatedCrash):
        await pool.create_bot(
            name="Bob",
            username_candidates=["bob_own_agent_bot"],
            description="",
            about="",
            photo=None,
            on_username_chosen=lambda *_: _none(),
        )
    saga, _ = saga_for(world, queue)
    await saga._create_bot(claimed, order, instance)

    await instance.refresh_from_db()
    assert instance.bot_username == "bob_own_agent_bot"
    assert [u for _, u in world.created] == ["bob_own_agent_bot"]
    assert instance.bot_token == world.bots["bob_own_agent_bot"].token


async def _none() -> None:
    return None
