"""The real-gateway harness itself: its start-log check is not vacuous. Given the platform key under
Moonshot's own variable name (what Meet Matt wrote before), the pinned gateway tries to install its
Moonshot plugin at start and runs degraded, and `start_problems()` reports exactly that; the files
activation writes today start clean and answer /readyz and /healthz. The real instance keeps the
files activation uploads and removes the ones it removes, as the host would."""

from __future__ import annotations

import asyncio
import secrets

from services.cloud.activation import REMOVE_SOUL_CMD
from services.cloud.openclaw_config import SOUL_PATH, AgentEndpoints, AgentSpec, render_agent_files
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.standins import free_port
from tests.standins.openclaw import GatewayProcess, install_home
from tests.standins.openclaw.instance import RealInstance
from tests.standins.telegram import TelegramTestApi


def _files(kimi_url: str, telegram_root: str):
    token = f"{secrets.randbelow(9 * 10**8) + 10**8}:AA{secrets.token_urlsafe(26)[:33]}"
    return render_agent_files(
        AgentSpec(
            bot_token=token,
            allowed_user_id=4242,
            gateway_token=secrets.token_urlsafe(32),
            endpoints=AgentEndpoints(
                model_api_key="sk-" + secrets.token_hex(16),
                model_base_url=kimi_url,
                telegram_api_root=telegram_root,
            ),
        )
    )


async def test_the_start_check_catches_the_moonshot_plugin_attempt_and_passes_our_files(
    openclaw, tmp_path, telegram_api: TelegramTestApi
) -> None:  # noqa: F811
    files = _files("http://127.0.0.1:9/v1", telegram_api.base_url)
    ours, old = GatewayProcess(tmp_path / "ours", free_port()), GatewayProcess(tmp_path / "old", free_port())
    install_home(ours.home, files.config_text, files.env_text)
    # the old way: the key in MOONSHOT_API_KEY (the gateway reads it from ~/.openclaw/.env)
    install_home(old.home, files.config_text, files.env_text + "MOONSHOT_API_KEY=sk-old\n")
    try:
        ours.start()
        old.start()
        await asyncio.gather(ours.wait_ready(180), old.wait_ready(180))
        assert ours.start_problems() == [], ours.start_problems()
        assert (await ours.get("/healthz"))[0] == 200
        problems = " | ".join(f"{p.level} {p.subsystem}: {p.message}" for p in old.start_problems())
        assert "moonshot" in problems.lower() and "plugin" in problems.lower(), problems
    finally:
        await asyncio.gather(asyncio.to_thread(ours.stop), asyncio.to_thread(old.stop))


async def test_the_real_instance_removes_the_soul_md_that_activation_removes(tmp_path) -> None:
    real = RealInstance(tmp_path)
    upload = f"sudo -n install -m 0600 -o openclaw -g openclaw /dev/stdin {SOUL_PATH}"
    assert await real.answer(upload, "# Nova\n") is None  # the stand-in records it too
    soul = tmp_path / ".openclaw" / "workspace" / "SOUL.md"
    assert soul.read_text() == "# Nova\n"
    assert await real.answer(REMOVE_SOUL_CMD, None) is None
    assert not soul.exists()
    assert await real.answer(REMOVE_SOUL_CMD, None) is None  # -f: nothing there is fine
