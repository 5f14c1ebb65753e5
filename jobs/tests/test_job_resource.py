"""The job resource, written by hand for speed, is what DRF's own rendering of its declared
fields gives, in every state a job can be in."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from jobs.api.serializers import JobSerializer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("state", ["pending", "running", "completed", "failed", "cancelled"])
def test_the_resource_is_drfs_rendering_of_the_declared_fields(make_job, owner, state):
    job = make_job(owner=owner, state=state, result={"nested": [1, "two"]})
    request = APIRequestFactory().get("/api/jobs", secure=state == "failed")
    serializer = JobSerializer(job, context={"request": request})
    assert serializer.data == serializers.Serializer.to_representation(serializer, job)
    assert list(serializer.data) == list(serializer.fields)
