"""What the composition root checks when a worker starts (cli/root.py, cli/startup_checks.py)."""

from __future__ import annotations

from cli.root import Needs, open_root
from tests.standins import moto_ec2
from tests.standins.moto_ec2 import cloud_settings

moto_server, aws_endpoint = moto_ec2.moto_server, moto_ec2.aws_endpoint


async def test_env_accounts_that_fail_to_import_are_named_at_start(
    db: str, aws_endpoint, tmp_path, monkeypatch, caplog
) -> None:
    from models import Alert, TelegramAccount

    monkeypatch.setenv("TELEGRAM_FALLBACK_3_PHONE", "+15550003333")
    monkeypatch.setenv("TELEGRAM_FALLBACK_3_API_ID", "not-a-number")
    monkeypatch.setenv("TELEGRAM_FALLBACK_3_API_HASH", "ef" * 16)
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = cloud_settings(aws_endpoint, tmp_path)
    async with open_root(settings, Needs(database=False, background=True)):  # `db` has the ORM open
        pass
    assert "TELEGRAM_FALLBACK_3_API_ID must be a number" in caplog.text
    alert = await Alert.get(kind="env_accounts_not_imported")
    assert "TELEGRAM_FALLBACK_3_API_ID must be a number" in alert.text and "+15550003333" not in alert.text
    assert not await TelegramAccount.filter(phone="+15550003333").exists()
