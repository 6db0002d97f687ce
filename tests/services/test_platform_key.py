"""The platform SSH key lives (encrypted) in the database, is the same for every replica, and a worker
whose key is not the EC2 key pair's refuses to start, naming the mismatch."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys

import asyncssh
import pytest
from cryptography.hazmat.primitives import serialization
from tortoise import connections

from cli.root import Needs, Options, open_root
from models import PlatformKey
from services.cloud.ec2 import Ec2Fleet
from services.cloud.host_keys import load_or_create_client_key, public_key_line
from services.cloud.platform_key import (
    PlatformKeyMismatch,
    key_pair_matches,
    load_platform_key,
    openssh_fingerprint,
)
from tests.standins import moto_ec2
from tests.standins.moto_ec2 import cloud_settings
from tests.test_worker_cli import ROOT, base_env

moto_server, aws_endpoint = moto_ec2.moto_server, moto_ec2.aws_endpoint

WORKER_CLIENTS = Needs(database=False, background=True)  # the `db` fixture has the ORM open


def _ed25519_line(comment: str = "x") -> str:
    return public_key_line(asyncssh.generate_private_key("ssh-ed25519", comment=comment))


def _aws_style(line: str) -> str:  # AWS: base64 SHA-256 of the OpenSSH blob, as OpenSSH prints it
    return base64.b64encode(hashlib.sha256(base64.b64decode(line.split()[1])).digest()).decode()


def _moto_style(line: str) -> str:  # moto: hex SHA-256 of the DER key, with colons
    der = serialization.load_ssh_public_key(line.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


OURS, OTHER = _ed25519_line("ours"), _ed25519_line("other")


@pytest.mark.parametrize(
    ("ec2_public_key", "ec2_fingerprint", "matches"),
    [
        (OURS, None, True),
        (" ".join(OURS.split()[:2]) + " renamed-comment", None, True),  # the comment does not matter
        (OTHER, None, False),
        (None, _aws_style(OURS), True),
        (None, _aws_style(OURS).rstrip("="), True),
        (None, openssh_fingerprint(OURS), True),  # SHA256:… as ssh-keygen prints it
        (None, _moto_style(OURS), True),
        (None, _moto_style(OTHER), False),
        (None, _aws_style(OTHER), False),
        (None, None, False),  # nothing to compare: never assume it matches
    ],
)
def test_the_key_pair_comparison_reads_every_fingerprint_spelling(
    ec2_public_key, ec2_fingerprint, matches
) -> None:
    assert key_pair_matches(OURS, ec2_public_key=ec2_public_key, ec2_fingerprint=ec2_fingerprint) is matches


async def test_a_key_stored_once_is_the_key_every_replica_uses(db: str) -> None:
    first, second, third = await asyncio.gather(load_platform_key(), load_platform_key(), load_platform_key())
    later = await load_platform_key()
    assert first.public_openssh == second.public_openssh == third.public_openssh == later.public_openssh
    assert await PlatformKey.all().count() == 1
    assert later.private.export_private_key("pkcs8-pem") == first.private.export_private_key("pkcs8-pem")


async def test_the_private_key_is_encrypted_at_rest(db: str) -> None:
    key = await load_platform_key()
    rows = await connections.get("default").execute_query_dict("SELECT private_openssh FROM platform_key")
    stored = rows[0]["private_openssh"]
    private = key.private.export_private_key("openssh").decode()
    assert "PRIVATE KEY" not in stored and private.splitlines()[1] not in stored


async def test_an_existing_key_file_is_imported_once_so_running_instances_stay_reachable(
    db: str, tmp_path
) -> None:
    legacy = load_or_create_client_key(tmp_path / "platform_ssh_key")
    stored = await load_platform_key(str(tmp_path / "platform_ssh_key"))
    assert stored.public_openssh.split()[:2] == public_key_line(legacy).split()[:2]
    (tmp_path / "platform_ssh_key").unlink()  # the file may go: the database has it now
    again = await load_platform_key(str(tmp_path / "platform_ssh_key"))
    assert again.public_openssh == stored.public_openssh


async def test_a_second_worker_with_a_different_key_refuses_to_start_naming_the_mismatch(
    db: str, aws_endpoint, tmp_path
) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    other = asyncssh.generate_private_key("ssh-ed25519")  # another deployment's key owns the pair
    async with Ec2Fleet(settings, platform_public_key=public_key_line(other)) as fleet:
        await fleet.ensure_key_pair()

    with pytest.raises(PlatformKeyMismatch) as refused:
        async with open_root(settings, WORKER_CLIENTS, Options(import_env=False)):
            raise AssertionError("the runtime started with a mismatched key")
    message = str(refused.value)
    ours = await load_platform_key()
    assert settings.ec2_key_name in message and ours.fingerprint in message
    assert "--rotate-key" in message and "EC2_KEY_NAME" in message
    assert "PRIVATE" not in message


async def test_a_worker_with_the_key_of_the_key_pair_starts(db: str, aws_endpoint, tmp_path) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    ours = await load_platform_key()
    async with Ec2Fleet(settings, platform_public_key=ours.public_openssh) as fleet:
        await fleet.ensure_key_pair()
    async with open_root(settings, WORKER_CLIENTS, Options(import_env=False)) as root:
        assert root.background is not None
        assert (
            root.background.ssh.client_key.export_public_key("openssh").split()[:2]
            == ours.public_openssh.encode().split()[:2]
        )


def test_main_py_worker_refuses_a_mismatched_key_pair_with_a_message_and_rotate_key_fixes_it(
    aws_endpoint, tmp_path
) -> None:
    env = {**base_env(tmp_path), "AWS_ENDPOINT_URL": aws_endpoint}
    subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )

    async def plant_foreign_pair() -> None:
        settings = cloud_settings(
            aws_endpoint,
            tmp_path,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        async with Ec2Fleet(settings, platform_public_key=_ed25519_line("foreign")) as fleet:
            await fleet.ensure_key_pair()

    asyncio.run(plant_foreign_pair())
    refused = subprocess.run(
        [sys.executable, "main.py", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "does not hold this deployment's platform SSH key" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout

    rotated = subprocess.run(
        [sys.executable, "main.py", "instances", "network", "--rotate-key"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "re-imported" in rotated.stdout
    again = subprocess.run(
        [sys.executable, "main.py", "instances", "network"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_new_key_is_refused_while_instances_trust_the_old_one_and_rotates_the_pair_otherwise(
    aws_endpoint, tmp_path, capsys
) -> None:
    import argparse

    from cryptography.fernet import Fernet

    from cli.instances import cmd_network
    from models import Customer, Instance, InstanceStatus, Order
    from services.infra.db import migrate, open_database

    url, key = f"sqlite://{tmp_path / 'rotate.sqlite3'}", Fernet.generate_key().decode()
    asyncio.run(migrate(url, key))
    settings = cloud_settings(aws_endpoint, tmp_path, database_url=url, encryption_key=key)
    assert cmd_network(argparse.Namespace(rotate_key=False, new_key=False), settings) == 0

    async def stored_and_ec2() -> tuple[str, str]:
        async with open_database(url, key):
            stored = await load_platform_key()
        async with Ec2Fleet(settings) as fleet:
            pair = (
                await fleet.ec2.describe_key_pairs(KeyNames=[settings.ec2_key_name], IncludePublicKey=True)
            )["KeyPairs"][0]
        return stored.public_openssh, pair["PublicKey"]

    async def add_live_instance(status: InstanceStatus) -> None:
        async with open_database(url, key):
            customer = await Customer.create(telegram_id=1)
            order = await Order.create(customer=customer, package="starter", bot_name="x")
            await Instance.create(order=order, customer=customer, status=status)

    first, _ = asyncio.run(stored_and_ec2())
    asyncio.run(add_live_instance(InstanceStatus.ACTIVE))
    rotate_new = argparse.Namespace(rotate_key=True, new_key=True)
    assert cmd_network(rotate_new, settings) == 1
    assert "trust the current key only" in capsys.readouterr().err
    assert asyncio.run(stored_and_ec2())[0] == first  # nothing changed

    async def terminate_all() -> None:
        async with open_database(url, key):
            await Instance.all().update(status=InstanceStatus.TERMINATED)

    asyncio.run(terminate_all())
    assert cmd_network(rotate_new, settings) == 0
    stored, in_ec2 = asyncio.run(stored_and_ec2())
    assert stored != first and in_ec2.split()[:2] == stored.split()[:2]
    assert cmd_network(argparse.Namespace(rotate_key=False, new_key=True), settings) == 2  # usage
