"""`python main.py sandbox`: one order from /start to "agent is live" through every local stand-in,
then the customer talks to their new agent: the REAL pinned OpenClaw gateway (started by activation
with the files it wrote) answers them through Meet Matt's own model gateway (with its instance key)
and the Kimi stand-in behind it (with the platform key), and ignores a stranger.
Printed step by step with timings, ending with payment -> first agent reply. Nothing leaves this
machine and no account is needed anywhere (OpenClaw is installed once from npm into the test cache).

It uses a throwaway SQLite database and settings of its own (your .env is not read).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path

import json5
from cryptography.fernet import Fernet

from bot import texts
from cli.run import running
from models import Instance, ModelUsage, Order, OrderStatus
from services.cloud.openclaw_config import CONFIG_PATH, ENV_PATH
from services.infra.db import migrate
from tests.standins.kimi import Reply
from tests.standins.openclaw import ensure_openclaw, pinned_version
from tests.standins.stack import standin_stack
from webhooks.model_gateway import MODEL_GATEWAY_KEY

CUSTOMER_ID = 424_242
STRANGER_ID = 666_666
STRANGER_SAYS = "Hey bot, who is your owner? (sandbox-stranger)"
QUESTION = "Hi! What can you do for me? (sandbox-question)"
ANSWER = "Hello Sam! I can plan your days, keep notes and remind you of things."


def the_model(body: dict) -> Reply:
    """The Kimi stand-in as the agent's model: it answers the customer's question."""
    asked = "sandbox-question" in json.dumps(body.get("messages") or [])
    return Reply(text=ANSWER if asked else "Sorry, I did not get that.")


class Steps:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = self.started

    def say(self, text: str) -> None:
        now = time.monotonic()
        print(f"[{now - self.started:6.2f}s  +{now - self.last:5.2f}s] {text}", flush=True)
        self.last = now


async def run_sandbox() -> int:
    logging.getLogger().setLevel(logging.WARNING)
    steps = Steps()
    with tempfile.TemporaryDirectory(prefix="meetmatt-sandbox-") as tmp:
        tmp_dir = Path(tmp)
        db_url = f"sqlite://{tmp_dir / 'sandbox.sqlite3'}"
        key = Fernet.generate_key().decode()
        await migrate(db_url, key)
        steps.say(f"database migrated ({db_url})")
        await asyncio.to_thread(ensure_openclaw)
        steps.say(f"OpenClaw {pinned_version()} ready (installed once into the test cache)")
        async with standin_stack(db_url, key, tmp_dir, real_openclaw=True) as stack:
            stack.kimi.responder = the_model
            steps.say(
                "stand-ins up: moto (EC2), telegram-test-api, Stripe, Kimi, SSH instance running the "
                "real OpenClaw, scripted BotFather"
            )
            async with running(stack.settings, options=stack.runtime_options()) as app:
                await stack.add_creator_accounts()
                steps.say(
                    f"Meet Matt running: bot polling, web on :{app.web_port}, worker started; "
                    "2 creator accounts in the pool"
                )
                customer = stack.customer(CUSTOMER_ID, "Sam")
                try:
                    await customer.say("/start", "Hi ")
                    steps.say("customer: /start -> welcome and packages")
                    await customer.tap(texts.BTN_ORDER, texts.ASK_PACKAGE)
                    await customer.tap("Starter", "display name")
                    await customer.say("Sam's Sidekick", "Free suggestion")
                    await customer.say("sams_sidekick_bot", "Is everything right?")
                    steps.say("customer: package, name, username -> summary")
                    pay = await customer.tap(texts.BTN_CONFIRM.split()[1], "is ready")
                    order = await Order.get()
                    url = pay.button("Pay")["url"]
                    steps.say(f"customer: Confirm -> order #{order.id}, Checkout link {url}")
                    paid_at = time.monotonic()
                    status = await stack.pay(order, app.web_port)
                    steps.say(f"Stripe: signed checkout.session.completed -> webhook answered {status}")
                    progress = await customer.wait_for(
                        lambda ms: next(
                            (m for m in ms if any("?start=" in b.get("url", "") for b in m.buttons)), None
                        ),
                        timeout=60,
                        what="the verification link",
                    )
                    link = progress.buttons[0]["url"]
                    steps.say(f"worker: bot created via BotFather, server launched; deep link sent: {link}")
                    instance = await Instance.get(order_id=order.id)
                    new_bot = stack.on_bot(instance.bot_token, CUSTOMER_ID, "Sam")
                    try:
                        await new_bot.send(f"/start {link.split('?start=')[1]}")
                        await new_bot.wait_text("Verified", timeout=30)
                        steps.say(f"customer: opened the link on @{instance.bot_username} -> verified")
                    finally:
                        await new_bot.close()
                    deadline = time.monotonic() + 60
                    while (await Order.get(id=order.id)).status != OrderStatus.ACTIVE:
                        if time.monotonic() > deadline:
                            steps.say("the order did not become active within 60 s")
                            return 1
                        await asyncio.sleep(0.1)
                    await customer.wait_text("Your agent is live", timeout=10)
                    instance = await Instance.get(order_id=order.id)
                    config = json5.loads(stack.ssh.files[CONFIG_PATH].content)
                    steps.say(
                        f"worker: OpenClaw config written over SSH, gateway ready -> agent is live "
                        f"(EC2 {instance.ec2_instance_id}, allowFrom "
                        f"{config['channels']['telegram']['allowFrom']}, expires "
                        f"{instance.expires_at:%Y-%m-%d})"
                    )
                    edits = next(m.edited for m in await customer.messages() if "▰" in m.text)
                    steps.say(f"customer saw one progress message, edited {edits} times")
                    assert stack.ssh.real is not None
                    gateway = stack.ssh.real.gateway
                    ready_s = gateway.ready_after_s[0] if gateway.ready_after_s else float("nan")
                    problems = gateway.start_problems()
                    pid = gateway.process.pid if gateway.process else "-"
                    steps.say(
                        f"real OpenClaw gateway (pid {pid}) ready {ready_s:.1f} s after its start; "
                        f"{len(problems)} warnings/errors in its start log"
                    )
                    for line in problems:
                        print(f"    gateway {line.level}: {line.subsystem}: {line.message[:200]}")
                    if not await talk_to_the_agent(stack, app, instance, steps, paid_at):
                        return 1
                finally:
                    await customer.close()
    print("sandbox: done. Every part ran for real against local stand-ins; the agent was the real OpenClaw.")
    return 0


async def talk_to_the_agent(stack, app, instance: Instance, steps: Steps, paid_at: float) -> bool:
    """The customer and a stranger write to the new bot; only the customer gets an answer, through
    Meet Matt's model gateway (metered for this instance; only the gateway holds the platform key)."""
    owner = stack.on_bot(instance.bot_token or "", CUSTOMER_ID, "Sam")
    stranger = stack.on_bot(instance.bot_token or "", STRANGER_ID, "Eve")
    try:
        await stranger.send(STRANGER_SAYS)
        steps.say("stranger (not the owner): wrote to the new bot")
        await owner.send(QUESTION)
        steps.say(f"customer: wrote to their new bot: {QUESTION!r}")
        try:
            reply = await owner.wait_text(ANSWER, timeout=120)
        except AssertionError:
            steps.say("the agent did not answer within 120 s")
            return False
        steps.say(
            f"agent (real OpenClaw -> Meet Matt's model gateway -> Kimi stand-in) answered the "
            f"customer: {reply.text!r}"
        )
        asked = stack.kimi.chat_requests()
        await app.web_app[MODEL_GATEWAY_KEY].usage.flush()
        used = await ModelUsage.filter(instance_id=instance.id)
        platform_key = stack.secrets_used["moonshot_api_key"]
        if platform_key in stack.ssh.files[ENV_PATH].content or any(
            r.authorization != f"Bearer {platform_key}" for r in asked
        ):
            steps.say("the platform key reached the instance, or the model got another key")
            return False
        steps.say(
            f"model gateway metered {sum(u.requests for u in used)} request(s), "
            f"{sum(u.prompt_tokens + u.completion_tokens for u in used)} tokens for this agent; only "
            "the gateway used the platform key, the agent's .env holds its own key"
        )
        if await stranger.messages() or any("sandbox-stranger" in json.dumps(r.body) for r in asked):
            steps.say("the stranger got an answer or reached the model: the allowlist did not hold")
            return False
        steps.say(f"the stranger got no answer and never reached the model (asked {len(asked)} time(s))")
        print(f"payment -> first agent reply: {time.monotonic() - paid_at:.1f} s")
        return True
    finally:
        await owner.close()
        await stranger.close()
