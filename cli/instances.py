"""`python main.py instances ...`: operator commands for customer servers.

Actions on an instance (terminate, restart, reprovision, check) are services/operations/instances,
the same functions the bot's admin buttons call: queued as jobs for the worker, and audited.
`instances network` prepares the security group and key pair; `instances user-data` prints the
cloud-init document; `instances agent-config` prints the OpenClaw files an instance gets at
activation (the same functions activation uses, so what is printed is what is written, except the
model key: a marked placeholder stands for the per-instance key, which is never stored in plaintext).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from config import Settings
from services.operations import instances as operations

if TYPE_CHECKING:
    from cli.root import Root

ACTIONS = {
    "terminate": (operations.terminate_instance, "terminate the instance's server (it is never reused)"),
    "restart": (operations.restart_instance, "restart the agent's gateway and wait until it is ready"),
    "reprovision": (
        operations.reprovision_instance,
        "write the agent's config again and restart the gateway",
    ),
    "check": (operations.check_instance, "run a health check now (with the automatic repair)"),
}


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    instances = groups["instances"]
    for action, (_, help_text) in ACTIONS.items():
        parser = instances.add_parser(action, help=help_text)
        parser.add_argument("instance_id", type=int)
        if action == "terminate":
            parser.add_argument("--reason", default="operator request (CLI)")
        parser.set_defaults(func=cmd_instance_action, instance_action=action)
    network = instances.add_parser(
        "network", help="create/complete the EC2 security group and import the platform key pair (idempotent)"
    )
    network.add_argument(
        "--rotate-key",
        action="store_true",
        help="replace the EC2 key pair with the platform key stored in the database "
        "(after a deliberate rotation, or when the pair holds another key)",
    )
    network.add_argument(
        "--new-key",
        action="store_true",
        help="with --rotate-key: generate a new platform key first (instances launched "
        "before keep trusting the old key only: refused while any is live)",
    )
    network.set_defaults(func=cmd_network)
    instances.add_parser(
        "user-data", help="print the cloud-init user data a new instance gets (with a throwaway host key)"
    ).set_defaults(func=cmd_user_data)
    agent = instances.add_parser(
        "agent-config",
        help="print the openclaw.json an instance gets at "
        "activation (throwaway gateway token); --env: its .env",
    )
    agent.add_argument("--owner", type=int, required=True, help="the verified owner's Telegram user id")
    agent.add_argument("--bot-token", required=True, help="the agent bot's token")
    agent.add_argument(
        "--env",
        action="store_true",
        help="print the .env file instead (with a placeholder for the instance's model key)",
    )
    agent.set_defaults(func=cmd_agent_config)


def cmd_instance_action(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command
    from services.operations.audit import Actor, NotFound

    action = args.instance_action

    async def body(root: Root) -> int:
        actor, queue = Actor.cli(), root.queue
        try:
            if action == "terminate":
                done = await operations.terminate_instance(queue, args.instance_id, actor, reason=args.reason)
            else:
                done = await ACTIONS[action][0](queue, args.instance_id, actor)
        except NotFound:
            print(f"no instance #{args.instance_id}", file=sys.stderr)
            return 1
        again = " (it was already queued)" if done.already_queued else ""
        print(
            f"queued {done.job.kind} for instance #{args.instance_id} (job {done.job.id}){again}; "
            "the worker runs it"
        )
        return 0

    return run_command(settings, body)


def cmd_network(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import ec2_fleet, run_command
    from models import Instance, InstanceStatus
    from services.cloud.ec2 import Ec2Error
    from services.cloud.platform_key import load_platform_key, replace_platform_key

    if args.new_key and not args.rotate_key:
        print("--new-key only goes with --rotate-key", file=sys.stderr)
        return 2

    async def body(_: Root) -> int:
        if args.new_key:
            ended = [InstanceStatus.TERMINATED, InstanceStatus.FAILED]
            live = await Instance.exclude(status__in=ended).count()
            if live:
                print(
                    f"{live} instance(s) are not terminated and trust the current key only: "
                    f"a new key would lock the platform out of them. Terminate them first.",
                    file=sys.stderr,
                )
                return 1
            key = await replace_platform_key()
            print(f"stored a new platform SSH key ({key.fingerprint})")
        else:
            key = await load_platform_key(settings.ssh_private_key_path)
        async with ec2_fleet(settings, key.public_openssh) as fleet:
            try:
                if args.rotate_key:
                    await fleet.reimport_key_pair()
                    print(
                        f"key pair {settings.ec2_key_name}: re-imported with the platform key "
                        f"{key.fingerprint}"
                    )
                await fleet.ensure_network()
                group_id = await fleet.security_group_id()
                image = await fleet.resolve_ami()
            except Ec2Error as exc:
                print(str(exc), file=sys.stderr)
                return 1
        print(
            f"security group {settings.ec2_security_group} ({group_id}): "
            f"SSH from {settings.ssh_source_cidr}, HTTPS from anywhere"
        )
        print(
            f"key pair {settings.ec2_key_name}: the platform SSH key stored in the database "
            f"({key.fingerprint})"
        )
        print(f"image for {settings.aws_region}: {image}")
        return 0

    return run_command(settings, body)


def cmd_user_data(_: argparse.Namespace, settings: Settings) -> int:
    from services.cloud.bootstrap import render_user_data
    from services.cloud.host_keys import generate_host_key

    print(render_user_data(host_key=generate_host_key(), openclaw_version=settings.openclaw_version), end="")
    return 0


def cmd_agent_config(args: argparse.Namespace, settings: Settings) -> int:
    import secrets

    from services.cloud.activation import agent_endpoints
    from services.cloud.openclaw_config import AgentSpec, ConfigValueError, render_agent_files
    from services.model_gateway.keys import PLACEHOLDER_KEY

    # an instance's model key exists in plaintext only in its own .env (the database keeps its hash):
    # the printed files carry a marked placeholder, never the platform's MOONSHOT_API_KEY. Without
    # PUBLIC_BASE_URL this raises GatewayUrlMissing, which main.py reports.
    endpoints = agent_endpoints(settings, PLACEHOLDER_KEY)
    try:
        files = render_agent_files(
            AgentSpec(
                bot_token=args.bot_token,
                allowed_user_id=args.owner,
                gateway_token=secrets.token_urlsafe(32),
                endpoints=endpoints,
            )
        )
    except ConfigValueError as exc:  # --bot-token or --owner is malformed: a usage error
        print(f"agent-config: {exc}", file=sys.stderr)
        return 2
    print(files.env_text if args.env else files.config_text, end="")
    if args.env:
        print(
            f"agent-config: the model key above is a placeholder ({PLACEHOLDER_KEY}): each instance "
            "gets its own key at activation, which is stored only hashed",
            file=sys.stderr,
        )
    return 0
