"""The documented production settings pass Django's deployment checks, and the TLS settings
(HSTS, secure cookies, the proxy's https header) hold only behind a TLS proxy.

The settings are read in processes of their own: this one's were fixed when it started.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request

import pytest

from bespin.testing.processes import ROOT, Processes

ONE_YEAR = 365 * 24 * 3600


def production_env(static_root, **extra) -> dict:
    """What docs/operations.md, "Running in production", sets: DEBUG off, a long random SECRET_KEY,
    the site's host, a TLS proxy in front, and the files `make build` collected."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "bespin.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://bespin.example.com",
        "BESPIN_BEHIND_TLS_PROXY": "1",
        "BESPIN_METRICS_TOKEN": secrets.token_urlsafe(32),
        "BESPIN_STATIC_ROOT": str(static_root),
        **extra,
    }


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def settings_of(env: dict, *names: str) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {list(names)!r}}}))"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "bespin.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("collected")
    result = manage(production_env(root), "collectstatic", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    return root


def test_deploy_checks_pass_under_the_documented_production_settings(collected):
    result = manage(production_env(collected), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_settings_read_from_the_development_env_file(collected, tmp_path):
    # A production checkout where `make dev` once ran: its .env.dev must not go unnoticed,
    # even when it sets nothing the environment does not already set. With DEBUG off, no
    # command starts (a worker, a migration); with the file's DEBUG=1, the deploy checks refuse.
    env_file = tmp_path / ".env.dev"
    env_file.write_text("BESPIN_APPS=examples.reports\n")
    refused = manage(production_env(collected, BESPIN_ENV_FILE=str(env_file)), "rqworker", "--help")
    assert refused.returncode != 0
    assert f"settings were read from {env_file}" in refused.stderr
    env_file.write_text("DEBUG=1\n")
    env = {name: value for name, value in production_env(collected, BESPIN_ENV_FILE=str(env_file)).items()
           if name != "DEBUG"}  # fmt: skip
    result = manage(env, "check", "--deploy")
    assert result.returncode != 0
    assert "(bespin.E003)" in result.stderr and str(env_file) in result.stderr


def test_deploy_checks_warn_when_the_static_files_were_not_collected(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "(bespin.W001)" in result.stderr
    assert "make build" in result.stderr


def test_deploy_checks_warn_when_the_manifest_is_older_than_the_files(collected, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(collected, old)
    manifest = json.loads((old / "staticfiles.json").read_text())
    del manifest["paths"]["css/bespin.css"]
    (old / "staticfiles.json").write_text(json.dumps(manifest))
    result = manage(production_env(old), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "(bespin.W002)" in result.stderr
    assert "css/bespin.css" in result.stderr


def test_deploy_checks_still_report_a_missing_tls_setting(collected):
    # The silenced checks are the two that are wrong for Bespin, not the whole family.
    result = manage(production_env(collected, BESPIN_HSTS_SECONDS="0"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "(security.W004)" in result.stderr


TLS_SETTINGS = [
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_SSL_REDIRECT",
]


def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_lasts_a_year(tmp_path):
    assert settings_of(production_env(tmp_path), *TLS_SETTINGS) == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": ONE_YEAR,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": False,  # the proxy redirects
    }


@pytest.mark.parametrize("behind", ["0", None])
def test_without_a_tls_proxy_no_tls_setting_is_on(tmp_path, behind):
    env = production_env(tmp_path, BESPIN_BEHIND_TLS_PROXY=behind)
    if behind is None:
        del env["BESPIN_BEHIND_TLS_PROXY"]
    # Plain http must keep working: a cookie marked Secure would never come back over it.
    assert settings_of(env, *TLS_SETTINGS) == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_SSL_REDIRECT": False,
    }


@pytest.mark.django_db(transaction=True)
def test_behind_a_tls_proxy_https_answers_carry_hsts_and_plain_http_is_still_answered(tmp_path):
    processes = Processes(tmp_path, BESPIN_BEHIND_TLS_PROXY="1")
    try:
        base = processes.web()
        https = urllib.request.urlopen(
            urllib.request.Request(f"http://{base}/accounts/login/", headers={"X-Forwarded-Proto": "https"}),
            timeout=20,
        )
        # A probe that bypasses the proxy, such as a health check, gets its answer, not a redirect.
        plain = urllib.request.urlopen(f"http://{base}/accounts/login/", timeout=20)
    finally:
        processes.stop_all()
    assert https.status == 200
    assert https.headers["Strict-Transport-Security"] == f"max-age={ONE_YEAR}; includeSubDomains"
    cookie = https.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "Secure" in cookie
    assert plain.status == 200 and plain.url == f"http://{base}/accounts/login/"
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.parametrize(
    ("url", "password", "expected"),
    [
        ("redis://redis.internal:6379/2", "s3cret/@", "redis://:s3cret%2F%40@redis.internal:6379/2"),
        ("redis://bespin@redis.internal:6379/2", "pw", "redis://bespin:pw@redis.internal:6379/2"),
        ("redis://:in-url@redis.internal:6379/2", "other", "redis://:in-url@redis.internal:6379/2"),  # the URL's wins
    ],
)
def test_redis_password_apart_from_the_url_reaches_every_client_through_redis_url(tmp_path, url, password, expected):
    env = production_env(tmp_path, REDIS_URL=url, REDIS_PASSWORD=password, REDIS_SENTINELS="s1:26379,[::1]:26380")
    found = settings_of(env, "REDIS_URL", "REDIS_SENTINELS", "RQ_QUEUES")
    assert found["REDIS_URL"] == expected
    assert found["REDIS_SENTINELS"] == [["s1", 26379], ["::1", 26380]]
    # With sentinels, the queues' connections take the password as the rest do.
    assert found["RQ_QUEUES"]["default"]["PASSWORD"] == expected.split("@")[0].rsplit(":", 1)[1].replace("%2F%40", "/@")
