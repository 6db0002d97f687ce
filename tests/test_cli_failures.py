"""The CLI fails like a tool: a never-migrated database gets the migrate hint (exit 1, no traceback),
usage errors exit 2 on stderr, `--status` takes only real statuses."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from tests.conftest import PG_ADMIN_URL, _pg_url
from tests.test_cli import run, workdir  # noqa: F401

HINT = "run `python main.py migrate` first"


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "list"],
        ["instances", "list", "--json"],
        ["accounts", "list"],
        ["jobs", "list"],
        ["orders", "refund", "1"],
        ["accounts", "enable", "1"],
        ["instances", "restart", "1"],
    ],
)
def test_a_command_on_a_never_migrated_database_says_run_migrate_first(
    workdir: Path,  # noqa: F811
    command: list[str],
) -> None:
    result = run(workdir, *command, env={"ENCRYPTION_KEY": Fernet.generate_key().decode()})
    assert result.returncode == 1, result.stdout + result.stderr
    assert HINT in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_orders_list_on_an_empty_postgres_database_exits_1_with_the_migrate_hint(workdir: Path) -> None:  # noqa: F811
    name = f"meetmatt_unmigrated_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        result = run(workdir, "orders", "list", env={"DATABASE_URL": _pg_url(name)})
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert result.returncode == 1 and HINT in result.stderr and "Traceback" not in result.stderr


def test_after_migrate_the_same_command_works(workdir: Path) -> None:  # noqa: F811
    env = {"ENCRYPTION_KEY": Fernet.generate_key().decode()}
    assert run(workdir, "migrate", env=env).returncode == 0
    result = run(workdir, "orders", "list", "--status", "paid", env=env)
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "list", "--status", "payed"],
        ["jobs", "list", "--status", "stuck"],
        ["orders", "list", "--limit", "many"],
        ["no-such-command"],
        ["orders"],
        ["check-config", "--for", "everything"],
    ],
)
def test_usage_errors_exit_2_on_stderr(workdir: Path, args: list[str]) -> None:  # noqa: F811
    result = run(workdir, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage:" in result.stderr and result.stdout == ""


def test_status_choices_are_listed_in_help(workdir: Path) -> None:  # noqa: F811
    result = run(workdir, "instances", "list", "--help")
    assert result.returncode == 0
    assert (
        "{warm,launching,booting,ready,active,unhealthy,stopped,terminating,terminated,failed}"
        in result.stdout
    )


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "list"],
        ["migrate"],
        ["instances", "restart", "1"],
        ["jobs", "list"],
        ["accounts", "list"],
        ["accounts", "enable", "1"],
    ],
)
def test_a_malformed_encryption_key_is_one_line_naming_the_setting_never_a_traceback(
    workdir: Path,  # noqa: F811
    command: list[str],
) -> None:
    secret = "not-a-fernet-key-but-still-a-secret"
    result = run(workdir, *command, env={"DATABASE_URL": "sqlite://:memory:", "ENCRYPTION_KEY": secret})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ENCRYPTION_KEY" in lines[0], result.stderr
    assert lines[0].startswith(f"python main.py {' '.join(command[:2])}: ")
    assert secret not in result.stderr + result.stdout


def test_every_known_operator_error_names_a_real_exception_class() -> None:
    import importlib

    from cli.errors import KNOWN, is_operator_error
    from models.fields import EncryptionKeyError

    for module_name, class_name in KNOWN:
        assert issubclass(getattr(importlib.import_module(module_name), class_name), Exception)
    assert is_operator_error(EncryptionKeyError("ENCRYPTION_KEY is not set"))
    assert not is_operator_error(RuntimeError("a bug keeps its traceback"))
