"""`python main.py accounts import-env|list|enable|disable|priority` run as an operator runs them."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.standins.botfather import fake_string_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("main.py", "config.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for package in ("models", "services", "migrations", "bot", "handlers", "webhooks", "cli"):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(workdir)}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=workdir,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_env_then_list_enable_disable_priority_never_show_secrets(workdir: Path) -> None:
    session = fake_string_session()
    api_hash = secrets.token_hex(16)
    env = {
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TELEGRAM_API_ID": "12345",
        "TELEGRAM_API_HASH": api_hash,
        "TELEGRAM_PHONE": "+15550001234",
        "TELEGRAM_SESSION": session,
        "TELEGRAM_FALLBACK_3_API_ID": "54321",
        "TELEGRAM_FALLBACK_3_API_HASH": secrets.token_hex(16),
        "TELEGRAM_FALLBACK_3_PHONE": "+15550009876",
    }
    assert run(workdir, env, "migrate").returncode == 0

    imported = run(workdir, env, "accounts", "import-env")
    assert imported.returncode == 0, imported.stderr
    assert "added    …1234 (TELEGRAM)" in imported.stdout
    assert "added    …9876 (TELEGRAM_FALLBACK_3)" in imported.stdout

    listed = run(workdir, env, "accounts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["phone"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"…1234", "…9876"}
    assert rows["…1234"]["status"] == "active" and rows["…9876"]["status"] == "session_dead"
    primary_id = rows["…1234"]["id"]

    assert run(workdir, env, "accounts", "disable", str(primary_id)).returncode == 0
    changed = run(workdir, env, "accounts", "priority", str(primary_id), "3")
    assert changed.returncode == 0 and "priority 3" in changed.stdout and "disabled" in changed.stdout
    enabled = run(workdir, env, "accounts", "enable", str(primary_id))
    assert enabled.returncode == 0 and "status active" in enabled.stdout
    missing = run(workdir, env, "accounts", "enable", "999")
    assert missing.returncode == 1 and "no creator account #999" in missing.stderr
    unknown = run(workdir, env, "accounts", "check", "999")  # said in words, not a traceback
    assert unknown.returncode == 1 and "no creator account #999" in unknown.stderr, unknown.stderr

    table = run(workdir, env, "accounts", "list")
    for output in (imported, listed, changed, enabled, table):
        text = output.stdout + output.stderr
        assert api_hash not in text and session not in text and "+15550001234" not in text


def test_import_env_reports_a_broken_session_by_name_and_fails(workdir: Path) -> None:
    env = {
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TELEGRAM_API_ID": "12345",
        "TELEGRAM_API_HASH": secrets.token_hex(16),
        "TELEGRAM_PHONE": "+15550001234",
        "TELEGRAM_SESSION": "garbage-session-value",
    }
    assert run(workdir, env, "migrate").returncode == 0
    result = run(workdir, env, "accounts", "import-env")
    assert result.returncode == 1
    assert "TELEGRAM_SESSION is neither a Telethon StringSession" in result.stderr
    assert "garbage-session-value" not in result.stderr + result.stdout


def test_accounts_list_honours_limit_and_status_like_the_other_lists(workdir: Path) -> None:
    env = {
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TELEGRAM_API_ID": "12345",
        "TELEGRAM_API_HASH": secrets.token_hex(16),
        "TELEGRAM_PHONE": "+15550001234",
        "TELEGRAM_SESSION": fake_string_session(),
        "TELEGRAM_FALLBACK_3_API_ID": "54321",
        "TELEGRAM_FALLBACK_3_API_HASH": secrets.token_hex(16),
        "TELEGRAM_FALLBACK_3_PHONE": "+15550009876",
    }
    assert run(workdir, env, "migrate").returncode == 0
    assert run(workdir, env, "accounts", "import-env").returncode == 0

    def phones(*options: str) -> list[str]:
        listed = run(workdir, env, "accounts", "list", "--json", *options)
        assert listed.returncode == 0, listed.stderr
        return [row["phone"] for row in json.loads(listed.stdout)]

    assert phones() == ["…1234", "…9876"]  # priority order: the primary first
    assert phones("--limit", "1") == ["…1234"]
    assert phones("--status", "session_dead") == ["…9876"]
    assert phones("--status", "session_dead", "--limit", "1") == ["…9876"]
