"""Instance health checks: how many instances one worker can check, and what one check costs.

usage: python -m bench.instance_health [--instances 100] [--concurrency 4] [--servers 4]
Runs the real `probe_health` (SSH connect with the pinned host key + the 6 health commands) against
in-process asyncssh servers on 127.0.0.1 that answer like booted instances
(tests/standins/ssh_server.py). Prints checks/s and the per-check latency (p50/p95/max), so the
sweep interval can be sized: with real round trips (~50-150 ms each) a check takes roughly
7 x RTT, and the sweep needs instances x check time / concurrency to pass.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncssh

from services.cloud.health import probe_health
from services.cloud.host_keys import generate_host_key
from services.cloud.ssh import SshConnector
from tests.standins.ssh_server import SshInstanceStandIn


async def measure(instances: int, concurrency: int, servers: int) -> None:
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    boxes = []
    for _ in range(servers):
        host_key = generate_host_key()
        box = SshInstanceStandIn(asyncssh.import_private_key(host_key.private_openssh), client_key)
        box.behaviour.gateway_running = True
        await box.start()
        boxes.append((box, host_key.public_openssh))
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    unhealthy = 0

    async def check(n: int) -> None:
        nonlocal unhealthy
        box, public = boxes[n % servers]
        connector = SshConnector(client_key, port=box.port, host_override="127.0.0.1")
        async with limit:
            started = time.perf_counter()
            async with await connector.connect(f"198.51.100.{n % 250}", public) as session:
                report = await probe_health(session, since_epoch=int(time.time()) - 3600)
            latencies.append(time.perf_counter() - started)
            unhealthy += not report.healthy

    try:
        started = time.perf_counter()
        await asyncio.gather(*(check(n) for n in range(instances)))
        wall = time.perf_counter() - started
    finally:
        for box, _ in boxes:
            await box.stop()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(f"instances checked      {instances} (concurrency {concurrency}, {servers} SSH servers)")
    print(f"wall time              {wall:.2f} s  ->  {instances / wall:.1f} checks/s")
    print(
        f"per check (connect+6)  p50 {statistics.median(latencies) * 1000:.1f} ms  "
        f"p95 {p95 * 1000:.1f} ms  max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"unhealthy reports      {unhealthy} (expected 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--servers", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(measure(args.instances, args.concurrency, args.servers))


if __name__ == "__main__":
    main()
