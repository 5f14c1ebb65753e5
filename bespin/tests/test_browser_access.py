"""The API access page in a real browser (Debian's Chromium, driven by Playwright) against
Daphne started as a process: a token made there is copied to the clipboard, and the curl line
the page gives works against that server; rotating it on the page ends the old key. Without
JavaScript, on a phone, the page still makes and shows them, without copy buttons."""

import json
import re
import shlex
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from bespin.testing.browser import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def _call(url: str, authorization: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": authorization, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_a_token_made_on_the_page_is_copied_and_its_curl_line_works(open_page, owner, live):
    page = open_page(owner, "owner-password-1")
    page.get_by_role("navigation").get_by_role("link", name="API access").click()
    expect(page.get_by_role("heading", name="API access", level=1)).to_be_visible()
    page.get_by_role("button", name="Create token").click()

    shown = page.locator("#token-key")
    expect(shown).to_have_text(re.compile(r"^[0-9a-f]{40}$"))
    key = shown.inner_text()
    assert Token.objects.get(user=owner).key == key
    page.get_by_role("button", name="Copy key").click()
    expect(page.locator("[data-copy-status]").first).to_have_text("Copied.")
    assert _clipboard(page) == key
    page.get_by_role("button", name="Copy command").click()
    command = _clipboard(page)
    assert command == f'curl -s {live.base}/api/jobs -H "Authorization: Token {key}"'

    # What curl would send, sent: the command's URL with its header.
    curl, silent, url, option, header = shlex.split(command)
    assert (curl, silent, option) == ("curl", "-s", "-H")
    status, body = _call(url, header.removeprefix("Authorization: "))
    assert status == 200 and body["results"] == []
    assert _call(url, f"Token {'0' * 40}")[0] == 401

    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_text("API token rotated")).to_be_visible()
    rotated = page.locator("#token-key").inner_text()
    assert rotated != key
    assert _call(url, f"Token {key}")[0] == 401
    assert _call(url, f"Token {rotated}")[0] == 200

    # A later visit shows the token's prefix alone.
    page.get_by_role("navigation").get_by_role("link", name="API access").click()
    expect(page.locator("#token-key")).to_have_count(0)
    expect(page.get_by_text(f"{rotated[:4]}…")).to_be_visible()


def test_without_javascript_on_a_phone_keys_are_shown_to_copy_by_hand(open_page, owner):
    page = open_page(owner, "owner-password-1", javascript=False, viewport=PHONE)
    page.goto("/accounts/api-access/")
    page.get_by_role("button", name="Create callback secret").click()
    expect(page.locator("#callback-secret")).to_have_text(re.compile(r"^whsec_"))
    expect(page.get_by_role("button", name="Copy secret")).to_be_hidden()
    expect(page.get_by_role("button", name="Rotate callback secret")).to_be_visible()
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-curl")).to_contain_text(Token.objects.get(user=owner).key)
    expect(page.get_by_role("button", name="Copy command")).to_be_hidden()
    # The long key and command wrap: nothing makes the page scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
