"""The README's commands, run as a new user would: fresh folder, empty environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("main.py", "config.py", "tortoise_config.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for package in ("models", "services", "migrations", "bot", "handlers", "webhooks", "cli"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(workdir)}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=workdir,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_twice_creates_the_sqlite_file_and_is_a_no_op_the_second_time(workdir: Path) -> None:
    first = run(workdir, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied models.0001_initial" in first.stdout and "applied models.0002" in first.stdout
    assert (workdir / "data" / "meetmatt.sqlite3").exists()
    second = run(workdir, "migrate")
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout and "up to date" in second.stdout


def test_check_config_with_an_empty_environment_reports_each_component(workdir: Path) -> None:
    result = run(workdir, "check-config")
    assert result.returncode == 1
    for component in ("database", "bot", "payments", "creator pool", "cloud", "alerts"):
        assert component in result.stdout
    for setting in (
        "ENCRYPTION_KEY",
        "BOT_TOKEN",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "AWS_ACCESS_KEY_ID",
        "MOONSHOT_API_KEY",
        "ADMIN_TELEGRAM_CHAT_ID",
    ):
        assert setting in result.stdout


def test_check_config_flags_malformed_values_without_echoing_them(workdir: Path) -> None:
    result = run(
        workdir,
        "check-config",
        env={
            "ENCRYPTION_KEY": "short-secret-value",
            "STRIPE_SECRET_KEY": "pk_wrong_kind_of_key",
            "DATABASE_URL": "mysql://x",
        },
    )
    assert result.returncode == 1
    assert "malformed: ENCRYPTION_KEY" in result.stdout
    assert "malformed: STRIPE_SECRET_KEY" in result.stdout
    assert "malformed: DATABASE_URL" in result.stdout
    assert "short-secret-value" not in result.stdout and "pk_wrong_kind_of_key" not in result.stdout


def test_gen_key_prints_a_usable_fernet_key(workdir: Path) -> None:
    result = run(workdir, "gen-key")
    assert result.returncode == 0
    key = result.stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_list_views_print_json_without_secrets(workdir: Path) -> None:
    key = Fernet.generate_key().decode()
    env = {"ENCRYPTION_KEY": key}
    assert run(workdir, "migrate", env=env).returncode == 0
    seed = (
        "import asyncio\n"
        "from services.infra.db import init_db, close_db\n"
        "from models import TelegramAccount\n"
        "async def main():\n"
        f"    await init_db('sqlite://data/meetmatt.sqlite3', '{key}')\n"
        "    await TelegramAccount.create(phone='+15551234567', api_id=5,\n"
        "        api_hash='0123456789abcdef0123456789abcdef', session='1' + 'S' * 250)\n"
        "    await close_db()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=workdir, check=True, timeout=60)
    result = run(workdir, "accounts", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["phone"] == "…4567"
    assert "0123456789abcdef" not in result.stdout and "SSSS" not in result.stdout
    for what in ("orders", "instances", "jobs"):
        listed = run(workdir, what, "list", "--json", env=env)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_instances_usage_shows_this_months_tokens_against_the_quota(workdir: Path) -> None:
    key = Fernet.generate_key().decode()
    env = {"ENCRYPTION_KEY": key}
    assert run(workdir, "migrate", env=env).returncode == 0
    seed = (
        "import asyncio\n"
        "from services.infra.db import init_db, close_db\n"
        "from services.jobs.queue import utcnow\n"
        "from services.model_gateway.keys import issue_instance_key\n"
        "from services.model_gateway.usage import Tokens, record_usage\n"
        "from models import Customer, Order, Instance\n"
        "async def main():\n"
        f"    await init_db('sqlite://data/meetmatt.sqlite3', '{key}')\n"
        "    c = await Customer.create(telegram_id=1)\n"
        "    o = await Order.create(customer=c, package='starter', bot_name='x', paid_at=utcnow())\n"
        "    i = await Instance.create(order=o, customer=c, bot_username='ann_bot')\n"
        "    print(await issue_instance_key(i.id))\n"
        "    await record_usage(i.id, utcnow().date(), Tokens(1_000_000, 1_000_000, 500_000))\n"
        "    await close_db()\n"
        "asyncio.run(main())\n"
    )
    seeded = subprocess.run(
        [sys.executable, "-c", seed], cwd=workdir, check=True, timeout=60, capture_output=True, text=True
    )
    model_key = seeded.stdout.strip().splitlines()[-1]
    result = run(workdir, "instances", "usage", "--json", env=env)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["bot_username"], row["requests"], row["total_tokens"], row["cached_tokens"]) == (
        "ann_bot",
        1,
        2_000_000,
        500_000,
    )
    assert row["quota_tokens"] == 20_000_000 and row["quota_used_pct"] == 10.0
    assert row["estimated_cost_usd"] == round((500_000 * 0.6 + 500_000 * 0.1 + 1_000_000 * 3.0) / 1e6, 4)
    assert model_key not in result.stdout
    table = run(workdir, "instances", "usage", env=env)
    assert "ann_bot" in table.stdout and "quota_used_pct" in table.stdout
    empty = run(workdir, "instances", "usage", "--month", "2020-01", env=env)
    assert "no model use in 2020-01" in empty.stdout
    bad = run(workdir, "instances", "usage", "--month", "November", env=env)
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr
    quota = run(workdir, "instances", "model-quota", "1", "--tokens-per-month", "4000000", env=env)
    assert quota.returncode == 0 and "4000000 tokens a month, 20 requests a minute" in quota.stdout
    [row] = json.loads(run(workdir, "instances", "usage", "--json", env=env).stdout)
    assert row["quota_tokens"] == 4_000_000 and row["quota_used_pct"] == 50.0
