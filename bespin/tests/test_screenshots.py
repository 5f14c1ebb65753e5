"""The screenshots that README.md and docs/*.md show are today's pages: each is in
docs/screenshots/, was taken by the browser tests (docs/screenshots/manifest.json says so),
and no file its page is made of changed since. No git history needed: the manifest holds the
hashes."""

import json
import shutil

from bespin.testing import screenshots
from bespin.testing.screenshots import MANIFEST_NAME, RETAKE, SHOTS


def test_every_screenshot_the_docs_show_is_current():
    shown = screenshots.referenced()
    problems = screenshots.stale(SHOTS, shown)
    assert not problems, "\n".join(
        ["These screenshots of README.md or docs/*.md are not today's pages:", *problems, f"Take them again: {RETAKE}"]
    )


def test_the_docs_show_screenshots_the_readme_among_them():
    shown = screenshots.referenced()
    assert {"overview.png", "jobs.png", "overview-phone.png"} <= set(shown)
    assert "README.md" in shown["overview.png"] and "docs/dashboard.md" in shown["overview.png"]


def test_a_pages_sources_are_its_templates_the_stylesheet_and_its_scripts():
    assert screenshots.page_sources("jobs/detail.html") == [
        "static/css/bespin.css",
        "static/jobs/detail.js",
        "static/jobs/live.js",  # imported by detail.js
        "templates/base.html",
        "templates/callbacks/_job_callbacks.html",  # an inclusion tag's
        "templates/jobs/_live.html",
        "templates/jobs/_progress.html",
        "templates/jobs/_status.html",
        "templates/jobs/detail.html",
    ]


def test_a_missing_an_unrecorded_a_replaced_or_an_outdated_screenshot_is_named(tmp_path):
    for name in ("overview.png", "jobs.png", "sign-in.png"):
        (tmp_path / name).write_bytes(b"\x89PNG " + name.encode())
    screenshots.write_manifest(tmp_path, {"overview.png": "jobs/overview.html", "jobs.png": "jobs/list.html"})
    shown = ["overview.png", "jobs.png", "sign-in.png", "tasks.png"]
    assert screenshots.stale(tmp_path, ["overview.png", "jobs.png"]) == []

    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    manifest["jobs.png"]["sources"]["static/css/bespin.css"] = "0" * 64  # as if taken before a change to it
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    shutil.copy(tmp_path / "sign-in.png", tmp_path / "overview.png")  # not the image the tests took
    assert screenshots.stale(tmp_path, shown) == [
        "jobs.png: taken before the latest change to static/css/bespin.css",
        "overview.png: not the image the browser tests took",
        f"sign-in.png: not in {MANIFEST_NAME}, so no browser test took it",
        "tasks.png: missing",
    ]
