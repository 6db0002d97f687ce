"""Debian tools some tests need (`cloud-init`, `shellcheck`), installed with apt-get when missing.

The test machine runs as root; `apt-get update` runs at most once per session. A failed install
fails the test with the command and its output, never a silent skip.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

_updated = False


def ensure_debian_tools(commands: dict[str, str]) -> None:
    """`commands` maps an executable to the Debian package providing it."""
    global _updated
    missing = {exe: pkg for exe, pkg in commands.items() if shutil.which(exe) is None}
    if not missing:
        return
    if shutil.which("apt-get") is None:
        pytest.fail(
            f"{', '.join(missing)} missing and apt-get is not available to install "
            f"{', '.join(missing.values())}"
        )
    steps = []
    if not _updated:
        steps.append(["apt-get", "update", "-q"])
    steps.append(["apt-get", "install", "-y", "-q", *sorted(set(missing.values()))])
    for step in steps:
        done = subprocess.run(
            step,
            capture_output=True,
            text=True,
            timeout=900,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        if done.returncode != 0:
            pytest.fail(
                f"`{' '.join(step)}` failed (exit {done.returncode}); cannot validate with "
                f"{', '.join(missing)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        if step[1] == "update":
            _updated = True
    still = [exe for exe in missing if shutil.which(exe) is None]
    if still:
        pytest.fail(f"installed {', '.join(missing.values())} but {', '.join(still)} is still not on PATH")
