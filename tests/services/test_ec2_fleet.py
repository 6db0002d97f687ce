"""Ec2Fleet against moto in server mode, reached through aioboto3's endpoint override."""

from __future__ import annotations

import base64

import pytest
import yaml

from services.cloud.bootstrap import render_user_data
from services.cloud.ec2 import TAG_JOB, Ec2Error, Ec2Fleet
from services.cloud.host_keys import generate_host_key, load_or_create_client_key, public_key_line
from tests.standins import moto_ec2
from tests.standins.moto_ec2 import cloud_settings

moto_server, aws_endpoint = moto_ec2.moto_server, moto_ec2.aws_endpoint


def _tags(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


async def _live_instances(fleet: Ec2Fleet) -> list[dict]:
    answer = await fleet.ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    return [i for r in answer["Reservations"] for i in r["Instances"]]


async def test_launch_creates_the_instance_as_designed(aws_endpoint, tmp_path) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    key = generate_host_key()
    user_data = render_user_data(host_key=key, openclaw_version=settings.openclaw_version)
    async with Ec2Fleet(settings) as fleet:
        await fleet.ensure_network()
        ec2_id = await fleet.launch(
            job_id=41, order_id=7, user_id=9001, instance_type="t3.small", user_data=user_data
        )
        public_ip = await fleet.wait_running(ec2_id)
        instance = await fleet.describe(ec2_id)
        volumes = (
            await fleet.ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [ec2_id]}])
        )["Volumes"]
        attribute = await fleet.ec2.describe_instance_attribute(InstanceId=ec2_id, Attribute="userData")
        group = (await fleet.ec2.describe_security_groups(GroupNames=[settings.ec2_security_group]))[
            "SecurityGroups"
        ][0]
        pair = (await fleet.ec2.describe_key_pairs(KeyNames=[settings.ec2_key_name], IncludePublicKey=True))[
            "KeyPairs"
        ][0]

    assert instance is not None and public_ip == instance["PublicIpAddress"]
    assert instance["ImageId"] == "ami-0c7217cdde317cfec"
    assert instance["InstanceType"] == "t3.small"
    assert instance["KeyName"] == settings.ec2_key_name
    assert instance["State"]["Name"] == "running"
    assert [g["GroupName"] for g in instance["SecurityGroups"]] == [settings.ec2_security_group]
    wanted_tags = {"meetmatt:job": "41", "meetmatt:order": "7", "meetmatt:user": "9001"}
    assert wanted_tags.items() <= _tags(instance).items()
    assert instance["MetadataOptions"]["HttpTokens"] == "required"

    assert [(v["Size"], v["VolumeType"]) for v in volumes] == [(20, "gp3")]
    assert instance["BlockDeviceMappings"][0]["Ebs"]["DeleteOnTermination"] is True

    decoded = base64.b64decode(attribute["UserData"]["Value"]).decode()
    assert decoded == user_data
    document = yaml.safe_load(decoded)
    assert document["ssh_keys"]["ed25519_public"] == key.public_openssh
    assert document["runcmd"] == [["bash", "/opt/meetmatt/bootstrap.sh"]]

    rules = {(p["FromPort"], p["ToPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]}
    assert rules == {(22, 22, "203.0.113.0/24"), (443, 443, "0.0.0.0/0")}

    platform = load_or_create_client_key(settings.ssh_private_key_path)
    assert pair["KeyName"] == settings.ec2_key_name
    assert pair["PublicKey"].split()[:2] == public_key_line(platform).split()[:2]  # the platform's key


async def test_ensure_network_twice_creates_nothing_twice(aws_endpoint, tmp_path) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    async with Ec2Fleet(settings) as fleet:
        await fleet.ensure_network()
        await fleet.ensure_network()
        groups = (
            await fleet.ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [settings.ec2_security_group]}]
            )
        )["SecurityGroups"]
        pairs = (await fleet.ec2.describe_key_pairs())["KeyPairs"]
    assert len(groups) == 1
    assert sum(len(p["IpRanges"]) for p in groups[0]["IpPermissions"]) == 2
    assert [p["KeyName"] for p in pairs] == [settings.ec2_key_name]


async def test_a_job_resumed_after_a_crash_finds_its_instance_by_tag_and_launches_no_second(
    aws_endpoint, tmp_path
) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    user_data = render_user_data(host_key=generate_host_key(), openclaw_version=settings.openclaw_version)
    async with Ec2Fleet(settings) as fleet:
        first = await fleet.launch(
            job_id=77, order_id=5, user_id=1, instance_type="t3.small", user_data=user_data
        )
    # the worker died before saving `first`; a new worker (new clients) resumes the job
    async with Ec2Fleet(settings) as fleet:
        assert await fleet.find_by_job(77) == first
        again = await fleet.launch(
            job_id=77, order_id=5, user_id=1, instance_type="t3.small", user_data=user_data
        )
        live = await _live_instances(fleet)
    assert again == first
    assert [i["InstanceId"] for i in live] == [first]


async def test_another_job_gets_its_own_instance(aws_endpoint, tmp_path) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    async with Ec2Fleet(settings) as fleet:
        a = await fleet.launch(
            job_id=1, order_id=1, user_id=1, instance_type="t3.small", user_data="#cloud-config\n"
        )
        b = await fleet.launch(
            job_id=2, order_id=2, user_id=2, instance_type="t3.small", user_data="#cloud-config\n"
        )
        live = await _live_instances(fleet)
    assert a != b
    assert {_tags(i)[TAG_JOB] for i in live} == {"1", "2"}


async def test_terminate_leaves_no_running_instance_and_a_terminated_job_instance_is_not_found(
    aws_endpoint, tmp_path
) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    async with Ec2Fleet(settings) as fleet:
        ec2_id = await fleet.launch(
            job_id=3, order_id=3, user_id=3, instance_type="t3.small", user_data="#cloud-config\n"
        )
        await fleet.wait_running(ec2_id)
        await fleet.terminate(ec2_id)
        await fleet.terminate(ec2_id)  # idempotent
        assert await fleet.state(ec2_id) == "terminated"
        assert await _live_instances(fleet) == []
        assert await fleet.find_by_job(3) is None
        await fleet.stop("i-0123456789abcdef0")  # an unknown instance is not an error for stop
        assert await fleet.describe("i-0123456789abcdef0") is None


async def test_stop_leaves_the_instance_stopped(aws_endpoint, tmp_path) -> None:
    settings = cloud_settings(aws_endpoint, tmp_path)
    async with Ec2Fleet(settings) as fleet:
        ec2_id = await fleet.launch(
            job_id=4, order_id=4, user_id=4, instance_type="t3.small", user_data="#cloud-config\n"
        )
        await fleet.stop(ec2_id)
        assert await fleet.state(ec2_id) in ("stopping", "stopped")
        assert await _live_instances(fleet) == []


async def test_resolve_ami_prefers_the_setting_then_the_seed_image_then_ssm(aws_endpoint, tmp_path) -> None:
    async with Ec2Fleet(cloud_settings(aws_endpoint, tmp_path, ec2_ami_id="ami-0abcdef1234567890")) as fleet:
        assert await fleet.resolve_ami() == "ami-0abcdef1234567890"
    async with Ec2Fleet(cloud_settings(aws_endpoint, tmp_path)) as fleet:
        assert await fleet.resolve_ami() == "ami-0c7217cdde317cfec"
    settings = cloud_settings(
        aws_endpoint,
        tmp_path,
        aws_region="eu-west-1",
        ec2_ami_ssm_parameter="/meetmatt/test/ubuntu-22.04-ami",
    )
    async with Ec2Fleet(settings) as fleet:
        with pytest.raises(Ec2Error, match="set EC2_AMI_ID"):
            await fleet.resolve_ami()
        await fleet.ssm.put_parameter(
            Name="/meetmatt/test/ubuntu-22.04-ami", Value="ami-0feedface0000beef", Type="String"
        )
        assert await fleet.resolve_ami() == "ami-0feedface0000beef"


async def test_fleet_opens_once_and_closes(aws_endpoint, tmp_path) -> None:
    fleet = await Ec2Fleet.open(cloud_settings(aws_endpoint, tmp_path))
    client = fleet.ec2
    await fleet.ensure_network()
    assert fleet.ec2 is client  # the same client for every call
    await fleet.close()
    await fleet.close()  # closing twice is harmless


def test_cli_network_prepares_the_group_and_key_pair(aws_endpoint, tmp_path, capsys) -> None:
    import argparse
    import asyncio

    from cryptography.fernet import Fernet

    from cli.instances import cmd_network, cmd_user_data
    from services.infra.db import migrate

    url, key = f"sqlite://{tmp_path / 'net.sqlite3'}", Fernet.generate_key().decode()
    asyncio.run(migrate(url, key))
    settings = cloud_settings(aws_endpoint, tmp_path, database_url=url, encryption_key=key)
    plain = argparse.Namespace(rotate_key=False, new_key=False)
    assert cmd_network(plain, settings) == 0
    assert cmd_network(plain, settings) == 0  # idempotent
    out = capsys.readouterr().out
    assert "SSH from 203.0.113.0/24" in out and "ami-0c7217cdde317cfec" in out
    assert out.count("the platform SSH key stored in the database (SHA256:") == 2
    assert cmd_user_data(argparse.Namespace(), settings) == 0
    assert yaml.safe_load(capsys.readouterr().out)["runcmd"] == [["bash", "/opt/meetmatt/bootstrap.sh"]]
