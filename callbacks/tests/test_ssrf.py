"""Callbacks reach public addresses only: every address a host resolves to is vetted when
sending, the connection goes to the vetted address (never to a second DNS answer), and the
URL's own host is what Host, SNI and the certificate check see."""

import ipaddress

import pytest

from bespin.lib import addresses
from bespin.lib.addresses import RefusedUrl
from callbacks import sender, transport
from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.tests.conftest import end_job
from jobs.services import creation


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("fc00::1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("fec0::1", "site-local"), ("feff:ffff::1", "site-local"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
        ("240.0.0.1", "private"), ("100.64.0.1", "not globally routable"), ("192.0.2.1", "private"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::1", "loopback"), ("64:ff9b::a00:1", "private"),
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused_with_their_kind(address, reason):
    assert addresses.refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert addresses.refusal(ipaddress.ip_address(address)) is None


def test_a_name_is_left_to_the_check_when_sending():
    target = addresses.check_url("https://Hooks.Example.com:8443/a?b=1#frag", allow_private=False)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.com", 8443, "/a?b=1")
    assert target.host_header == "hooks.example.com:8443"


def test_a_name_that_resolves_to_any_public_address_uses_only_the_public_ones():
    target = addresses.parse("https://hooks.example.com/")
    assert addresses.vetted_addresses(target, ["10.0.0.1", "93.184.215.14"], allow_private=False) == ["93.184.215.14"]
    with pytest.raises(RefusedUrl, match="resolves to 10.0.0.1, a private address"):
        addresses.vetted_addresses(target, ["10.0.0.1", "127.0.0.1"], allow_private=False)


@pytest.fixture
def resolver(monkeypatch):
    """DNS, the one thing here that leaves the machine: `resolver["hooks.example.com"] = [...]`."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def resolve(host, port):
        asked.append(host)
        return answers[host]

    monkeypatch.setattr(transport, "resolve", resolve)
    answers["asked"] = asked
    return answers


@pytest.mark.django_db
def test_a_name_resolving_to_a_private_address_is_a_failed_attempt_naming_why(signer, receiver, resolver, settings):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    resolver["hooks.example.com"] = ["127.0.0.1"]
    job = creation.create_job(
        kind="sleep", params={"seconds": 0}, owner=owner, callback_url=f"http://hooks.example.com:{hooks.port}/x"
    )
    settings.CALLBACK_ALLOW_PRIVATE = False
    end_job(job)
    sender.deliver_due()
    attempt = CallbackAttempt.objects.get(delivery__job=job)
    assert attempt.status_code is None
    assert attempt.error == (
        "refused: hooks.example.com resolves to 127.0.0.1, a loopback address: callbacks go to public addresses only"
    )
    assert hooks.requests() == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_vetted_address_with_the_original_host(signer, receiver, resolver):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    resolver["hooks.example.com"] = ["127.0.0.1"]
    job = creation.create_job(
        kind="sleep", params={"seconds": 0}, owner=owner, callback_url=f"http://hooks.example.com:{hooks.port}/x"
    )
    end_job(job)
    sender.deliver_due()
    (request,) = hooks.requests()
    assert request["headers"]["host"] == f"hooks.example.com:{hooks.port}"
    assert CallbackAttempt.objects.get(delivery__job=job).status_code == 204
    assert resolver["asked"] == ["hooks.example.com"]


@pytest.mark.django_db
def test_a_stored_url_naming_a_private_address_is_refused_when_sending(signer, receiver, settings):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = creation.create_job(kind="sleep", params={"seconds": 0}, owner=owner, callback_url=hooks.url())
    settings.CALLBACK_ALLOW_PRIVATE = False  # turned off after the job was made
    end_job(job)
    sender.deliver_due()
    attempt = CallbackAttempt.objects.get(delivery__job=job)
    assert attempt.error == (
        "refused: the URL points at 127.0.0.1, a loopback address: callbacks go to public addresses only"
    )
    assert hooks.requests() == [] and CallbackDelivery.objects.get(job=job).state == "pending"


def test_https_presents_the_url_host_for_sni_and_the_certificate(monkeypatch, resolver, tls_receiver):
    resolver["hooks.example.com"] = ["127.0.0.1"]
    monkeypatch.setattr(transport, "tls_context", lambda: tls_receiver.client_context)
    answer = transport.post(
        url=f"https://hooks.example.com:{tls_receiver.port}/x", body=b"{}", headers={}, timeout=5, allow_private=True
    )
    assert (answer.status_code, answer.error) == (204, "")
    assert tls_receiver.server_names == ["hooks.example.com"]
    assert tls_receiver.hosts == [f"hooks.example.com:{tls_receiver.port}"]


def test_https_refuses_a_certificate_for_another_name(monkeypatch, resolver, tls_receiver):
    resolver["other.example.com"] = ["127.0.0.1"]
    monkeypatch.setattr(transport, "tls_context", lambda: tls_receiver.client_context)
    answer = transport.post(
        url=f"https://other.example.com:{tls_receiver.port}/x", body=b"{}", headers={}, timeout=5, allow_private=True
    )
    assert answer.status_code is None and answer.error.startswith("TLS failed") and "Hostname mismatch" in answer.error
