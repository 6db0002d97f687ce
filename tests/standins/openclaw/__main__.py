"""`python -m tests.standins.openclaw install [VERSION]`: install the pinned OpenClaw into the test
cache now (CI does this up front so a registry problem fails early and clearly)."""

from __future__ import annotations

import sys
import time

from tests.standins.openclaw import OpenClawUnavailable, ensure_openclaw, pinned_version, run_cli


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "install":
        print("usage: python -m tests.standins.openclaw install [VERSION]", file=sys.stderr)
        return 2
    version = argv[1] if len(argv) > 1 else pinned_version()
    started = time.monotonic()
    try:
        entry = ensure_openclaw(version)
    except OpenClawUnavailable as exc:
        print(f"OpenClaw {version}: {exc}", file=sys.stderr)
        return 1
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as home:
        answer = run_cli("--version", home=Path(home), version=version)
    if answer.returncode != 0 or version not in answer.stdout:
        print(
            f"OpenClaw {version} installed but `openclaw --version` said: {answer.stdout}{answer.stderr}",
            file=sys.stderr,
        )
        return 1
    print(f"{answer.stdout.strip()} ready at {entry.parent} ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
