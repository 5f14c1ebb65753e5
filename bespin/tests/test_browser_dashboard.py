"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against Daphne and
a worker started as processes on the test database.

Set BESPIN_SCREENSHOTS=docs/screenshots to refresh the screenshots of the README and
docs/dashboard.md, and their manifest.json (bespin/testing/screenshots.py); otherwise they go
to a temporary directory (taking them still exercises the pages at both widths). The last
test fails when the docs show a screenshot that none of these takes.
"""

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from bespin.testing import screenshots
from bespin.testing.browser import PHONE, WAIT_MS, job_row, wait_for_status
from bespin.testing.screenshots import Camera
from callbacks import services as callbacks
from jobs import registry
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle
from schedules import services as schedules
from webhooks import sources
from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    camera = Camera(
        Path(os.environ["BESPIN_SCREENSHOTS"])
        if os.environ.get("BESPIN_SCREENSHOTS")
        else tmp_path_factory.mktemp("shots")
    )
    yield camera
    camera.save()


def _mark_page(page) -> None:
    """Leave a mark on the page's window: it survives everything but a reload or navigation."""
    page.evaluate("window.__bespinMark = true")


def _still_marked(page) -> bool:
    return page.evaluate("window.__bespinMark === true")


def _start_from_form(page, kind: str, **values) -> Job:
    page.goto(f"/tasks/{kind}/")
    form = page.locator(f'form:has(input[name="kind"][value="{kind}"])')
    for name, value in values.items():
        form.get_by_label(name.capitalize(), exact=True).fill(str(value))
    form.get_by_role("button", name=f"Start {kind}").click()
    expect(page.get_by_text(f"Started {kind} job")).to_be_visible()
    return Job.objects.order_by("-created_at").first()


def test_signing_in_shows_the_overview_whose_counts_follow_the_jobs_live(open_page, owner, shots):
    page = open_page()
    page.goto("/accounts/login/")
    shots.take(page, "sign-in.png", template="registration/login.html")
    page = open_page(owner, "owner-password-1")

    # Some history for the charts, then one long job that keeps the only worker busy, so
    # that the next jobs wait in the queue and two of them can be failed by hand.
    done = [creation.create_job(kind="random_text", params={"length": 20 + i}, owner=owner) for i in range(6)]
    for job in done:
        wait_for_status(job, JobStatus.COMPLETED)
    long_job = creation.create_job(kind="sleep", params={"seconds": 30}, owner=owner)
    wait_for_status(long_job, JobStatus.RUNNING)
    waiting = [creation.create_job(kind="random_text", params={"length": 5}, owner=owner) for _ in range(4)]
    for job, error in zip(waiting[2:], ["upstream answered 503", "ValueError: bad input"], strict=True):
        lifecycle.fail_job(job=lifecycle.start_job(job_id=job.id, worker_name="worker-7"), error=error)

    page.goto("/")
    expect(page.locator("[data-live-indicator]")).to_have_text("Live")
    _mark_page(page)
    counts = {s: page.locator(f'[data-count="{s}"]') for s in ("pending", "running", "completed", "failed")}
    expect(counts["running"]).to_have_text("1")
    expect(counts["pending"]).to_have_text("2")
    expect(counts["failed"]).to_have_text("2")
    expect(page.locator(".chart").first).to_contain_text("8 finished in the last hour")
    expect(page.locator(".chart").nth(1)).to_contain_text("25% in the last hour (2 of 8 failed)")
    expect(page.locator("[data-workers]")).to_have_text("1")
    expect(job_row(page, long_job).locator("progress")).to_be_visible()
    shots.take(page, "overview.png", template="jobs/overview.html", full_page=True)

    page.goto("/jobs/")
    expect(job_row(page, long_job).locator("[data-status]")).to_have_text("Running")
    shots.take(page, "jobs.png", template="jobs/list.html", full_page=True)
    phone = open_page(owner, "owner-password-1", viewport=PHONE)
    expect(phone.locator("[data-live-indicator]")).to_have_text("Live")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    shots.take(phone, "overview-phone.png", template="jobs/overview.html", full_page=True)
    phone.goto("/jobs/")
    shots.take(phone, "jobs-phone.png", template="jobs/list.html")

    page.goto("/")
    _mark_page(page)
    lifecycle.cancel_job(job=long_job)  # frees the worker: the two waiting jobs run
    expect(counts["running"]).to_have_text("0")
    expect(page.locator('[data-count="cancelled"]')).to_have_text("1")
    expect(counts["pending"]).to_have_text("0")
    expect(counts["completed"]).to_have_text("8")
    assert _still_marked(page), "the overview reloaded instead of updating in place"


def test_a_job_started_from_the_form_reaches_completed_in_its_row_and_on_its_page(owner_page, shots):
    page = owner_page
    job = _start_from_form(page, "sleep", seconds=1.5)
    _mark_page(page)
    row = job_row(page, job)
    expect(row.locator("[data-status]")).to_have_text("Running")
    expect(row.locator("progress")).to_be_visible()
    expect(row.locator("[data-status]")).to_have_text("Completed")
    expect(row.locator("progress")).to_be_hidden()
    assert _still_marked(page), "the jobs page reloaded instead of updating the row"

    job = _start_from_form(page, "sleep", seconds=2)
    page.get_by_role("link", name=str(job.id)[:8]).first.click()
    expect(page.get_by_role("heading", name=f"Job {job.id}")).to_be_visible()
    _mark_page(page)
    expect(page.locator(".job-summary progress")).to_be_visible()
    expect(page.locator(".big-status [data-status]")).to_have_text("Completed")
    expect(page.locator("#result")).to_contain_text('"slept": 2.0')
    expect(page.locator(".step-label")).to_have_text(["Created", "Started", "Completed"])
    assert _still_marked(page), "the job page reloaded instead of updating in place"
    page.get_by_role("button", name="Copy result").click()
    expect(page.locator("[data-copy-status]")).to_have_text(["Copied."])
    shots.take(page, "job-detail.png", template="jobs/detail.html", full_page=True)


def test_a_bad_value_is_shown_beside_its_input(owner_page, shots):
    page = owner_page
    page.goto("/tasks/random_text/")
    form = page.locator('form:has(input[name="kind"][value="random_text"])')
    form.get_by_label("Length").fill("0")
    form.get_by_role("button", name="Start random_text").click()
    expect(form.get_by_label("Length")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#random_text-length-error")).to_have_text("Ensure this value is greater than or equal to 1.")
    expect(form.get_by_label("Length")).to_have_accessible_description(
        "Ensure this value is greater than or equal to 1. Number of words; at least 1 and at most 100,000"
    )
    assert Job.objects.count() == 0
    shots.take(page.locator(".kind-forms"), "start-form-error.png", template="jobs/task.html")


def test_tasks_their_pages_and_schedules_are_shown_with_their_figures(owner_page, owner, shots):
    page = owner_page
    finished = _start_from_form(page, "random_text", length=5)
    wait_for_status(finished, "completed")
    schedules.create_schedule(owner=owner, name="nightly report", cron="0 3 * * *", timezone="Europe/Berlin",
                              type="examples.reports.tasks.send_report", params={"pages": 2})  # fmt: skip
    page.goto("/tasks/")
    rows = page.locator("tr[data-task]")
    expect(rows).to_have_count(len(registry.registered()))
    expect(page.locator('tr[data-task="examples.reports.tasks.rebuild_index"]')).to_contain_text("code only")
    shots.take(page, "tasks.png", template="jobs/tasks.html", full_page=True)
    page.get_by_role("link", name="examples.reports.tasks.send_report").click()
    expect(page.get_by_role("heading", name="Task examples.reports.tasks.send_report")).to_be_visible()
    expect(page.locator(".kind-form")).to_be_visible()
    shots.take(page, "task.png", template="jobs/task.html", full_page=True)
    page.goto("/schedules/")
    expect(page.get_by_text("nightly report")).to_be_visible()
    shots.take(page, "schedules.png", template="schedules/list.html", full_page=True)
    page.get_by_role("link", name="nightly report").click()
    expect(page.get_by_role("heading", name="Schedule nightly report")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text('send_report with {"pages": 2, "period": "week"}')
    shots.take(page, "schedule.png", template="schedules/detail.html", full_page=True)


def test_a_jobs_page_follows_its_callback_until_it_is_delivered(owner_page, owner, receiver, settings, shots):
    settings.CALLBACK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    hooks = receiver("--fail-first", "1", secrets=[callbacks.rotate_callback_secret(user=owner).secret])
    job = creation.create_job(kind="sleep", params={"seconds": 1}, owner=owner, callback_url=hooks.url())
    page = owner_page
    page.goto(f"/jobs/{job.id}")
    _mark_page(page)
    expect(page.locator(".big-status [data-status]")).to_have_text("Completed")
    heading = page.locator(".callback-delivery h3")
    # The first attempt is answered 500; the next, seconds later, delivers it.
    expect(heading).to_have_text(re.compile(r"which completed: (Waiting to be sent|Being sent|To be sent again)$"))
    expect(heading).to_have_text("Callback of job attempt 1, which completed: Delivered", timeout=WAIT_MS)
    box = page.locator('[data-region="callbacks"]')
    expect(box).to_contain_text("2 attempts made · delivered at")
    expect(box).not_to_contain_text("next attempt")
    expect(box.locator(".callback-attempts tbody tr")).to_have_count(2)
    assert _still_marked(page), "the job page reloaded instead of following its callback"
    shots.take(box, "job-callbacks.png", template="jobs/detail.html")


def test_a_sleep_job_is_cancelled_from_its_page(owner_page, shots):
    page = owner_page
    job = _start_from_form(page, "sleep", seconds=60)
    page.goto(f"/jobs/{job.id}")
    expect(page.locator(".big-status [data-status]")).to_have_text("Running")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_text("Job cancelled.")).to_be_visible()
    expect(page.locator(".big-status [data-status]")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Retry job")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.progress < 100


def test_after_a_server_restart_the_page_reconnects_and_catches_up(owner_page, owner, live):
    page = owner_page
    page.goto("/jobs/")
    indicator = page.locator("[data-live-indicator]")
    expect(indicator).to_have_text("Live")
    _mark_page(page)

    live.stop_web()
    expect(indicator).to_contain_text("Offline, reconnecting")
    # Made while no server can tell the page: only the catch-up after reconnecting shows it.
    missed = creation.create_job(kind="random_text", params={"length": 7}, owner=owner)
    wait_for_status(missed, JobStatus.COMPLETED)
    live.start_web()

    expect(indicator).to_have_text("Live", timeout=30_000)
    expect(job_row(page, missed).locator("[data-status]")).to_have_text("Completed")
    assert _still_marked(page), "the page reloaded instead of catching up"
    # And the new connection carries the next change live again.
    after = creation.create_job(kind="sleep", params={"seconds": 0.5}, owner=owner)
    expect(job_row(page, after).locator("[data-status]")).to_have_text("Completed")


def test_without_javascript_every_page_works_as_forms_and_links(open_page, owner):
    page = open_page(owner, "owner-password-1", javascript=False)
    expect(page.locator("[data-live-indicator]")).to_be_hidden()
    expect(page.get_by_text("Reload the page to see changes.")).to_be_visible()
    job = _start_from_form(page, "random_text", length=5)
    page.get_by_role("link", name=str(job.id)[:8]).first.click()
    wait_for_status(job, JobStatus.COMPLETED)
    page.reload()
    expect(page.locator(".big-status [data-status]")).to_have_text("Completed")
    assert len(page.locator("#result").inner_text().split(" ")) == 5

    job = _start_from_form(page, "sleep", seconds=60)
    page.goto(f"/jobs/{job.id}")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(".big-status [data-status]")).to_have_text("Cancelled")
    page.get_by_role("button", name="Retry job").click()
    expect(page.get_by_text("Job queued again as a new attempt.")).to_be_visible()
    lifecycle.cancel_job(job=Job.objects.get(id=job.id))  # leave the worker free

    page.goto("/jobs/?status=bogus")
    expect(page.get_by_text("Select a valid choice.")).to_be_visible()
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(0)
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()
    page.get_by_role("button", name=f"Sign out {owner.username}").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert User.objects.filter(username=owner.username).exists()


def _deliver(live, source: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{live.base}/api/webhooks/{source}", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_staff_see_a_webhook_receipt_its_payload_as_text_and_the_job_it_started(open_page, staff, live, shots):
    source = sources.create_source(name="ci")
    sources.add_secret(source=source, secret="ci-secret")
    sources.set_trigger(source=source, event_pattern="build.*", job_kind="random_text", params={"length": 12})
    payload = {
        "event": "build.finished",
        "repository": "bespin",
        "commit": {"id": "9fceb02", "message": "<script>window.__bespinPwned = true</script>"},
        "checks": [{"name": "tests", "ok": True}, {"name": "lint", "ok": True}],
    }
    body = body_of(payload)
    status, accepted = _deliver(live, "ci", body, bespin_headers("ci-secret", body, **{"User-Agent": "ci-bot/2.1"}))
    assert status == 201, accepted
    assert _deliver(live, "ci", body, {"X-Webhook-Signature": "0" * 64})[0] == 401

    page = open_page(staff, "staff-password-1")
    page.get_by_role("link", name="Webhooks").click()
    row = page.locator(f'tr[data-receipt-id="{accepted["id"]}"]')
    expect(row).to_contain_text("build.finished")
    shots.take(page, "webhooks.png", template="webhooks/receipts.html", full_page=True)
    row.get_by_role("link").first.click()

    expect(page.get_by_role("heading", name="Webhook build.finished")).to_be_visible()
    expect(page.locator("pre.payload")).to_contain_text('"message": "<script>window.__bespinPwned = true</script>"')
    assert page.evaluate("window.__bespinPwned") is None, "the payload ran as a script"
    expect(page.locator(".headers")).to_contain_text("ci-bot/2.1")
    job_link = page.get_by_role("link", name=f"random_text job {accepted['job_id'][:8]}")
    expect(page.locator("dd [data-status]")).to_have_text("Completed")  # the worker ran it already, or soon
    shots.take(page, "webhook-receipt.png", template="webhooks/receipt_detail.html", full_page=True)
    job_link.click()
    expect(page.locator(".big-status [data-status]")).to_have_text("Completed")
    assert len(page.locator("#result").inner_text().split(" ")) == 12

    page.goto("/webhooks/sources/")
    card = page.locator("section.source", has=page.get_by_role("heading", name="ci"))
    expect(card).to_contain_text("Deliveries, last 24 h")
    expect(card.locator("tbody tr td")).to_have_text(["bad_signature", "1"])
    card.locator("summary").first.click()
    expect(card.locator("details pre.payload")).to_contain_text("<script>window.__bespinPwned = true</script>")
    assert page.evaluate("window.__bespinPwned") is None
    shots.take(page, "webhook-sources.png", template="webhooks/sources.html", full_page=True)


def test_every_screenshot_the_docs_show_is_taken_here(shots):
    # Last in this module: by now every test above has taken its screenshots.
    missing = sorted(set(screenshots.referenced()) - set(shots.taken))
    assert not missing, f"README.md or docs/*.md show {missing}, which no browser test here takes"
