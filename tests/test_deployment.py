"""The container and compose files, checked as far as can be without a container engine (none runs
on these machines): the compose file rendered by a YAML parser, the Dockerfile read line by line."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from services.jobs.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BOT_POLLING_STOP_S = 15  # bot/runner.py waits this long for polling to stop


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, value
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def _instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [
        line.strip()[len(name) :].strip()
        for line in joined.splitlines()
        if line.strip().startswith(name + " ")
    ]


def test_the_app_is_pid_1_or_behind_an_init_and_stops_after_the_worker_drains() -> None:
    app = SERVICES["app"]
    assert app["init"] is True
    assert isinstance(app["command"], list)  # exec form: no shell between Docker and Python
    drain = Worker(None, {}).shutdown_grace  # type: ignore[arg-type]
    assert _seconds(app["stop_grace_period"]) > drain + BOT_POLLING_STOP_S
    cmd = json.loads(_instructions("CMD")[-1])
    assert cmd == ["python", "main.py", "run"]


def test_migrations_run_once_as_a_service_the_app_waits_for() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["python", "main.py", "migrate"] and migrate["restart"] == "no"
    assert SERVICES["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_postgres_and_redis_have_healthchecks_the_app_waits_for() -> None:
    for name in ("postgres", "redis"):
        assert SERVICES[name]["healthcheck"]["test"], name
        assert SERVICES["app"]["depends_on"][name] == {"condition": "service_healthy"}


def test_the_app_has_a_healthcheck_on_readyz_in_compose_and_in_the_image() -> None:
    test = SERVICES["app"]["healthcheck"]["test"]
    assert test[0] == "CMD" and "127.0.0.1:9100/readyz" in " ".join(test)
    assert SERVICES["app"]["environment"]["OPS_PORT"] == "9100"
    (healthcheck,) = _instructions("HEALTHCHECK")
    probe = json.loads(healthcheck.split(" CMD ", 1)[1])  # exec form: valid JSON, no shell
    assert probe[:2] == ["python", "-c"] and "/readyz" in probe[2]
    compile(probe[2], "healthcheck", "exec")  # the probe is valid Python


def test_the_web_port_is_bound_to_localhost_and_metrics_stay_private() -> None:
    assert SERVICES["app"]["ports"] == ["127.0.0.1:8080:8080"]
    for service in SERVICES.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    assert SERVICES["app"]["environment"]["OPS_HOST"] == "127.0.0.1"
    assert "METRICS_ON_WEB_PORT" not in SERVICES["app"]["environment"]


def test_no_password_is_written_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    url = SERVICES["app"]["environment"]["DATABASE_URL"]
    assert re.fullmatch(r"postgres://meetmatt:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/meetmatt", url)
    for line in text.splitlines():
        if re.search(r"(PASSWORD|SECRET|TOKEN|KEY)\w*:\s*\S", line) and "${" not in line:
            raise AssertionError(f"a literal secret in docker-compose.yml: {line.strip()}")
    assert all(service.get("env_file") in (None, ".env") for service in SERVICES.values())


def test_everything_kept_on_disk_is_on_a_named_volume() -> None:
    declared = set(COMPOSE["volumes"])
    wanted = {"app": "/app/data", "postgres": "/var/lib/postgresql/data", "redis": "/data"}
    for name, path in wanted.items():
        mounts = dict(v.split(":", 1)[::-1] for v in SERVICES[name]["volumes"])
        assert mounts[path] in declared, name


def test_the_base_image_is_pinned_by_digest_and_the_image_installs_from_the_lock_file() -> None:
    (base,) = _instructions("FROM")
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    runs = _instructions("RUN")
    assert "pip install --require-hashes -r requirements.lock" in runs
    assert not any("pip install" in r and "requirements.lock" not in r for r in runs)
    assert _instructions("USER") == ["meetmatt"]


def test_the_image_copies_every_package_the_project_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {c.split()[0] for c in _instructions("COPY")} | {
        name for c in _instructions("COPY") for name in c.split()[:-1]
    }
    for package in packages:
        assert package in copied, package
    for module in project["tool"]["setuptools"]["py-modules"]:
        assert f"{module}.py" in copied, module


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".git", ".venv", "data", "tests", "**/node_modules"} <= ignored
    assert "requirements.lock" not in ignored


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    for name in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", text, re.M)
        assert pins, name
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert all("--hash=sha256:" in block for block in blocks if "==" in block), name
    locked = {
        p.lower()
        for p, _ in re.findall(
            r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text(), re.M
        )
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()
        assert name in locked, f"{name} is in pyproject.toml, not in requirements.lock (run uv pip compile)"
    dev = (ROOT / "requirements-dev.lock").read_text().lower()
    for requirement in project["optional-dependencies"]["test"] + project["optional-dependencies"]["dev"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()
        assert f"\n{name}==" in dev, name
