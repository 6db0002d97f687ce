"""AWS EC2/SSM stand-in: moto in server mode on 127.0.0.1, reached through AWS_ENDPOINT_URL.

One ThreadedMotoServer per test session (port picked by the OS); `aws_endpoint` resets its state
before each test, so every test starts with an empty account. Credentials are generated per run.

    from tests.standins.moto_ec2 import aws_endpoint, moto_server, cloud_settings  # noqa: F401
    async def test_x(aws_endpoint, tmp_path):
        settings = cloud_settings(aws_endpoint, tmp_path)
"""

from __future__ import annotations

import logging
import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from config import Settings


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The moto server's base URL (session-wide)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(base_url: str) -> None:
    request = urllib.request.Request(f"{base_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local test server
        answer.read()


@pytest.fixture
def aws_endpoint(moto_server: str) -> str:
    """The moto endpoint, emptied for this test."""
    reset_moto(moto_server)
    return moto_server


def cloud_settings(endpoint: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for the cloud services against moto, with throwaway credentials and a fresh key path."""
    values: dict[str, Any] = {
        "aws_access_key_id": SecretStr("testing" + secrets.token_hex(6)),
        "aws_secret_access_key": SecretStr(secrets.token_urlsafe(30)),
        "aws_region": "us-east-1",
        "aws_endpoint_url": endpoint,
        "ssh_private_key_path": str(tmp_path / "platform_key"),
        "ec2_waiter_delay": 1,
        "ec2_waiter_max_attempts": 5,
        "ssh_source_cidr": "203.0.113.0/24",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
