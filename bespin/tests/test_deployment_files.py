"""The files a new user runs Bespin with: Compose, run.sh and the Makefile."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest
import yaml

from bespin.testing.processes import ROOT

needs_docker_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed"
)


def docker_compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`docker-compose ARGS` with only these of the variables the compose file reads: neither
    the caller's environment nor a `.env` beside the file may decide the outcome."""
    read = ("SECRET_KEY", "PUBLISH_ADDRESS", "PORT", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")
    clean = {name: value for name, value in os.environ.items() if name not in read and not name.startswith("BESPIN_")}
    with tempfile.NamedTemporaryFile(suffix=".env") as empty:  # Compose takes no /dev/null
        return subprocess.run(
            ["docker-compose", "--env-file", empty.name, *args],
            cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip


def published_ports(config: str) -> list[tuple[str, str, str]]:
    """(host address, host port, container port) of the web service in `docker-compose config`,
    whether it prints them short (Compose 1) or long (Compose 2)."""
    ports = []
    for port in yaml.safe_load(config)["services"]["web"]["ports"]:
        if isinstance(port, str):
            address, published, target = port.split("/")[0].split(":")
        else:
            address, published, target = port.get("host_ip", ""), port["published"], port["target"]
        ports.append((address, str(published), str(target)))
    return ports


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
        # No default key: one written in this file would be every installation's.
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert services["web"]["ports"] == ["${PUBLISH_ADDRESS:-127.0.0.1}:${PORT:-8000}:8000"]


@needs_docker_compose
def test_compose_file_is_valid_for_docker_compose():
    result = docker_compose("config", "-q", SECRET_KEY="a-key-for-the-test")
    assert result.returncode == 0, result.stderr


@needs_docker_compose
def test_compose_refuses_to_start_without_a_secret_key():
    result = docker_compose("config", "-q")
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


@needs_docker_compose
def test_compose_publishes_the_server_on_localhost_unless_told_otherwise():
    result = docker_compose("config", SECRET_KEY="a-key-for-the-test")
    assert result.returncode == 0, result.stderr
    assert published_ports(result.stdout) == [("127.0.0.1", "8000", "8000")]
    result = docker_compose("config", SECRET_KEY="a-key-for-the-test", PUBLISH_ADDRESS="0.0.0.0", PORT="8080")
    assert result.returncode == 0, result.stderr
    assert published_ports(result.stdout) == [("0.0.0.0", "8080", "8000")]


@pytest.mark.parametrize("command", [["./run.sh", "help"], ["make", "help"]])
def test_help_lists_the_commands(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for name in ("dev", "docker", "clean", "docker-clean"):
        assert name in result.stdout


def test_run_sh_refuses_an_unknown_command_with_its_usage_and_a_failing_status():
    result = subprocess.run(["./run.sh", "bogus"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Usage: ./run.sh COMMAND" in result.stderr and "unknown command: bogus" in result.stderr


def test_the_env_file_is_read_by_run_sh_dev_and_manage_py_alike_and_never_by_serve(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    env_file = tmp_path / "dev.env"
    # CRLF, a comment, a blank line, and PORT twice: the later wins.
    env_file.write_text(f"# a comment\r\n\r\nPORT=1\r\nPORT={port}\r\nDEBUG=1\r\nBESPIN_SERVER=gunicorn\r\n")
    env = {"PATH": "/usr/bin:/bin", "BESPIN_ENV_FILE": str(env_file), "DEBUG": "0"}
    try:
        # `./run.sh dev` stops at once on the file's port, which something holds.
        dev = subprocess.run(["./run.sh", "dev"], cwd=ROOT, capture_output=True, text=True, timeout=30, env=env)
        assert dev.returncode == 1 and f"port {port} is in use" in dev.stderr, dev.stderr
    finally:
        busy.close()
    # `./run.sh serve`, as production runs it, reads nothing of it: no gunicorn refused.
    serve = subprocess.run(["./run.sh", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert "gunicorn" not in serve.stderr
    # manage.py: the same file, the environment winning (DEBUG=0 stays).
    code = "import os; from bespin.devenv import load_env_file; load_env_file(); print(os.environ['PORT'], os.environ['DEBUG'])"  # noqa: E501
    python = [sys.executable, "-c", code]
    shown = subprocess.run(python, cwd=ROOT, capture_output=True, text=True, timeout=30, env=env)
    assert shown.stdout.split() == [str(port), "0"], shown.stderr
    env_file.write_text("not a setting\n")
    refused = subprocess.run(python, cwd=ROOT, capture_output=True, text=True, timeout=30, env=env)
    assert refused.returncode == 1 and "expected NAME=value" in refused.stderr


def test_run_sh_refuses_an_unknown_server():
    result = subprocess.run(
        ["./run.sh", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "BESPIN_SERVER": "gunicorn"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "BESPIN_SERVER must be daphne or uvicorn" in result.stderr


def test_env_files_stay_out_of_git_and_the_image():
    # The README has secrets written to .env: neither a commit nor `COPY . .` may take it.
    for name in (".env", ".env.production"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, timeout=10)
        assert ignored.returncode == 0, f"git does not ignore {name}"
    excluded = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".env.*"} <= excluded


def test_the_image_runs_as_a_user_other_than_root():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
