"""`python main.py worker` alone serves /livez, /readyz and /metrics on its own (ops) port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.standins import free_port
from tests.test_worker_cli import ROOT, base_env
from tests.webhooks.test_health_and_metrics import sample


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - local process
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_worker_alone_serves_livez_readyz_and_metrics_on_its_ops_port(tmp_path: Path) -> None:
    port = free_port()
    env = {**base_env(tmp_path), "OPS_PORT": str(port)}
    subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )
    proc = subprocess.Popen(
        [sys.executable, "main.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"{base}/readyz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and proc.poll() is None, "the ops port never answered"
                time.sleep(0.2)
        assert status == 200 and json.loads(body) == {"status": "ok", "database": "ok", "worker": "ok"}
        assert _get(f"{base}/livez") == (200, json.dumps({"status": "alive"}))
        status, text = _get(f"{base}/metrics")
        assert status == 200 and sample(text, "process_cpu_seconds_total") is not None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert f"ops: serving /livez /readyz /metrics on http://127.0.0.1:{port}" in out
