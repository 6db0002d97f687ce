"""SshConnector against an in-process asyncssh server on 127.0.0.1: pinned host key only, deadlines,
commands with timeouts, uploads through stdin, and nothing secret in the logs."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time

import asyncssh
import pytest

from services.cloud.host_keys import generate_host_key, load_or_create_client_key, public_key_line
from services.cloud.ssh import CommandTimeout, HostKeyMismatch, SshAuthFailed, SshConnector, SshUnreachable
from services.infra.logging_setup import RedactingFilter
from services.infra.logging_setup import secrets as secret_registry
from tests.standins import ssh_server
from tests.standins.ssh_server import connector_for

platform_key, instance_key, ssh_box = ssh_server.platform_key, ssh_server.instance_key, ssh_server.ssh_box


async def test_run_returns_exit_status_and_output(ssh_box, platform_key, instance_key) -> None:
    ssh_box.behaviour.gateway_running = True
    async with await connector_for(ssh_box, platform_key).connect(
        "198.51.100.1", instance_key.public_openssh
    ) as session:
        ok = await session.run("curl -fsS http://127.0.0.1:18789/readyz", timeout=5)
        missing = await session.run("no-such-tool --flag", timeout=5)
    assert (ok.exit_status, ok.stdout, ok.ok) == (0, '{"ready":true}', True)
    assert missing.exit_status == 127 and "command not found" in missing.stderr and not missing.ok
    assert [c.command for c in ssh_box.commands] == [
        "curl -fsS http://127.0.0.1:18789/readyz",
        "no-such-tool --flag",
    ]


async def test_upload_sends_content_through_stdin_not_the_command_line(
    ssh_box, platform_key, instance_key
) -> None:
    content = "SECRET_VALUE=" + secrets.token_hex(16) + "\n"
    async with await connector_for(ssh_box, platform_key).connect(
        "198.51.100.1", instance_key.public_openssh
    ) as session:
        await session.upload("/home/openclaw/.openclaw/.env", content, 0o600, owner="openclaw")
    uploaded = ssh_box.files["/home/openclaw/.openclaw/.env"]
    assert (uploaded.content, uploaded.mode, uploaded.owner) == (content, "0600", "openclaw")
    assert all(content.strip() not in c.command for c in ssh_box.commands)


async def test_an_empty_upload_writes_an_empty_file_without_waiting_for_stdin(
    ssh_box, platform_key, instance_key
) -> None:
    async with await connector_for(ssh_box, platform_key).connect(
        "198.51.100.1", instance_key.public_openssh
    ) as session:
        await session.upload("/tmp/empty", "", 0o644)
    assert ssh_box.files["/tmp/empty"].content == ""
    assert ssh_box.commands[-1].command == "sudo -n install -m 0644 /dev/null /tmp/empty"


async def test_a_wrong_host_key_is_refused_at_once_and_no_command_runs(ssh_box, platform_key) -> None:
    other = generate_host_key().public_openssh
    started = time.monotonic()
    with pytest.raises(HostKeyMismatch, match="does not match the pinned key"):
        await connector_for(ssh_box, platform_key).connect("198.51.100.1", other, deadline_s=10)
    assert time.monotonic() - started < 5  # not retried until the deadline
    assert ssh_box.commands == []


async def test_no_pinned_key_means_no_connection(ssh_box, platform_key) -> None:
    with pytest.raises(HostKeyMismatch, match="no pinned host key"):
        await connector_for(ssh_box, platform_key).connect("198.51.100.1", None)


async def test_an_unknown_client_key_is_refused(ssh_box, instance_key) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(SshAuthFailed):
        await connector_for(ssh_box, stranger).connect("198.51.100.1", instance_key.public_openssh)


async def test_an_unreachable_host_fails_within_its_deadline_with_a_clear_error(
    platform_key, instance_key
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = SshConnector(
        platform_key, port=port, host_override="127.0.0.1", connect_timeout=5, retry_interval=0.2
    )
    started = time.monotonic()
    with pytest.raises(SshUnreachable) as caught:
        await connector.connect("198.51.100.1", instance_key.public_openssh, deadline_s=1.0)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.5
    message = str(caught.value)
    assert f"127.0.0.1:{port} did not accept SSH within 1s" in message
    assert "attempts" in message and "last error" in message


async def test_connect_retries_until_the_host_comes_up(platform_key, instance_key) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = ssh_server.SshInstanceStandIn(
        asyncssh.import_private_key(instance_key.private_openssh), platform_key
    )

    async def boot_later() -> None:
        await asyncio.sleep(0.5)
        server = await asyncssh.create_server(
            asyncssh.SSHServer,
            "127.0.0.1",
            port,
            server_host_keys=[box.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(public_key_line(platform_key)),
            process_factory=box._handle,
            encoding="utf-8",
        )
        box._server = server

    booting = asyncio.create_task(boot_later())
    connector = SshConnector(platform_key, port=port, host_override="127.0.0.1", retry_interval=0.1)
    try:
        async with await connector.connect(
            "198.51.100.1", instance_key.public_openssh, deadline_s=10
        ) as session:
            assert (await session.run("free -m", timeout=5)).ok
    finally:
        await booting
        await box.stop()


async def test_a_command_past_its_timeout_raises_command_timeout(platform_key, instance_key) -> None:
    async def slow(process: asyncssh.SSHServerProcess) -> None:
        await asyncio.sleep(5)
        process.exit(0)

    server = await asyncssh.create_server(
        asyncssh.SSHServer,
        "127.0.0.1",
        0,
        server_host_keys=[asyncssh.import_private_key(instance_key.private_openssh)],
        authorized_client_keys=asyncssh.import_authorized_keys(public_key_line(platform_key)),
        process_factory=slow,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        connector = SshConnector(platform_key, port=port, host_override="127.0.0.1")
        async with await connector.connect("198.51.100.1", instance_key.public_openssh) as session:
            started = time.monotonic()
            with pytest.raises(CommandTimeout, match="did not finish within 0.3s"):
                await session.run("sleep 60", timeout=0.3)
            assert time.monotonic() - started < 2
    finally:
        server.close()


async def test_logged_commands_and_output_are_redacted(ssh_box, platform_key, instance_key, caplog) -> None:
    token = f"{secrets.randbelow(9 * 10**8) + 10**8}:AA{secrets.token_urlsafe(26)[:33]}"
    secret_registry.add(token)
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger="services.cloud.ssh"):
        async with await connector_for(ssh_box, platform_key).connect(
            "198.51.100.1", instance_key.public_openssh
        ) as session:
            await session.run(f"echo {token}", timeout=5)
            await session.upload("/tmp/config.json", f'{{"botToken": "{token}"}}', 0o600)
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    assert "echo" in logged and "/tmp/config.json" in logged
    assert token not in logged


def test_the_platform_client_key_is_created_once_with_private_permissions(tmp_path) -> None:
    path = tmp_path / "keys" / "platform"
    first = load_or_create_client_key(path)
    second = load_or_create_client_key(path)
    assert public_key_line(first) == public_key_line(second)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (tmp_path / "keys" / "platform.pub").read_text().strip() == public_key_line(first)
    path.write_text("garbage")
    with pytest.raises(ValueError, match="SSH_PRIVATE_KEY_PATH"):
        load_or_create_client_key(path)
