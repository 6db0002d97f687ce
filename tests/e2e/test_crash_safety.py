"""Crash safety with real processes (issue 7).

Worker SUBPROCESSES (`tests.e2e.worker_proc`, i.e. `python main.py worker` wired to the stand-ins)
run the `provision` job against moto, the SSH instance stand-in, telegram-test-api and ONE scripted
BotFather shared over HTTP (`BotFatherServer`), so the test reads every outside effect afterwards.

1. A worker is SIGKILLed at each step boundary in turn (and inside the two steps whose outside call
   has happened but whose result is not saved yet); a fresh worker takes the job over once the dead
   one's lease expires. Every run ends with exactly one server, one bot, one active order, one
   activation, and the job done. SQLite and PostgreSQL.
2. Two workers on one PostgreSQL share 20 paid orders: all become active, with 20 servers, 20 bots,
   20 activations, each made once, and no BotFather dialogue ever open twice on one account.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aioboto3
import json5
import pytest

from models import (
    Customer,
    Instance,
    InstanceStatus,
    Job,
    JobStatus,
    Order,
    OrderStatus,
    Verification,
)
from services.cloud.openclaw_config import CONFIG_PATH
from services.jobs import kinds as job_kinds
from services.jobs.queue import JobQueue, utcnow
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.e2e.worker_proc import write_config
from tests.standins.botfather_server import BotFatherServer
from tests.standins.moto_ec2 import moto_server  # noqa: F401
from tests.standins.stack import Stack, moto_reset, standin_stack
from tests.standins.telegram import TelegramTestApi

STEP_KILL_POINTS = ("instance", "launch", "bot_chosen", "bot", "verification", "ready", "verified", "live")
MID_STEP_KILL_POINTS = ("instance_created", "launch_returned", "botfather_done", "activated")
# killed after activation but before the order was marked active ("live" is recorded in the same
# transaction as the order's status, which the kill rolls back): the fresh worker activates again
ACTIVATES_TWICE = ("activated", "live")
CRASH_LEASE_SECONDS = 3  # the dead worker's lease: how soon the fresh worker may take over
FIRST_CUSTOMER = 940_000


@pytest.fixture
async def stack(
    db: str,
    tmp_path: Path,
    moto_server: str,  # noqa: F811
    telegram_api: TelegramTestApi,
) -> AsyncIterator[Stack]:  # noqa: F811
    moto_reset(moto_server)
    async with standin_stack(
        db, TEST_ENCRYPTION_KEY, tmp_path, moto_url=moto_server, telegram=telegram_api, worker_concurrency=6
    ) as s:
        await s.add_creator_accounts()
        yield s


# --- worker processes ------------------------------------------------------------------------------


class Zygote:
    """The fork server (`worker_proc --zygote`): imports once, forks a real worker process per spawn."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.worker_proc", "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=str(Path(__file__).parents[2]),
        )

    def ask(self, **request: object) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the worker fork server died (exit {self.proc.poll()})")
        return json.loads(answer)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    server = Zygote()
    yield server
    server.close()


@dataclass
class WorkerProcess:
    """One worker process (forked by the zygote), signalled by pid like any process."""

    name: str
    zygote: Zygote
    pid: int
    log_path: Path
    out_path: Path
    returncode: int | None = None

    @classmethod
    def start(cls, zygote: Zygote, name: str, config: Path, directory: Path) -> WorkerProcess:
        log_path, out_path = directory / f"{name}.log", directory / f"{name}.out"
        pid = zygote.ask(spawn=str(config), out=str(out_path), log=str(log_path))["pid"]
        return cls(name, zygote, pid, log_path, out_path)

    @property
    def exited(self) -> bool:
        if self.returncode is None:
            self.returncode = self.zygote.ask(poll=self.pid)["exit"]
        return self.returncode is not None

    @property
    def started(self) -> bool:
        """It printed its worker id: the database and every service are open."""
        return self.out_path.exists() and bool(self.out_path.read_text().strip())

    async def stop(self) -> int:
        """SIGTERM (graceful drain), SIGKILL if it does not end in time."""
        if not self.exited:
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while not self.exited and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if not self.exited:
                os.kill(self.pid, signal.SIGKILL)
                while not self.exited:
                    await asyncio.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def log(self, tail: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- {self.name} (exit {self.returncode}) ---\n" + "\n".join(text.splitlines()[-tail:])

    def records(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


# --- the customer side -----------------------------------------------------------------------------


async def paid_order(n: int) -> Order:
    """A paid order and its provision job, as the Stripe webhook leaves them."""
    customer = await Customer.create(
        telegram_id=FIRST_CUSTOMER + n, full_name=f"Customer {n}", username=f"customer{n}"
    )
    now = utcnow()
    order = await Order.create(
        customer=customer,
        package="starter",
        bot_name=f"Agent {n}",
        description="Keeps my diary",
        status=OrderStatus.PAID,
        paid_at=now,
        amount=2900,
        currency="usd",
        stripe_session_id=f"cs_test_{secrets.token_hex(12)}",
        stripe_payment_intent=f"pi_{secrets.token_hex(10)}",
    )
    await JobQueue().enqueue(job_kinds.PROVISION, {"order_id": order.id}, key=f"provision:order:{order.id}")
    return order


class Customers:
    """Opens each new bot's deep link (sends `/start <code>`) once the link exists."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.verified: set[int] = set()

    async def verify_ready_links(self) -> None:
        pending = (
            await Order.filter(status=OrderStatus.AWAITING_VERIFICATION)
            .exclude(id__in=list(self.verified) or [0])
            .select_related("customer")
        )
        for order in pending:
            instance = await Instance.get_or_none(order_id=order.id)
            verification = await Verification.get_or_none(instance_id=instance.id) if instance else None
            if instance is None or verification is None or not instance.bot_token:
                continue
            user = self.stack.on_bot(instance.bot_token, order.customer.telegram_id, f"Customer{order.id}")
            try:
                await user.send(f"/start {verification.code}")
            finally:
                await user.close()
            self.verified.add(order.id)


async def drive(
    customers: Customers,
    done: Callable[[], Awaitable[bool]],
    workers: list[WorkerProcess],
    *,
    timeout: float,
    what: str,
    allow_exit: WorkerProcess | None = None,
) -> None:
    """Play the customers until `done()`; fail early (with the logs) if a worker dies unexpectedly."""
    deadline = time.monotonic() + timeout
    while True:
        await customers.verify_ready_links()
        if await done():
            return
        crashed = [w for w in workers if w.exited and w is not allow_exit]
        if crashed or time.monotonic() > deadline:
            reason = "a worker exited" if crashed else "timed out"
            raise AssertionError(f"{reason} waiting for {what}\n" + "\n".join(w.log() for w in workers))
        await asyncio.sleep(0.1)


# --- what the outside world saw --------------------------------------------------------------------


async def all_instances(stack: Stack) -> list[dict]:
    """Every instance moto knows (any state): how many times RunInstances really ran."""
    session = aioboto3.Session(
        aws_access_key_id=stack.settings.aws_access_key_id.get_secret_value(),  # type: ignore[union-attr]
        aws_secret_access_key=stack.settings.aws_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
        region_name="us-east-1",
    )
    async with session.client("ec2", endpoint_url=stack.moto_url) as ec2:
        answer = await ec2.describe_instances()
    return [i for r in answer["Reservations"] for i in r["Instances"]]


def config_uploads(stack: Stack) -> list[dict]:
    """Every OpenClaw config the instances were given (one per activation)."""
    return [
        json5.loads(c.stdin)
        for c in stack.ssh.commands
        if "install -m" in c.command and c.command.endswith(CONFIG_PATH) and c.stdin
    ]


async def progress_messages(stack: Stack, customer_id: int) -> list:
    """What the Meet Matt bot shows this customer as progress (the ▰▱ bar)."""
    chat = stack.customer(customer_id)
    try:
        return [m for m in await chat.messages() if "▰" in m.text]
    finally:
        await chat.close()


def tags_of(server: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in server.get("Tags", [])}


# --- 1. SIGKILL at every step boundary -----------------------------------------------------------


@pytest.mark.parametrize("kill_at", STEP_KILL_POINTS + MID_STEP_KILL_POINTS)
async def test_worker_killed_at_each_step_leaves_one_server_one_bot_one_active_order(
    stack: Stack, zygote: Zygote, tmp_path: Path, kill_at: str
) -> None:
    customers = Customers(stack)
    async with BotFatherServer(stack.botfather) as botfather:

        def config(name: str, **options) -> Path:
            return write_config(
                tmp_path / f"{name}.json",
                stack.settings,
                host_key=stack.host_key,
                botfather_url=botfather.base_url,
                **options,
            )

        order = await paid_order(1)
        doomed = WorkerProcess.start(
            zygote, "doomed", config("doomed", kill_at=kill_at, lease_seconds=CRASH_LEASE_SECONDS), tmp_path
        )
        fresh = None
        try:

            async def doomed_died() -> bool:
                return doomed.exited

            await drive(
                customers, doomed_died, [doomed], timeout=60, what=f"the kill at {kill_at}", allow_exit=doomed
            )
            assert doomed.returncode == -signal.SIGKILL, doomed.log()
            job = await Job.get(kind=job_kinds.PROVISION)
            assert job.status == JobStatus.RUNNING  # left mid-job, its lease still on the dead worker
            if kill_at == "live":  # recorded inside the transaction that the kill rolled back
                assert "live" not in job.state and "verified" in job.state
                assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_VERIFICATION
            elif kill_at in STEP_KILL_POINTS:
                assert kill_at in job.state
            elif kill_at == "instance_created":
                assert "instance" not in job.state and await Instance.filter(order_id=order.id).count() == 1
            elif kill_at == "activated":
                assert "verified" in job.state and "live" not in job.state
                assert len(config_uploads(stack)) == 1
            elif kill_at == "launch_returned":
                assert "launch" not in job.state
                assert len(await all_instances(stack)) == 1  # RunInstances happened; the id was not saved
                assert (await Instance.get(order_id=order.id)).ec2_instance_id is None
            else:
                assert "bot" not in job.state and "bot_chosen" in job.state
                assert len(stack.botfather.created) == 1  # BotFather made it; the token was not saved
                assert (await Instance.get(order_id=order.id)).bot_token is None

            # restarted: a fresh worker process takes the job over once the dead one's lease expires
            fresh = WorkerProcess.start(zygote, "fresh", config("fresh"), tmp_path)

            async def live() -> bool:
                job = await Job.get(kind=job_kinds.PROVISION)
                return (
                    job.status == JobStatus.DONE
                    and (await Order.get(id=order.id)).status == OrderStatus.ACTIVE
                )

            await drive(
                customers, live, [doomed, fresh], timeout=60, what="the order to go live", allow_exit=doomed
            )
        finally:
            fresh_exit = await fresh.stop() if fresh is not None else None
            await doomed.stop()
    assert fresh_exit == 0, fresh.log()  # a clean SIGTERM drain

    order = await Order.get(id=order.id)
    assert order.status == OrderStatus.ACTIVE
    assert await Order.filter(status=OrderStatus.ACTIVE).count() == 1
    job = await Job.get(kind=job_kinds.PROVISION)
    assert job.status == JobStatus.DONE and job.attempts == 2  # the dead worker's run, and the resumed one
    instance = await Instance.get(order_id=order.id)
    assert instance.status == InstanceStatus.ACTIVE
    assert instance.owner_telegram_id == FIRST_CUSTOMER + 1
    assert await Instance.all().count() == 1 and await Verification.all().count() == 1

    # exactly one server, ever: launched once, still running, tagged for this order
    servers = await all_instances(stack)
    assert len(servers) == 1, [s["InstanceId"] for s in servers]
    assert servers[0]["State"]["Name"] == "running"
    assert servers[0]["InstanceId"] == instance.ec2_instance_id
    assert tags_of(servers[0])["meetmatt:order"] == str(order.id)

    # exactly one bot, ever: created once, none deleted, no dialogue overlapped another
    world = stack.botfather
    assert world.created == [(world.bots[instance.bot_username.lower()].owner, instance.bot_username)]
    assert world.deleted == [] and len(world.bots) == 1
    assert world.bots[instance.bot_username.lower()].token == instance.bot_token
    assert world.overlaps == []
    newbots = [t for _, t in world.sent].count("/newbot")
    if kill_at not in ("launch", "bot_chosen", "ready", "launch_returned"):
        assert newbots == 1  # died before any dialogue, or after the bot existed (recovered by /token)
    else:  # may have died mid-dialogue before the username was sent: the fresh worker starts over
        assert newbots in (1, 2)

    # activated once, for the verified customer (again, identically, when killed before it was recorded)
    uploads = config_uploads(stack)
    activations = 2 if kill_at in ACTIVATES_TWICE else 1
    assert len(uploads) == activations and all(u == uploads[0] for u in uploads)
    owner = FIRST_CUSTOMER + 1
    assert uploads[0]["channels"]["telegram"]["allowFrom"] in ([owner], [str(owner)])
    assert uploads[0]["channels"]["telegram"]["botToken"] == instance.bot_token
    assert len(stack.ssh.commands_matching("systemctl restart")) == activations

    # the customer still has ONE progress message, edited by both workers, ending live
    shown = await progress_messages(stack, owner)
    assert len(shown) == 1 and shown[0].message_id == order.progress_message_id
    assert "Your agent is live" in shown[0].text


# --- 2. two workers, one PostgreSQL, 20 orders ---------------------------------------------------


async def test_two_workers_share_twenty_orders_and_never_run_a_step_twice(
    stack: Stack, zygote: Zygote, backend: str, tmp_path: Path
) -> None:
    if backend != "postgres":
        pytest.skip("several worker processes share one PostgreSQL; a SQLite deployment runs one process")
    n_orders = 20
    customers = Customers(stack)
    stack.botfather.latency = 0.02  # each reply takes a moment: dialogues last long enough to collide
    async with BotFatherServer(stack.botfather) as botfather:
        workers = []
        for name in ("worker_a", "worker_b"):
            config = write_config(
                tmp_path / f"{name}.json",
                stack.settings,
                host_key=stack.host_key,
                botfather_url=botfather.base_url,
                concurrency=6,
            )
            workers.append(WorkerProcess.start(zygote, name, config, tmp_path))
        try:

            async def both_up() -> bool:
                return all(w.started for w in workers)

            await drive(customers, both_up, workers, timeout=30, what="both workers to start")
            orders = [await paid_order(n) for n in range(1, n_orders + 1)]

            async def all_live() -> bool:
                return (
                    await Order.filter(status=OrderStatus.ACTIVE).count() == n_orders
                    and await Job.filter(kind=job_kinds.PROVISION, status=JobStatus.DONE).count() == n_orders
                )

            await drive(customers, all_live, workers, timeout=150, what="all 20 orders to go live")
        finally:
            codes = [await w.stop() for w in workers]
        assert codes == [0, 0], "\n".join(w.log() for w in workers)

    # every order active, each with its own instance row, verified by its own customer
    for order in orders:
        instance = await Instance.get(order_id=order.id).select_related("order__customer")
        assert (await Order.get(id=order.id)).status == OrderStatus.ACTIVE
        assert instance.status == InstanceStatus.ACTIVE
        assert instance.owner_telegram_id == FIRST_CUSTOMER + orders.index(order) + 1
    jobs = await Job.filter(kind=job_kinds.PROVISION).all()
    assert [j.status for j in jobs] == [JobStatus.DONE] * n_orders
    assert all(j.attempts == 1 for j in jobs), [(j.id, j.attempts, j.last_error) for j in jobs]

    # both processes did part of the work
    done_by = {
        w.name: {
            r.get("job_id")
            for r in w.records()
            if r.get("msg") == "job done" and r.get("kind") == job_kinds.PROVISION
        }
        for w in workers
    }
    assert all(done_by.values()), done_by
    assert not (done_by["worker_a"] & done_by["worker_b"]), done_by
    assert len(done_by["worker_a"] | done_by["worker_b"]) == n_orders
    lost = [r for w in workers for r in w.records() if "lease" in str(r.get("msg", ""))]
    assert lost == []  # no job was ever taken from a worker that was still running it

    # moto: RunInstances ran exactly 20 times, one server per order
    servers = await all_instances(stack)
    assert len(servers) == n_orders
    assert sorted(int(tags_of(s)["meetmatt:order"]) for s in servers) == sorted(o.id for o in orders)
    assert {s["InstanceId"] for s in servers} == {i.ec2_instance_id for i in await Instance.all()}

    # BotFather: exactly 20 /newbot, 20 bots, none deleted, never two dialogues on one account at once
    world = stack.botfather
    assert [t for _, t in world.sent].count("/newbot") == n_orders
    assert "/token" not in [t for _, t in world.sent]  # no run ever had to recover a bot
    assert len(world.created) == n_orders == len(world.bots) and world.deleted == []
    assert world.overlaps == [], Counter(world.overlaps)
    # ... although both processes did talk to BotFather through the same account
    openers = {(pid, phone) for pid, phone, op in botfather.calls if op == "open"}
    by_phone = Counter(phone for _, phone in openers)
    assert max(by_phone.values()) == 2, openers
    assert {b.token for b in world.bots.values()} == {i.bot_token for i in await Instance.all()}

    # SSH: one activation per instance (one config written per bot), one gateway restart each
    uploads = config_uploads(stack)
    per_bot = Counter(u["channels"]["telegram"]["botToken"] for u in uploads)
    assert len(per_bot) == n_orders and set(per_bot.values()) == {1}
    assert len(stack.ssh.commands_matching("systemctl restart")) == n_orders

    # each customer got one progress message, ending live
    for n in range(1, n_orders + 1):
        shown = await progress_messages(stack, FIRST_CUSTOMER + n)
        assert len(shown) == 1 and "Your agent is live" in shown[0].text, [m.text for m in shown]
