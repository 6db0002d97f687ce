"""What the worker checks at start: an EC2 that does not answer delays the key-pair check to the
first launch instead of holding the start for the client's whole retry budget."""

from __future__ import annotations

import logging
from pathlib import Path

from cli.startup_checks import check_key_pair
from services.cloud.ec2 import Ec2Fleet
from tests.standins.moto_ec2 import cloud_settings


async def test_an_unreachable_ec2_only_delays_the_key_pair_check(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="meetmatt.runtime")
    settings = cloud_settings("http://127.0.0.1:9", tmp_path)  # nothing listens on port 9
    fleet = await Ec2Fleet.open(settings, platform_public_key="ssh-ed25519 AAAAC3Nza test")
    try:
        await check_key_pair(fleet, budget_s=0.5)  # returns: the start goes on
    finally:
        await fleet.close()
    warned = [r for r in caplog.records if "could not compare the EC2 key pair" in r.getMessage()]
    assert len(warned) == 1 and warned[0].error == "TimeoutError"
