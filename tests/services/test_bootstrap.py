"""The cloud-init user data is real cloud-config (Debian's `cloud-init schema`), its shell passes
shellcheck, it installs what DESIGN section 5 lists and holds no customer secret; and
`wait_bootstrapped` waits for the pinned host key and the marker over SSH."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from services.cloud.bootstrap import (
    BOOTSTRAP_SCRIPT,
    DONE_MARKER,
    UNIT_PATH,
    BootstrapError,
    render_bootstrap_script,
    render_user_data,
    wait_bootstrapped,
)
from services.cloud.host_keys import generate_host_key
from services.cloud.ssh import HostKeyMismatch
from tests.standins import ssh_server
from tests.standins.ssh_server import connector_for
from tests.standins.system_tools import ensure_debian_tools

# fixtures shared from the stand-in module
platform_key, instance_key, ssh_box = ssh_server.platform_key, ssh_server.instance_key, ssh_server.ssh_box

VERSION = "2026.9.6"


@pytest.fixture(scope="module")
def debian_tools() -> None:
    ensure_debian_tools({"cloud-init": "cloud-init", "shellcheck": "shellcheck"})


def _document(user_data: str) -> dict:
    assert user_data.startswith("#cloud-config\n")
    return yaml.safe_load(user_data)


def test_user_data_passes_cloud_init_schema_validation(debian_tools, tmp_path: Path) -> None:
    path = tmp_path / "user-data.yaml"
    path.write_text(render_user_data(host_key=generate_host_key(), openclaw_version=VERSION))
    done = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"cloud-init schema refused the user data:\n{done.stdout}\n{done.stderr}"
    assert "Valid cloud-config" in done.stdout


def test_bootstrap_shell_passes_shellcheck(debian_tools, tmp_path: Path) -> None:
    document = _document(render_user_data(host_key=generate_host_key(), openclaw_version=VERSION))
    script = next(f["content"] for f in document["write_files"] if f["path"] == BOOTSTRAP_SCRIPT)
    path = tmp_path / "bootstrap.sh"
    path.write_text(script)
    done = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"shellcheck findings:\n{done.stdout}{done.stderr}"
    assert document["runcmd"] == [["bash", BOOTSTRAP_SCRIPT]]


def test_user_data_pins_the_generated_host_key_and_installs_openclaw_as_designed() -> None:
    key = generate_host_key()
    document = _document(render_user_data(host_key=key, openclaw_version=VERSION))
    assert document["ssh_keys"] == {
        "ed25519_private": key.private_openssh,
        "ed25519_public": key.public_openssh,
    }
    assert document["ssh_deletekeys"] is True
    assert document["swap"]["filename"] == "/swapfile"
    assert document["swap"]["size"] == 2 * 1024**3
    assert {"curl", "ca-certificates"} <= set(document["packages"])

    files = {f["path"]: f for f in document["write_files"]}
    script = files[BOOTSTRAP_SCRIPT]["content"]
    assert files[BOOTSTRAP_SCRIPT]["permissions"] == "0755"
    assert "https://deb.nodesource.com/node_${NODE_MAJOR}.x" in script and 'NODE_MAJOR="24"' in script
    assert 'npm install -g --no-fund --no-audit "openclaw@${OPENCLAW_VERSION}"' in script
    assert f'OPENCLAW_VERSION="{VERSION}"' in script
    assert "useradd --create-home --shell /bin/bash openclaw" in script
    assert "loginctl enable-linger openclaw" in script
    assert "systemctl enable openclaw-gateway.service" in script
    assert '> "$DONE_MARKER"' in script and f'DONE_MARKER="{DONE_MARKER}"' in script

    unit = files[UNIT_PATH]["content"]
    assert "User=openclaw" in unit
    assert "Environment=NODE_OPTIONS=--max-old-space-size=1024" in unit
    assert "ExecStart=/usr/bin/openclaw gateway --port 18789" in unit
    assert "Restart=always" in unit


def test_user_data_has_no_customer_secret_or_platform_key() -> None:
    text = render_user_data(host_key=generate_host_key(), openclaw_version=VERSION)
    for forbidden in (
        "MOONSHOT_API_KEY=",
        "MEETMATT_MODEL_API_KEY=",
        "botToken",
        "BOT_TOKEN",
        "gateway_token",
        "auth",
    ):
        assert forbidden not in text
    assert text.count("PRIVATE KEY-----") == 2  # only the instance's own host key (BEGIN/END)


def test_an_unpinned_version_string_is_refused() -> None:
    with pytest.raises(ValueError, match="OPENCLAW_VERSION"):
        render_bootstrap_script("latest; rm -rf /")


async def test_wait_bootstrapped_returns_once_the_marker_is_present(
    ssh_box, platform_key, instance_key
) -> None:
    instance = _Target(1, "198.51.100.7", instance_key.public_openssh)
    await wait_bootstrapped(connector_for(ssh_box, platform_key), instance, deadline_s=5)
    assert ssh_box.commands_matching("bootstrap.done")


async def test_wait_bootstrapped_fails_at_its_deadline_while_the_bootstrap_still_runs(
    ssh_box, platform_key, instance_key
) -> None:
    ssh_box.behaviour.bootstrap_state = "pending"
    instance = _Target(2, "198.51.100.8", instance_key.public_openssh)
    started = time.monotonic()
    with pytest.raises(BootstrapError, match="not bootstrapped within 1s"):
        await wait_bootstrapped(
            connector_for(ssh_box, platform_key), instance, deadline_s=1, poll_interval_s=0.2
        )
    assert time.monotonic() - started < 3
    assert len(ssh_box.commands_matching("bootstrap.done")) >= 2


async def test_wait_bootstrapped_reports_a_failed_bootstrap_at_once(
    ssh_box, platform_key, instance_key
) -> None:
    ssh_box.behaviour.bootstrap_state = "failed"
    instance = _Target(3, "198.51.100.9", instance_key.public_openssh)
    with pytest.raises(BootstrapError, match="bootstrap script failed"):
        await wait_bootstrapped(connector_for(ssh_box, platform_key), instance, deadline_s=30)


async def test_wait_bootstrapped_refuses_a_host_with_another_key(ssh_box, platform_key) -> None:
    instance = _Target(4, "198.51.100.10", generate_host_key().public_openssh)
    with pytest.raises(HostKeyMismatch):
        await wait_bootstrapped(connector_for(ssh_box, platform_key), instance, deadline_s=30)
    assert ssh_box.commands == []


class _Target:
    def __init__(self, id: int, public_ip: str, host_key_public: str) -> None:
        self.id = id
        self.public_ip = public_ip
        self.host_key_public = host_key_public
