"""manage.py webhook_source and manage.py prune_webhooks."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bespin.lib import crypto
from webhooks import sources
from webhooks.models import WebhookReceipt, WebhookSecret, WebhookSource, WebhookTrigger
from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db


def _run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("webhook_source", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def test_source_is_created_given_a_secret_and_then_verifies(deliver):
    _run("create", "acme", "--rate", "100")
    output = _run("add-secret", "acme", stdin="cli-secret\n")
    assert "cli-secret" not in output
    assert crypto.fingerprint("cli-secret") in output
    body = body_of({"event": "e"})
    assert deliver("acme", body, bespin_headers("cli-secret", body)).status_code == 201
    assert WebhookSource.objects.get(name="acme").rate_per_minute == 100


def test_generated_secret_is_printed_once_and_works(deliver):
    _run("create", "svix", "--scheme", "standard")
    output = _run("add-secret", "svix", "--generate")
    secret = output.split("give it to the sender): ")[1].split()[0]
    assert secret.startswith("whsec_")
    assert crypto.decrypt(WebhookSecret.objects.get().ciphertext) == secret
    assert secret not in _run("list")


def test_list_shows_fingerprints_and_triggers_but_never_a_secret():
    _run("create", "acme")
    _run("add-secret", "acme", stdin="listed-secret\n")
    _run("trigger", "acme", "order.*", "sleep", "--params", '{"seconds": 1}')
    output = _run("list")
    assert "acme" in output and crypto.fingerprint("listed-secret") in output
    assert "order.* → sleep" in output
    assert "listed-secret" not in output


def test_retire_secret_stops_it(deliver):
    _run("create", "acme")
    _run("add-secret", "acme", stdin="old-secret\n")
    _run("retire-secret", "acme", crypto.fingerprint("old-secret"))
    body = body_of({"event": "e"})
    assert deliver("acme", body, bespin_headers("old-secret", body)).status_code == 401


def test_update_disables_and_delete_keeps_receipts(deliver):
    _run("create", "acme")
    _run("add-secret", "acme", stdin="s\n")
    body = body_of({"event": "e"})
    deliver("acme", body, bespin_headers("s", body))
    _run("update", "acme", "--disable")
    assert deliver("acme", body_of({"n": 2}), bespin_headers("s", body_of({"n": 2}))).status_code == 404
    _run("delete", "acme")
    assert not WebhookSource.objects.exists() and WebhookReceipt.objects.count() == 1


def test_trigger_and_untrigger():
    _run("create", "acme")
    _run("trigger", "acme", "push", "random_text", "--params", '{"length": 5}')
    assert WebhookTrigger.objects.get().params == {"length": 5}
    _run("untrigger", "acme", "push")
    assert not WebhookTrigger.objects.exists()


@pytest.mark.parametrize(
    "args",
    [("update", "nobody", "--disable"), ("create", "Bad Name!"), ("trigger", "acme", "x", "nope"),
     ("retire-secret", "acme", "000000000000")],
)  # fmt: skip
def test_mistakes_are_command_errors(args):
    sources.create_source(name="acme")
    with pytest.raises(CommandError):
        _run(*args)


def test_empty_secret_from_stdin_is_refused():
    _run("create", "acme")
    with pytest.raises(CommandError):
        _run("add-secret", "acme", stdin="\n")


def _receipt_aged(make_receipt, days: float) -> None:
    make_receipt(
        source="acme", event="e", delivery_id=f"d{days}", payload={}, received_at=timezone.now() - timedelta(days=days)
    )


def test_prune_deletes_only_receipts_older_than_the_duration_in_batches(make_receipt):
    for days in (40, 35, 31, 29, 1):
        _receipt_aged(make_receipt, days)
    out = io.StringIO()
    call_command("prune_webhooks", "--older-than", "30d", "--batch-size", "2", stdout=out)
    assert "deleted 3" in out.getvalue()
    assert sorted(WebhookReceipt.objects.values_list("delivery_id", flat=True)) == ["d1", "d29"]


@pytest.mark.parametrize("duration", ["30", "thirty days", "30y", "-1d", ""])
def test_prune_refuses_a_bad_duration(duration):
    with pytest.raises(CommandError):
        call_command("prune_webhooks", "--older-than", duration)


def test_prune_in_hours_and_weeks(make_receipt):
    _receipt_aged(make_receipt, 1 / 24)  # an hour
    _receipt_aged(make_receipt, 20)
    call_command("prune_webhooks", "--older-than", "2w", stdout=io.StringIO())
    assert WebhookReceipt.objects.count() == 1
    call_command("prune_webhooks", "--older-than", "6h", stdout=io.StringIO())
    assert WebhookReceipt.objects.count() == 1
    call_command("prune_webhooks", "--older-than", "30m", stdout=io.StringIO())
    assert WebhookReceipt.objects.count() == 0
