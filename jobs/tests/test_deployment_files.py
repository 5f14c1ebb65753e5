"""The files a new user runs Bespin with: Compose, run.sh and the Makefile."""

import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT


def test_compose_runs_postgresql_redis_a_server_and_a_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "web", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["worker"]["command"] == ["python", "manage.py", "rqworker", "default"]
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].endswith("@db:5432/bespin")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_file_is_valid_for_docker_compose():
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", [["./run.sh", "help"], ["make", "help"]])
def test_help_lists_the_commands(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for name in ("dev", "docker", "clean", "docker-clean"):
        assert name in result.stdout


def test_run_sh_refuses_an_unknown_server():
    result = subprocess.run(
        ["./run.sh", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "BESPIN_SERVER": "gunicorn"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "BESPIN_SERVER must be daphne or uvicorn" in result.stderr
