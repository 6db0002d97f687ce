"""The EC2 network the fleet needs before any launch, created once and idempotently (another worker
may race): the security group with its ingress rules, and the platform's key pair, which must hold
OUR public key (PlatformKeyMismatch otherwise: the worker refuses to start)."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from services.cloud.platform_key import (
    PlatformKeyMismatch,
    key_pair_matches,
    mismatch_message,
    openssh_fingerprint,
)

log = logging.getLogger("services.cloud.ec2")

TAG_MANAGED = "meetmatt:managed"


class Ec2Error(RuntimeError):
    """An EC2 call failed in a way the caller should see (message names the step)."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def ensure_key_pair(ec2: Any, name: str, public_key: str) -> None:
    """Import the key pair when EC2 has none; when it has one, it must hold `public_key`."""
    try:
        found = await ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)
    except ClientError as exc:
        if error_code(exc) != "InvalidKeyPair.NotFound":
            raise Ec2Error(f"looking up key pair {name!r} failed: {error_code(exc)}") from None
    else:
        pair = (found.get("KeyPairs") or [{}])[0]
        ours = public_key
        if not key_pair_matches(
            ours, ec2_public_key=pair.get("PublicKey"), ec2_fingerprint=pair.get("KeyFingerprint")
        ):
            raise PlatformKeyMismatch(
                mismatch_message(name, openssh_fingerprint(ours), pair.get("KeyFingerprint") or "another key")
            )
        return
    try:
        await ec2.import_key_pair(
            KeyName=name,
            PublicKeyMaterial=public_key.encode(),
            TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": TAG_MANAGED, "Value": "1"}]}],
        )
        log.info("imported the platform key pair", extra={"key_name": name})
    except ClientError as exc:
        if error_code(exc) != "InvalidKeyPair.Duplicate":  # another worker won the race
            raise Ec2Error(f"importing key pair {name!r} failed: {error_code(exc)}") from None


def wanted_rules(ssh_source_cidr: str) -> list[dict[str, Any]]:
    """Ingress: SSH from the platform only, and HTTPS from anywhere as the owner's design asks (DESIGN
    section 5). Nothing listens on 443 today: the gateway binds to loopback and reaches Telegram by
    long polling."""
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": ssh_source_cidr, "Description": "SSH from the platform"}],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS"}],
        },
    ]


async def ensure_security_group(ec2: Any, name: str, ssh_source_cidr: str) -> str:
    """The group's id, created (or completed with missing rules) when needed."""
    found = await ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    groups = found.get("SecurityGroups", [])
    if groups:
        group = groups[0]
    else:
        try:
            created = await ec2.create_security_group(
                GroupName=name,
                Description="Meet Matt agents: SSH from the platform, HTTPS",
                TagSpecifications=[
                    {"ResourceType": "security-group", "Tags": [{"Key": TAG_MANAGED, "Value": "1"}]}
                ],
            )
            log.info("created security group", extra={"group": name, "group_id": created["GroupId"]})
        except ClientError as exc:
            if error_code(exc) != "InvalidGroup.Duplicate":
                raise Ec2Error(f"creating security group {name!r} failed: {error_code(exc)}") from None
        found = await ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
        group = found["SecurityGroups"][0]
    existing = {
        (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIp"))
        for p in group.get("IpPermissions", [])
        for r in p.get("IpRanges", [])
    }
    missing = [
        rule
        for rule in wanted_rules(ssh_source_cidr)
        if (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["IpRanges"][0]["CidrIp"])
        not in existing
    ]
    if missing:
        try:
            await ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=missing)
        except ClientError as exc:
            if error_code(exc) != "InvalidPermission.Duplicate":
                raise Ec2Error(f"opening ports on {name!r} failed: {error_code(exc)}") from None
    return str(group["GroupId"])
