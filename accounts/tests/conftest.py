"""Fixtures of the accounts tests: the dashboard's browser tests' Chromium, live server and
signed-in pages, for the API access page's browser test."""

from bespin.tests.test_browser_dashboard import browser, live, open_page, shots  # noqa: F401
