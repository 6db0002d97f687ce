"""The EC2 side of customer servers, over one aioboto3 session (clients opened once).

Every launch is idempotent: `launch` first looks for a non-terminated instance tagged with the
job (`meetmatt:job=<id>`), and passes a ClientToken derived from the job, so a job resumed after a
crash between RunInstances and saving the id finds its instance instead of starting a second one
(moto ignores ClientToken; the tag lookup alone covers it there).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, WaiterError

from config import DEFAULT_AMI, Settings, secret_value
from services.cloud.ec2_network import (
    TAG_MANAGED,
    Ec2Error,
    ensure_key_pair,
    ensure_security_group,
    error_code,
)
from services.cloud.host_keys import load_or_create_client_key, public_key_line

log = logging.getLogger(__name__)

TAG_JOB = "meetmatt:job"
TAG_ORDER = "meetmatt:order"
TAG_USER = "meetmatt:user"
TAG_WARM = "meetmatt:warm"  # warm-pool slot: the instance row id it was launched for
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
ROOT_DEVICE = "/dev/sda1"  # Ubuntu AMIs' root device name


class Ec2Fleet:
    """EC2 calls the provisioning saga and instance care need. Open with `await Ec2Fleet.open(...)`
    (or `async with Ec2Fleet(settings) as fleet`); `close()` releases the clients."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: aioboto3.Session | None = None,
        platform_public_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.session = session or aioboto3.Session(
            aws_access_key_id=secret_value(settings.aws_access_key_id),
            aws_secret_access_key=secret_value(settings.aws_secret_access_key),
            region_name=settings.aws_region,
        )
        self._platform_public_key = platform_public_key
        self._stack: AsyncExitStack | None = None
        self.ec2: Any = None
        self.ssm: Any = None
        self._network_lock = asyncio.Lock()
        self._security_group_id: str | None = None

    @classmethod
    async def open(cls, settings: Settings, **kwargs: Any) -> Ec2Fleet:
        fleet = cls(settings, **kwargs)
        await fleet._open_clients()
        return fleet

    async def _open_clients(self) -> None:
        stack = AsyncExitStack()
        config = BotoConfig(
            retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60
        )
        endpoint = self.settings.aws_endpoint_url  # None: botocore's own AWS_ENDPOINT_URL/defaults
        try:
            self.ec2 = await stack.enter_async_context(
                self.session.client("ec2", endpoint_url=endpoint, config=config)
            )
            self.ssm = await stack.enter_async_context(
                self.session.client("ssm", endpoint_url=endpoint, config=config)
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def __aenter__(self) -> Ec2Fleet:
        if self._stack is None:
            await self._open_clients()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- network: security group and key pair -------------------------------------------------

    async def ensure_network(self) -> None:
        """Create (or complete) the security group and import the platform key pair. Idempotent."""
        async with self._network_lock:
            await self._ensure_key_pair()
            self._security_group_id = await self._ensure_security_group()

    def _public_key(self) -> str:
        if self._platform_public_key is None:
            key = load_or_create_client_key(self.settings.ssh_private_key_path)
            self._platform_public_key = public_key_line(key)
        return self._platform_public_key

    async def ensure_key_pair(self) -> None:
        """Import the platform key pair when EC2 has none; when it has one, make sure it holds OUR key.

        Raises PlatformKeyMismatch (the worker refuses to start) when the pair holds another key.
        """
        async with self._network_lock:
            await self._ensure_key_pair()

    async def _ensure_key_pair(self) -> None:
        await ensure_key_pair(self.ec2, self.settings.ec2_key_name, self._public_key())

    async def _ensure_security_group(self) -> str:
        return await ensure_security_group(
            self.ec2, self.settings.ec2_security_group, self.settings.ssh_source_cidr
        )

    async def reimport_key_pair(self) -> None:
        """Replace the EC2 key pair with the platform's current public key (after a deliberate rotation)."""
        name = self.settings.ec2_key_name
        async with self._network_lock:
            try:
                await self.ec2.delete_key_pair(KeyName=name)
            except ClientError as exc:
                if error_code(exc) != "InvalidKeyPair.NotFound":
                    raise Ec2Error(f"deleting key pair {name!r} failed: {error_code(exc)}") from None
            await self._ensure_key_pair()

    async def security_group_id(self) -> str:
        if self._security_group_id is None:
            await self.ensure_network()
        assert self._security_group_id is not None
        return self._security_group_id

    # --- image ---------------------------------------------------------------------------------

    async def resolve_ami(self) -> str:
        """EC2_AMI_ID when set; the seed's Ubuntu 22.04 image in us-east-1; else the public SSM parameter."""
        if self.settings.ec2_ami_id:
            return str(self.settings.ec2_ami_id)
        if self.settings.aws_region == "us-east-1":
            return DEFAULT_AMI
        name = self.settings.ec2_ami_ssm_parameter
        try:
            answer = await self.ssm.get_parameter(Name=name)
        except ClientError as exc:
            raise Ec2Error(
                f"cannot resolve the Ubuntu AMI for {self.settings.aws_region} from SSM "
                f"parameter {name} ({error_code(exc)}); set EC2_AMI_ID"
            ) from None
        return str(answer["Parameter"]["Value"])

    # --- instances -----------------------------------------------------------------------------

    async def _find_tagged(self, key: str, value: str) -> str | None:
        answer = await self.ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{key}", "Values": [value]},
                {"Name": "instance-state-name", "Values": LIVE_STATES},
            ]
        )
        instances = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
        if not instances:
            return None
        instances.sort(key=lambda i: (i.get("LaunchTime") or "", i["InstanceId"]))
        if len(instances) > 1:
            log.error(
                "more than one live instance carries one tag",
                extra={"tag": f"{key}={value}", "instances": ",".join(i["InstanceId"] for i in instances)},
            )
        return str(instances[0]["InstanceId"])

    async def find_by_job(self, job_id: int) -> str | None:
        """The live (not terminated) instance launched for this job, if any."""
        return await self._find_tagged(TAG_JOB, str(job_id))

    async def find_by_warm_slot(self, instance_row_id: int) -> str | None:
        return await self._find_tagged(TAG_WARM, str(instance_row_id))

    async def launch(
        self, *, job_id: int, order_id: int | None, user_id: int | None, instance_type: str, user_data: str
    ) -> str:
        """Start the instance for a provisioning job, or return the one already started for it."""
        existing = await self.find_by_job(job_id)
        if existing:
            log.info("instance already launched for this job", extra={"job_id": job_id, "ec2_id": existing})
            return existing
        tags = {
            TAG_JOB: str(job_id),
            TAG_ORDER: str(order_id or ""),
            TAG_USER: str(user_id or ""),
            "Name": f"meetmatt-order-{order_id or job_id}",
        }
        return await self._run(
            tags=tags, client_token=f"meetmatt-job-{job_id}", instance_type=instance_type, user_data=user_data
        )

    async def launch_warm(self, *, instance_row_id: int, instance_type: str, user_data: str) -> str:
        """Start a warm-pool instance for the given (unassigned) instance row, idempotently."""
        existing = await self.find_by_warm_slot(instance_row_id)
        if existing:
            return existing
        tags = {TAG_WARM: str(instance_row_id), "Name": f"meetmatt-warm-{instance_row_id}"}
        return await self._run(
            tags=tags,
            client_token=f"meetmatt-warm-{instance_row_id}",
            instance_type=instance_type,
            user_data=user_data,
        )

    async def _run(
        self, *, tags: dict[str, str], client_token: str, instance_type: str, user_data: str
    ) -> str:
        group_id = await self.security_group_id()
        image_id = await self.resolve_ami()
        tag_list = [{"Key": k, "Value": v} for k, v in {**tags, TAG_MANAGED: "1"}.items()]
        try:
            answer = await self.ec2.run_instances(
                ImageId=image_id,
                InstanceType=instance_type,
                MinCount=1,
                MaxCount=1,
                KeyName=self.settings.ec2_key_name,
                SecurityGroupIds=[group_id],
                UserData=user_data,
                ClientToken=client_token[:64],
                BlockDeviceMappings=[
                    {
                        "DeviceName": ROOT_DEVICE,
                        "Ebs": {
                            "VolumeSize": int(self.settings.ec2_volume_gb),
                            "VolumeType": "gp3",
                            "DeleteOnTermination": True,
                            "Encrypted": True,
                        },
                    }
                ],
                MetadataOptions={
                    "HttpTokens": "required",
                    "HttpPutResponseHopLimit": 1,
                    "HttpEndpoint": "enabled",
                },
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": tag_list},
                    {"ResourceType": "volume", "Tags": tag_list},
                ],
            )
        except ClientError as exc:
            raise Ec2Error(
                f"RunInstances failed ({error_code(exc)}): {exc.response.get('Error', {}).get('Message', '')}"
            ) from None
        ec2_id = str(answer["Instances"][0]["InstanceId"])
        log.info(
            "instance launched",
            extra={
                "ec2_id": ec2_id,
                "type": instance_type,
                "image": image_id,
                "tags": ",".join(f"{k}={v}" for k, v in tags.items()),
            },
        )
        return ec2_id

    async def tag_for_order(
        self, ec2_id: str, *, job_id: int | None, order_id: int | None, user_id: int | None
    ) -> None:
        """Label a claimed warm-pool instance with the order it now serves."""
        tags = {
            TAG_ORDER: str(order_id or ""),
            TAG_USER: str(user_id or ""),
            "Name": f"meetmatt-order-{order_id}",
        }
        if job_id is not None:
            tags[TAG_JOB] = str(job_id)
        await self.ec2.create_tags(Resources=[ec2_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    async def wait_running(self, ec2_id: str) -> str:
        """Wait until the instance runs; return its public IP. Explicit delay and attempt limits."""
        delay = int(self.settings.ec2_waiter_delay)
        attempts = int(self.settings.ec2_waiter_max_attempts)
        try:
            await self.ec2.get_waiter("instance_running").wait(
                InstanceIds=[ec2_id], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        except WaiterError as exc:
            raise Ec2Error(
                f"instance {ec2_id} was not running after {delay * attempts}s: "
                f"{exc.last_response.get('Error', {}).get('Code') or 'state did not change'}"
            ) from None
        for _ in range(attempts):  # the public IP can lag the state by a moment
            described = await self.describe(ec2_id)
            if described and described.get("PublicIpAddress"):
                return str(described["PublicIpAddress"])
            await asyncio.sleep(delay)
        raise Ec2Error(f"instance {ec2_id} runs but has no public IP (is the subnet assigning public IPs?)")

    async def describe(self, ec2_id: str) -> dict[str, Any] | None:
        """The instance as EC2 describes it, or None when EC2 does not know it."""
        try:
            answer = await self.ec2.describe_instances(InstanceIds=[ec2_id])
        except ClientError as exc:
            if error_code(exc) in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
                return None
            raise
        for reservation in answer.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                return dict(instance)
        return None

    async def state(self, ec2_id: str) -> str | None:
        described = await self.describe(ec2_id)
        return described["State"]["Name"] if described else None

    async def stop(self, ec2_id: str) -> None:
        """Stop the instance (kept, not billed for compute). A missing instance is not an error."""
        try:
            await self.ec2.stop_instances(InstanceIds=[ec2_id])
        except ClientError as exc:
            if error_code(exc) != "InvalidInstanceID.NotFound":
                raise Ec2Error(f"stopping {ec2_id} failed: {error_code(exc)}") from None
        log.info("instance stopped", extra={"ec2_id": ec2_id})

    async def start(self, ec2_id: str) -> None:
        try:
            await self.ec2.start_instances(InstanceIds=[ec2_id])
        except ClientError as exc:
            raise Ec2Error(f"starting {ec2_id} failed: {error_code(exc)}") from None

    async def reboot(self, ec2_id: str) -> None:
        """Reboot the instance (instance care's repair when SSH no longer answers)."""
        try:
            await self.ec2.reboot_instances(InstanceIds=[ec2_id])
        except ClientError as exc:
            raise Ec2Error(f"rebooting {ec2_id} failed: {error_code(exc)}") from None

    async def terminate(self, ec2_id: str) -> None:
        """Terminate the instance. Idempotent: an already-gone instance counts as terminated."""
        try:
            await self.ec2.terminate_instances(InstanceIds=[ec2_id])
        except ClientError as exc:
            if error_code(exc) != "InvalidInstanceID.NotFound":
                raise Ec2Error(f"terminating {ec2_id} failed: {error_code(exc)}") from None
        log.info("instance terminated", extra={"ec2_id": ec2_id})
