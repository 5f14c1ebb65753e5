"""A production start (DEBUG=0) serves every page with its stylesheets, whether or not
`make build` collected the static files: never the 500 of a missing manifest entry.

Daphne runs as a process with the real settings (the test suite's plain static storage is
for this process only), its STATIC_ROOT a directory of the test's own (BESPIN_STATIC_ROOT).
"""

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from bespin.testing.processes import ROOT, Processes

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "boss-password-1"
# (path, Accept): the pages anyone reaches, signed in or not.
PUBLIC_PAGES = [
    ("/accounts/login/", "text/html"),
    ("/", "text/html"),  # a redirect to the sign-in page
    ("/admin/login/", "text/html"),
    ("/api/", "text/html"),  # the browsable API
    ("/api/docs/", "text/html"),
]
SIGNED_IN_PAGES = ["/", "/jobs/", "/webhooks/", "/accounts/api-access/", "/admin/"]
ICO_MAGIC = b"\x00\x00\x01\x00"


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    url: str


class Assets(HTMLParser):
    """The same-site stylesheets, icons and scripts a page loads."""

    def __init__(self):
        super().__init__()
        self.stylesheets: list[str] = []
        self.others: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        url = attrs.get("href") if tag == "link" else attrs.get("src") if tag == "script" else None
        if not url or not url.startswith("/") or url.startswith("//"):
            return
        rel = (attrs.get("rel") or "").split()
        if tag == "link" and "stylesheet" in rel:
            self.stylesheets.append(url)
        elif tag == "script" or "icon" in rel:
            self.others.append(url)


class Browser:
    def __init__(self, base: str):
        self.base = f"http://{base}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, path: str, data: bytes | None = None, accept: str = "text/html") -> Answer:
        request = urllib.request.Request(self.base + path, data=data, headers={"Accept": accept})
        try:
            with self.opener.open(request, timeout=20) as response:
                return Answer(response.status, dict(response.headers), response.read(), response.url)
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read(), error.url)

    def sign_in(self, username: str, password: str) -> None:
        page = self.open("/accounts/login/").body.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        answer = self.open("/accounts/login/", data=form.encode())
        assert answer.status == 200 and "/accounts/login/" not in answer.url, answer.body[:500]

    def page_with_its_files(self, path: str, accept: str = "text/html") -> list[Answer]:
        """The page and every stylesheet, icon and script it loads; each must answer 200."""
        page = self.open(path, accept=accept)
        assert page.status == 200, f"{path}: {page.status} {page.body[:300]!r}"
        assert page.headers["Content-Type"].startswith("text/html"), path
        assets = Assets()
        assets.feed(page.body.decode())
        # Every page here is styled: a page without its stylesheet is not served correctly.
        assert assets.stylesheets, f"{path} links no stylesheet"
        files = []
        for url in assets.stylesheets + assets.others:
            answer = self.open(url, accept="*/*")
            assert answer.status == 200, f"{path} loads {url}: {answer.status}"
            assert answer.body, url
            files.append(answer)
        for url, answer in zip(assets.stylesheets, files, strict=False):
            assert answer.headers["Content-Type"].startswith("text/css"), url
        return [page, *files]

    def every_page(self) -> tuple[list[str], list[Answer]]:
        """Visit every page, signed out and then signed in: the stylesheets and the files loaded."""
        answers = []
        for path, accept in PUBLIC_PAGES:
            answers += self.page_with_its_files(path, accept)
        # The error pages are pages too: a 404 with the site's look, not a 500.
        missing = self.open("/no-such-page/")
        assert missing.status == 404
        User.objects.create_superuser("boss", password=PASSWORD)
        self.sign_in("boss", PASSWORD)
        for path in SIGNED_IN_PAGES:
            answers += self.page_with_its_files(path)
        stylesheets = sorted({answer.url.removeprefix(self.base) for answer in answers if _is_css(answer)})
        return stylesheets, answers


def _is_css(answer: Answer) -> bool:
    return answer.headers.get("Content-Type", "").startswith("text/css")


def assert_favicon(browser: Browser) -> None:
    icon = browser.open("/favicon.ico", accept="image/*")
    assert icon.status == 200
    assert icon.headers["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon.body.startswith(ICO_MAGIC)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    """STATIC_ROOT after `manage.py collectstatic`, as `make build` and the Dockerfile run it."""
    root = tmp_path_factory.mktemp("collected")
    env = {**os.environ, "SECRET_KEY": "collectstatic-only", "DEBUG": "0", "BESPIN_STATIC_ROOT": str(root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    assert (root / "staticfiles.json").is_file()
    return root


@pytest.fixture
def processes(tmp_path):
    started = []

    def start(**env) -> Processes:
        started.append(Processes(tmp_path, **env))
        return started[-1]

    yield start
    for each in started:
        each.stop_all()


def test_a_server_started_without_collectstatic_serves_every_page_with_its_stylesheets(processes, tmp_path):
    empty = tmp_path / "static-root"
    empty.mkdir()
    server = processes(BESPIN_STATIC_ROOT=str(empty))
    browser = Browser(server.web())
    stylesheets, _ = browser.every_page()
    # The source files, under their own names.
    assert "/static/css/bespin.css" in stylesheets
    assert "/static/admin/css/base.css" in stylesheets
    assert_favicon(browser)
    # The log says what is missing and what to run, once.
    log = server.log_of(server.running[0])
    assert log.count("staticfiles.json: static files are served unhashed") == 1
    assert "run `make build`" in log
    assert "Missing staticfiles manifest entry" not in log


def test_after_collectstatic_every_page_is_served_with_hashed_files_cached_for_good(processes, collected):
    server = processes(BESPIN_STATIC_ROOT=str(collected))
    browser = Browser(server.web())
    stylesheets, answers = browser.every_page()
    assert any(re.fullmatch(r"/static/css/bespin\.[0-9a-f]{12}\.css", url) for url in stylesheets), stylesheets
    assert all(re.search(r"\.[0-9a-f]{12}\.css$", url) for url in stylesheets), stylesheets
    for answer in answers:
        if _is_css(answer):
            assert "immutable" in answer.headers["Cache-Control"], answer.url
    assert_favicon(browser)
    assert "served unhashed" not in server.log_of(server.running[0])


def test_a_file_an_old_manifest_lacks_is_served_from_the_source_tree(processes, collected, tmp_path):
    # As after a deploy that brought a new static file but did not run `make build` again.
    old = tmp_path / "old-static-root"
    shutil.copytree(collected, old)
    manifest = json.loads((old / "staticfiles.json").read_text())
    del manifest["paths"]["css/bespin.css"]
    (old / "staticfiles.json").write_text(json.dumps(manifest))
    server = processes(BESPIN_STATIC_ROOT=str(old))
    browser = Browser(server.web())
    answers = browser.page_with_its_files("/accounts/login/")
    assert [a.url.removeprefix(browser.base) for a in answers if _is_css(a)] == ["/static/css/bespin.css"]
    assert "static file css/bespin.css is not in" in server.log_of(server.running[0])
