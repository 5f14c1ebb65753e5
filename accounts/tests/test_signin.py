"""Sign-in limits (accounts.signin): after 10 failed sign-ins for a username from one address,
or 20 from an address whatever the usernames, within 15 minutes, the dashboard and the admin
answer 429 there with a message, without checking the password, until the window ends; the
account's owner signs in from elsewhere meanwhile. Real Redis; without it, sign-in goes on
unlimited."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import signin
from bespin.testing.processes import free_port, wait_for
from bespin.testing.threads import at_once

pytestmark = pytest.mark.django_db

LIMITED = "Too many failed sign-ins for this account or address; try again in 15 minutes."
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    # Each failure checks a password; Django's real hasher takes a good part of a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_MAX_FAILURES = 10
    settings.LOGIN_ADDRESS_MAX_FAILURES = 20
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900


def _sign_in(username, password, *, address="198.51.100.1", path=None, client=None, **headers):
    client = client or Client()
    response = client.post(
        path or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )
    response.signed_in = "_auth_user_id" in client.session
    return response


def _fail(times, *, username="owner", address="198.51.100.1", path=None, **headers):
    for n in range(times):
        varied = {name: value.format(n=n) for name, value in headers.items()}
        response = _sign_in(username.format(n=n), "wrong-password", address=address.format(n=n), path=path, **varied)
        assert (response.status_code, response.signed_in) == (200, False), f"failure {n + 1}"


def _refused(response) -> bool:
    return response.status_code == 429 and LIMITED in response.content.decode() and not response.signed_in


def test_the_eleventh_attempt_is_refused_with_429_even_with_the_right_password(owner):
    _fail(10)
    response = _sign_in("owner", "owner-password-1")
    assert _refused(response)
    assert 890 <= int(response["Retry-After"]) <= 900
    assert 'role="alert"' in response.content.decode()
    assert "didn't match" not in response.content.decode()


def test_failures_from_one_address_limit_every_username_there(owner):
    _fail(20, username="nobody-{n}", address="198.51.100.7")
    assert _refused(_sign_in("owner", "owner-password-1", address="198.51.100.7"))
    assert _sign_in("owner", "owner-password-1", address="198.51.100.8").signed_in


def test_guessing_a_password_from_one_address_never_locks_its_owner_out_elsewhere(owner, stranger, staff):
    _fail(10, username="owner", address="198.51.100.1")
    assert _refused(_sign_in("owner", "owner-password-1", address="198.51.100.1"))
    assert _sign_in("owner", "owner-password-1", address="203.0.113.1").signed_in
    # Nor at the admin: ten guesses for a staff account from one place, the admin signs in.
    _fail(10, username="staff", address="198.51.100.2", path=ADMIN_LOGIN)
    assert _refused(_sign_in("staff", "staff-password-1", address="198.51.100.2", path=ADMIN_LOGIN))
    assert _sign_in("staff", "staff-password-1", address="203.0.113.2", path=ADMIN_LOGIN).status_code == 302


def test_a_username_is_limited_per_address_below_the_addresss_own_limit(owner, settings):
    settings.LOGIN_MAX_FAILURES = 4
    # Four failures for `owner` from one address: that pair is refused...
    _fail(4, username="owner", address="198.51.100.3")
    assert _refused(_sign_in("owner", "owner-password-1", address="198.51.100.3"))
    # ...while from a second address the same username has its own count.
    _fail(3, username="owner", address="198.51.100.4")
    assert _sign_in("owner", "owner-password-1", address="198.51.100.4").signed_in


def test_ipv6_clients_are_counted_by_their_64(owner, settings):
    # One host hands itself a fresh address of its /64 for every guess: it is still one client.
    _fail(20, username="nobody-{n}", address="2001:db8:1:2::{n}")
    assert _refused(_sign_in("owner", "owner-password-1", address="2001:db8:1:2:ffff::1"))
    assert _sign_in("owner", "owner-password-1", address="2001:db8:1:3::1").signed_in


def test_the_admin_is_limited_too_and_shares_the_counts_with_the_dashboard(staff):
    _fail(5, username="staff")
    _fail(5, username="staff", path=ADMIN_LOGIN)
    response = _sign_in("staff", "staff-password-1", path=ADMIN_LOGIN)
    assert _refused(response)
    assert response["Retry-After"]
    assert _refused(_sign_in("staff", "staff-password-1"))


def test_the_admin_signs_staff_in_and_counts_a_non_staff_account_as_a_failure(staff, owner):
    assert _sign_in("staff", "staff-password-1", path=ADMIN_LOGIN).status_code == 302
    _fail(9, username="owner", path=ADMIN_LOGIN)
    refused = _sign_in("owner", "owner-password-1", path=ADMIN_LOGIN)  # the tenth failure: not staff
    assert (refused.status_code, refused.signed_in) == (200, False)
    assert _refused(_sign_in("owner", "owner-password-1"))


def test_the_limit_lifts_when_the_window_ends(owner, redis_conn):
    _fail(10)
    assert _refused(_sign_in("owner", "owner-password-1"))
    # The window's end, brought forward: every sign-in count expires now.
    for key in redis_conn.scan_iter(f"{signin.KEY_PREFIX}*"):
        redis_conn.pexpire(key, 1)
    wait_for(lambda: not list(redis_conn.scan_iter(f"{signin.KEY_PREFIX}*")), 5, message="the counts to expire")
    assert _sign_in("owner", "owner-password-1").signed_in


def test_a_success_clears_the_usernames_failures_but_not_the_addresss(owner, stranger):
    _fail(9, username="owner", address="198.51.100.1")
    assert _sign_in("owner", "owner-password-1", address="198.51.100.1").signed_in
    # The username starts afresh there: nine more failures, and it still signs in.
    _fail(9, username="owner", address="198.51.100.1")
    assert _sign_in("owner", "owner-password-1", address="198.51.100.1").signed_in
    # The address keeps its eighteen: two more failures there and it is refused.
    _fail(2, username="nobody-{n}", address="198.51.100.1")
    assert _refused(_sign_in("stranger", "stranger-password-1", address="198.51.100.1"))


def test_a_forwarded_for_header_counts_only_behind_a_trusted_proxy(owner, settings):
    # No trusted proxy: a client cannot escape its address's count with a made-up header.
    _fail(20, username="nobody-{n}", address="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.{n}")
    assert _refused(_sign_in("owner", "owner-password-1", HTTP_X_FORWARDED_FOR="203.0.113.99"))
    # Behind one proxy: the address it saw is the one counted.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    _fail(20, username="nobody-{n}", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert _refused(_sign_in("owner", "owner-password-1", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7"))
    assert _sign_in("owner", "owner-password-1", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8").signed_in


def test_an_attempt_without_a_password_is_not_counted(owner):
    for _ in range(12):
        assert _sign_in("owner", "").status_code == 200
    assert _sign_in("owner", "owner-password-1").signed_in


def test_without_redis_sign_in_still_works_unlimited(owner, settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    _fail(12)
    assert _sign_in("owner", "owner-password-1").signed_in
    assert "rate_unchecked keys=bespin:signin:" in caplog.text


@pytest.mark.django_db(transaction=True)  # each thread signs in on its own connection
def test_concurrent_guesses_check_no_more_passwords_than_the_limit(owner):
    answers = at_once(lambda: _sign_in("owner", "wrong-password").status_code, 30, timeout=60)
    assert sorted(answers) == [200] * 10 + [429] * 20
