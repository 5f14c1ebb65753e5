"""The browser tests' fixtures (bespin/testing/browser.py has what they are made of): one
live system and one Chromium per test module, and pages of fresh browser contexts."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from bespin.testing.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, WAIT_MS, LiveSystem


@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory):
    system = LiveSystem(tmp_path_factory.mktemp("live"))
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def browser():
    # No skip when Chromium is missing: `make test` installs it, and a missing browser must
    # fail loudly rather than pass quietly.
    # Playwright's sync API keeps an event loop running in this thread between its calls;
    # Django's guard takes that for an async context and refuses the tests' (synchronous)
    # ORM calls. Lift the guard while the browser is open, as Playwright's docs advise.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(browser, live):
    """open_page(user=None, password=..., javascript=True, viewport=DESKTOP): a page of a new
    browser context, signed in through the sign-in form when a user is given."""
    contexts = []
    if live.web.poll() is not None:  # an earlier test stopped it and failed before restarting
        live.start_web()

    def open_(user=None, password="", javascript=True, viewport=DESKTOP):
        context = browser.new_context(base_url=live.base, java_script_enabled=javascript, viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def owner_page(open_page, owner):
    return open_page(owner, "owner-password-1")
