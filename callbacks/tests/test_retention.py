"""Pruning a finished job takes its callbacks and their attempts with it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks import sender
from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.tests.conftest import end_job
from jobs.execution import retention
from jobs.models import Job
from jobs.services import creation

pytestmark = pytest.mark.django_db


def test_a_pruned_job_leaves_no_callback_behind(signer, receiver):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    old = creation.create_job(kind="random_text", params={}, owner=owner, callback_url=hooks.url())
    recent = creation.create_job(kind="random_text", params={}, owner=owner, callback_url=hooks.url())
    end_job(old)
    end_job(recent)
    sender.deliver_due()
    Job.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=40))
    assert retention.prune_jobs(older_than=timedelta(days=30)) == 1
    assert list(CallbackDelivery.objects.values_list("job_id", flat=True)) == [recent.id]
    assert list(CallbackAttempt.objects.values_list("delivery__job_id", flat=True)) == [recent.id]
