"""`python main.py worker`, `run` and `sandbox` as a user starts them (real processes)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite://{tmp_path / 'w.sqlite3'}",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "BOT_TOKEN": f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(27)}",
        "AWS_ACCESS_KEY_ID": "testing" + secrets.token_hex(4),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "MOONSHOT_API_KEY": "sk-" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": "https://meetmatt.example",  # the model gateway agents are configured with
        "SSH_PRIVATE_KEY_PATH": str(tmp_path / "platform_key"),
        "TELEGRAM_API_SERVER": "http://127.0.0.1:9",
        "OPS_PORT": "0",
    }


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )
    proc = subprocess.Popen(
        [sys.executable, "main.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        started = False
        lines: list[str] = []
        while time.monotonic() < deadline and not started:
            line = proc.stdout.readline()
            lines.append(line)
            started = "worker started" in line
        assert started, "".join(lines)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "worker stopped" in out
    assert env["BOT_TOKEN"] not in out and env["AWS_SECRET_ACCESS_KEY"] not in out


def test_worker_refuses_to_start_without_cloud_settings(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["MOONSHOT_API_KEY"]
    result = subprocess.run(
        [sys.executable, "main.py", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "AWS_ACCESS_KEY_ID" in result.stderr and "MOONSHOT_API_KEY" in result.stderr


def test_sandbox_walks_one_order_to_a_live_agent() -> None:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        [sys.executable, "main.py", "sandbox"], cwd=ROOT, capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in (
        "customer: /start",
        "Checkout link",
        "webhook answered 200",
        "deep link sent",
        "verified",
        "agent is live",
        "one progress message",
        "real OpenClaw -> Meet Matt's model gateway -> Kimi stand-in) answered",
        "only the gateway used the platform key",
    ):
        assert step in result.stdout, step


def test_worker_names_a_missing_bot_token_instead_of_crashing(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    del env["BOT_TOKEN"]
    result = subprocess.run(
        [sys.executable, "main.py", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_orders_refund_queues_one_refund_job_for_a_paid_order(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )
    seed = (
        "import asyncio\n"
        "from services.infra.db import init_db, close_db\n"
        "from services.jobs.queue import utcnow\n"
        "from models import Customer, Order, OrderStatus\n"
        "async def main():\n"
        f"    await init_db({env['DATABASE_URL']!r}, {env['ENCRYPTION_KEY']!r})\n"
        "    c = await Customer.create(telegram_id=5)\n"
        "    await Order.create(customer=c, package='starter', bot_name='x', status=OrderStatus.PAID,\n"
        "                       amount=2900, paid_at=utcnow(), stripe_payment_intent='pi_1')\n"
        "    await Order.create(customer=c, package='starter', bot_name='y')\n"
        "    await close_db()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=ROOT, env=env, check=True, timeout=60)

    def refund(order_id: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "main.py", "orders", "refund", str(order_id)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first, again = refund(1), refund(1)
    assert first.returncode == 0 and "queued as job 1" in first.stdout
    assert again.returncode == 0 and "queued as job 1" in again.stdout  # the same job, not a second
    unpaid, missing = refund(2), refund(9)
    assert unpaid.returncode == 1 and "nothing to refund" in unpaid.stderr
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    jobs = subprocess.run(
        [sys.executable, "main.py", "jobs", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"kind": "refund_order"' in jobs.stdout and jobs.stdout.count('"kind"') == 1
